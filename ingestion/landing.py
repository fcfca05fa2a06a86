"""File drops: the landing folder where source systems (or SFTP pulls) leave exports.

A file is claimed by an atomic rename into `landing/.claimed/<source>/`, so two workers
never take the same file; when its batch ends the loader moves it to `archive/` or
`rejected/`. The ingest DAGs call `claim_files` first.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from ingestion.contract import load_contract
from ingestion.loader import check_file_name
from observatorio.core.settings import Settings, get_settings


def inbox(source: str, settings: Settings | None = None) -> Path:
    """Where files for `<source>__<entity>` land: `landing/<source>/<entity>/`."""
    settings = settings or get_settings()
    contract = load_contract(source)
    return settings.landing_dir / contract.source / contract.entity


def claimed_dir(source: str, settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return settings.landing_dir / ".claimed" / source


def claim_files(source: str, settings: Settings | None = None) -> list[str]:
    """Claim every landed file matching the contract's pattern, oldest name first.

    Files claimed by an earlier run that died before finishing are taken again, so nothing
    stays stranded in `.claimed/`.
    """
    settings = settings or get_settings()
    contract = load_contract(source)
    target = claimed_dir(source, settings)
    target.mkdir(parents=True, exist_ok=True)
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
    return [str(p) for p in sorted(target.iterdir()) if p.is_file()]
