"""A parsed batch staged in the warehouse, waiting for the gate.

Plain data shared by the loader (which stages and publishes it), the gate in `expectations`
(which validates it) and the ingestion tasks (which pass it through XCom). It lives apart from
the loader so the gate never imports the loader: ingestion calls the gate, not the reverse.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class StagedBatch:
    """A parsed batch waiting in `ingest` for the gate; plain data so it can go through XCom."""

    batch_id: str
    source: str
    file: str
    file_sha256: str
    file_bytes: int
    staging_table: str
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    warnings: list[str]

    @property
    def quarantine_table(self) -> str:
        return f"{self.staging_table}__q"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagedBatch:
        return cls(**data)
