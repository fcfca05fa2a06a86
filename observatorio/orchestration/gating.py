"""The gate over staged batches: the geography's quarantine, then the suites, then each
batch's verdict (rejected, or passed with its warnings).

`ingest` (the DAGs' gate step and `ingest_file`) and `gate_worker` (the same gate in a second
process) both call `gate_batches`; it lives here so neither imports the other.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ingestion.loader import BatchResult, reject_batch
from ingestion.staged import StagedBatch
from observatorio.core.settings import Settings, get_settings

__all__ = ["gate_batches", "gate_staged"]

log = logging.getLogger(__name__)


def gate_batches(
    staged: list[StagedBatch], settings: Settings | None = None
) -> list[BatchResult | list[str]]:
    """Gate staged batches in one GX run: each is rejected (a BatchResult) or passes with
    the warnings to flag it with."""
    from expectations.gate import validate_batches
    from expectations.geography import quarantine_unknown

    settings = settings or get_settings()
    # Rows whose municipality code the profile's geography lacks go to quarantine first,
    # the code in the reason (expectations/geography.py); the suite validates the rest.
    for batch in staged:
        quarantine_unknown(batch, settings)
    # A header-only file is a day with nothing to report: there is nothing to validate, and
    # it is published as an empty batch with a warning, so the silence stays visible.
    with_rows = [b for b in staged if b.rows_staged > 0]
    outcomes = dict(
        zip((b.batch_id for b in with_rows), validate_batches(with_rows, settings), strict=True)
    )
    verdicts: list[BatchResult | list[str]] = []
    for batch in staged:
        outcome = outcomes.get(batch.batch_id)
        if outcome is None:
            verdicts.append([f"{Path(batch.file).name}: header only, no records (empty batch)"])
            continue
        log.info("gate %s: %s", batch.batch_id, outcome.summary())
        if outcome.rejects:
            reason = f"{Path(batch.file).name}: {outcome.summary()}"
            verdicts.append(reject_batch(batch, reason, settings))
        else:
            verdicts.append(outcome.warnings())
    if staged:
        log.info("Great Expectations Data Docs: file://%s", settings.gx_docs_dir / "index.html")
    return verdicts


def gate_staged(staged: StagedBatch, settings: Settings | None = None) -> BatchResult | list[str]:
    """Gate one staged batch (see gate_batches)."""
    return gate_batches([staged], settings)[0]
