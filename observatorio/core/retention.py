"""Retention: raw files with names and IDs are not kept forever.

Source files stay on disk after their batch ends (`archive/`, `rejected/`), half-finished
claims and downloads may be left in `landing/`, and every delivery leaves a copy in
`outbox/`. `apply_retention()` deletes what is older than each area's age (settings
`OBSERVATORIO_RETAIN_<AREA>_DAYS`), records every deletion in `ops.retention_log` (path, size,
age; never content), and tightens the state folders to 0700 and their files to 0600. The
`retention` DAG calls it daily; it is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from observatorio.core.settings import Settings, SettingsError, get_settings
from observatorio.core.warehouse import connect

log = logging.getLogger(__name__)

# Days a file is kept, per area, unless OBSERVATORIO_RETAIN_<AREA>_DAYS says otherwise.
DEFAULT_DAYS = {"archive": 90, "rejected": 90, "landing": 7, "outbox": 30}
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass
class RetentionReport:
    """What one pass deleted (counts and bytes per area) and how many modes it tightened."""

    deleted: dict[str, int] = field(default_factory=dict)
    bytes_freed: dict[str, int] = field(default_factory=dict)
    tightened: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "deleted": self.deleted,
            "bytes_freed": self.bytes_freed,
            "tightened": self.tightened,
        }


def retention_days(area: str) -> int:
    """The age in days after which `area`'s files are deleted."""
    name = f"OBSERVATORIO_RETAIN_{area.upper()}_DAYS"
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULT_DAYS[area]
    try:
        days = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number of days, got {raw!r}") from None
    if days < 1:
        raise SettingsError(f"{name} must be at least 1 day, got {days}")
    return days


def area_roots(settings: Settings) -> dict[str, Path]:
    return {
        "archive": settings.archive_dir,
        "rejected": settings.rejected_dir,
        "landing": settings.landing_dir,
        "outbox": settings.outbox_dir,
    }


def _files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                yield path


def _landing_leftover(path: Path, landing: Path) -> bool:
    # Only leftovers: claims a run never finished, partial downloads and pulls, markers.
    # A file still waiting in an inbox is data nobody has read yet: it is never deleted here.
    relative = path.relative_to(landing).parts
    return relative[0] in (".claimed", ".sftp") or path.name.startswith(".")


def _remove_empty_dirs(root: Path) -> None:
    for folder, dirs, names in os.walk(root, topdown=False):
        if folder != str(root) and not dirs and not names:
            with contextlib.suppress(OSError):  # something arrived meanwhile
                os.rmdir(folder)


def tighten(root: Path) -> int:
    """Folders 0700, files 0600 under `root` (and `root` itself); returns how many changed."""
    changed = 0
    if not root.exists():
        return 0
    for folder, _dirs, names in os.walk(root):
        entries = [(Path(folder), PRIVATE_DIR)] + [(Path(folder) / n, PRIVATE_FILE) for n in names]
        for path, mode in entries:
            if path.is_symlink():
                continue
            current = stat.S_IMODE(path.stat().st_mode)
            if current & ~mode:
                path.chmod(current & mode)
                changed += 1
    return changed


def apply_retention(
    settings: Settings | None = None, now: datetime | None = None
) -> RetentionReport:
    """Delete every file older than its area's age, record it, and tighten permissions."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    report = RetentionReport()
    rows: list[tuple[str, str, int, datetime, int]] = []
    for area, root in area_roots(settings).items():
        days = retention_days(area)
        cutoff = (now - timedelta(days=days)).timestamp()
        for path in _files(root):
            if area == "landing" and not _landing_leftover(path, root):
                continue
            info = path.stat()
            if info.st_mtime >= cutoff:
                continue
            path.unlink(missing_ok=True)
            modified = datetime.fromtimestamp(info.st_mtime, UTC)
            rows.append((area, str(path.relative_to(settings.home)), info.st_size, modified, days))
            report.deleted[area] = report.deleted.get(area, 0) + 1
            report.bytes_freed[area] = report.bytes_freed.get(area, 0) + info.st_size
        _remove_empty_dirs(root)
        report.tightened += tighten(root)
    if rows:
        with connect(settings, role="loader") as conn:
            with conn.cursor() as cursor:
                cursor.executemany(
                    "insert into ops.retention_log"
                    " (area, file_path, file_bytes, modified_at, retained_days)"
                    " values (%s, %s, %s, %s, %s)",
                    rows,
                )
            conn.commit()
    log.info("retention: deleted %s, freed %s bytes", report.deleted, report.bytes_freed)
    return report
