"""Cursors of the incremental connectors, kept in `ops.watermarks`.

A SQL or REST pull reads its watermark, extracts everything after it (minus an overlap
window for late commits), lands the extract as a file and advances the watermark only after
the file is safely written: a crash re-reads, and content dedup makes re-reads harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from observatorio.core.settings import Settings
from observatorio.core.warehouse import connect


@dataclass(frozen=True)
class Probe:
    """A connector's cheap answer to "would a pull land anything?", asked before a run.

    `has_new` is what the pull would find new after the watermark; `detail` says what was
    asked and what came back, in one line (no rows, no secrets).
    """

    source: str
    has_new: bool
    detail: str


def read(source: str, settings: Settings | None = None) -> dict[str, Any] | None:
    with connect(settings, role="loader") as conn:
        row = conn.execute(
            "select cursor_value from ops.watermarks where source = %s", (source,)
        ).fetchone()
    return dict(row[0]) if row else None


def advance(source: str, cursor: dict[str, Any], settings: Settings | None = None) -> None:
    with connect(settings, role="loader") as conn:
        conn.execute(
            "insert into ops.watermarks (source, cursor_value) values (%s, %s)"
            " on conflict (source) do update set cursor_value = excluded.cursor_value,"
            " updated_at = now()",
            (source, json.dumps(cursor, default=str)),
        )
