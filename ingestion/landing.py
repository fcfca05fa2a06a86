"""File drops: the landing folder where source systems (or SFTP pulls) leave exports.

A run claims a file by an atomic rename into its own folder,
`landing/.claimed/<source>/<run>/`, so two workers never take the same file and a run only
ever stages what it claimed itself: a concurrent run of the same source sees nothing of
another's claims (it would otherwise re-stage them and drop their staging tables). When its
batch ends the loader moves the file to `archive/` or `rejected/`, and `release_claim`
removes the emptied run folder. A retried task of the same run (same run id) takes its own
claims again; claims of a run that died are taken over by the next run once their folder
has been untouched for `ABANDONED_AFTER` (longer than any task's `execution_timeout` and
retries), so nothing stays stranded. The ingest DAGs call `claim_files` first.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

from ingestion.contract import load_contract
from observatorio.core.settings import Settings, get_settings

# A run's claims are abandoned when nothing touched their folder for this long: well past
# the ingest tasks' two-hour execution_timeout times their retries.
ABANDONED_AFTER = timedelta(hours=12)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def inbox(source: str, settings: Settings | None = None) -> Path:
    """Where files for `<source>__<entity>` land: `landing/<source>/<entity>/`."""
    settings = settings or get_settings()
    contract = load_contract(source)
    return settings.landing_dir / contract.source / contract.entity


def new_run_id() -> str:
    """A claim scope for a run outside Airflow (the CLI, tests): unique per call."""
    return f"manual-{uuid.uuid4().hex}"


def claimed_dir(source: str, settings: Settings | None = None, run_id: str | None = None) -> Path:
    """`landing/.claimed/<source>/`, or one run's folder inside it."""
    settings = settings or get_settings()
    root = settings.landing_dir / ".claimed" / source
    if run_id is None:
        return root
    scope = _UNSAFE.sub("_", run_id).strip("._") or "run"
    return root / scope


def claim_files(
    source: str, settings: Settings | None = None, run_id: str | None = None
) -> list[str]:
    """Claim every landed file matching the contract's pattern for this run, oldest name first.

    Returns only this run's claims: what it claimed now, what it claimed in an earlier try
    (an Airflow retry keeps the run id) and what it took over from abandoned runs.
    """
    # The loader (pyarrow, the typed readers) only for a claim: asking where a source's
    # inbox is must stay cheap, the main job asks it for every source of a no-op run.
    from ingestion.loader import check_file_name

    settings = settings or get_settings()
    contract = load_contract(source)
    target = claimed_dir(source, settings, run_id or new_run_id())
    target.mkdir(parents=True, exist_ok=True)
    _take_over_abandoned(claimed_dir(source, settings), target)
    folder = inbox(source, settings)
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(os.listdir(folder)):
        if name.startswith(".") or not fnmatch.fnmatch(name, contract.file_pattern):
            continue
        check_file_name(name)
        try:
            os.rename(folder / name, target / name)
        except FileNotFoundError:
            continue  # another worker claimed it first
    claimed = [str(p) for p in sorted(target.iterdir()) if p.is_file()]
    if not claimed:
        release_claim(target)
    return claimed


def release_claim(folder: Path) -> None:
    """Remove a run's claim folder once its files have all moved on (no-op otherwise)."""
    if folder.parent.parent.name == ".claimed":
        with contextlib.suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def _take_over_abandoned(root: Path, target: Path) -> None:
    """Move the files of runs that died (folders untouched for ABANDONED_AFTER) into ours."""
    cutoff = time.time() - ABANDONED_AFTER.total_seconds()
    for other in sorted(root.iterdir()):
        if other.is_file():  # claimed before claims were scoped to runs
            with contextlib.suppress(FileNotFoundError):
                os.rename(other, target / other.name)
            continue
        if other == target or not other.is_dir():
            continue
        try:
            if other.stat().st_mtime > cutoff:
                continue  # a live run's claims: never touched
            for path in sorted(other.iterdir()):
                if path.is_file():
                    with contextlib.suppress(FileNotFoundError):  # another run took it first
                        os.rename(path, target / path.name)
        except FileNotFoundError:
            continue
        release_claim(other)
