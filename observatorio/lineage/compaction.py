"""Bounded lineage on disk: the file transport writes one JSON file per OpenLineage event
(`events-<timestamp>.json`), thousands a run. `compact_events()` folds every event file of a
finished day into one `events-<day>.jsonl.gz` (one event a line, in emission order) and
deletes those older than the kept number of days (`OBSERVATORIO_RETAIN_LINEAGE_DAYS`, 365).
The events of today stay as they are, so a reader of the current run sees every event file.
Called by the retention DAG and `observatorio clean --keep-data`; idempotent.
"""

from __future__ import annotations

import gzip
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from observatorio.core.settings import Settings, SettingsError, get_settings

DEFAULT_RETAIN_DAYS = 365
EVENT_GLOB = "events-*.json"
DAILY_PREFIX = "events-"
DAILY_SUFFIX = ".jsonl.gz"


@dataclass(frozen=True)
class Compaction:
    files_folded: int
    days_written: int
    days_deleted: int
    bytes_before: int
    bytes_after: int


def _retain_days() -> int:
    raw = os.environ.get("OBSERVATORIO_RETAIN_LINEAGE_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETAIN_DAYS
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(
            f"OBSERVATORIO_RETAIN_LINEAGE_DAYS must be a whole number of days >= 1, got {raw!r}"
        )
    return int(raw)


def _day(path: Path) -> date:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def compact_events(settings: Settings | None = None, now: datetime | None = None) -> Compaction:
    settings = settings or get_settings()
    folder = settings.lineage_dir
    if not folder.is_dir():
        return Compaction(0, 0, 0, 0, 0)
    today = (now or datetime.now(UTC)).date()
    before = _size(folder)
    by_day: dict[date, list[Path]] = defaultdict(list)
    for path in folder.glob(EVENT_GLOB):
        day = _day(path)
        if day < today:
            by_day[day].append(path)
    folded = 0
    for day, paths in sorted(by_day.items()):
        target = folder / f"{DAILY_PREFIX}{day.isoformat()}{DAILY_SUFFIX}"
        partial = target.with_name(f".{target.name}.part")
        # Appending to an existing day (events that arrived late) keeps what was folded.
        with gzip.open(partial, "wb") as out:
            if target.exists():
                with gzip.open(target, "rb") as previous:
                    out.write(previous.read())
            for path in sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name)):
                text = path.read_bytes().strip()
                out.write(b" ".join(text.splitlines()) + b"\n")
        partial.chmod(0o600)
        os.replace(partial, target)
        for path in paths:
            path.unlink()
        folded += len(paths)
    cutoff = today - timedelta(days=_retain_days())
    deleted = 0
    for path in folder.glob(f"{DAILY_PREFIX}*{DAILY_SUFFIX}"):
        stamp = path.name.removeprefix(DAILY_PREFIX).removesuffix(DAILY_SUFFIX)
        try:
            day = date.fromisoformat(stamp)
        except ValueError:
            continue
        if day < cutoff:
            path.unlink()
            deleted += 1
    return Compaction(folded, len(by_day), deleted, before, _size(folder))
