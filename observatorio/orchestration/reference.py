"""A country profile's reference tables and fixture files, loaded the way every source is.

`load_reference(profile)` ingests each file the profile gives for its geography,
population, aliases and code tables through its contract (`ingestion.loader` via
`orchestration.ingest.ingest_file`: typing, quarantine, the Great Expectations gate, the
ledger), into `raw.<contract>`; the dbt reference models read them from there
(`dbt_project/models/intermediate/reference/`). A file already loaded is skipped by its
checksum, so calling it before every run costs a hash per file. A rejected reference file
stops the run: every indicator depends on the geography and the population.

`prepare_fixture_profile` is the preparation hook of a fixture profile (`prepare:` in its
`profile.yaml`): `land_profile_files` copies the files kept under
`<profile>/landing/<contract>/` into the landing folder of each active source, as the
ministry's file drops would, for the DAGs to ingest.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from ingestion.contract import available_contracts, catalog_contracts
from ingestion.landing import inbox
from ingestion.loader import BatchResult
from observatorio.core.profile import Profile, load_profile
from observatorio.core.settings import Settings, get_settings
from observatorio.orchestration.ingest import ingest_file

__all__ = [
    "ReferenceRejected",
    "land_profile_files",
    "load_reference",
    "prepare_fixture_profile",
    "validated_profile",
]

log = logging.getLogger(__name__)


class ReferenceRejected(RuntimeError):
    """A reference file was rejected; the message names the file and the reason."""


def validated_profile(settings: Settings | None = None) -> Profile:
    """The selected profile, its contract names checked against every known contract."""
    return load_profile(
        settings=settings, known_contracts=available_contracts() + catalog_contracts()
    )


def load_reference(profile: Profile, settings: Settings | None = None) -> list[BatchResult]:
    """Ingest every reference file of the profile through its contract, in order."""
    settings = settings or get_settings()
    results = []
    for item in profile.reference_files():
        result = ingest_file(item.contract, item.path, settings)
        log.info("reference %s: %s %s", item.table, item.path.name, result.status)
        if result.status == "rejected":
            raise ReferenceRejected(
                f"{profile.path}: {item.table}: {item.path.name} rejected: {result.message}"
            )
        results.append(result)
    return results


def land_profile_files(profile: Profile, settings: Settings) -> int:
    """Copy `<profile>/landing/<contract>/*` into each active source's landing folder."""
    copied = 0
    for contract in profile.active_contracts():
        folder = profile.folder / "landing" / contract
        if not folder.is_dir():
            continue
        target = inbox(contract, settings)
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            shutil.copy2(path, target / path.name)
            copied += 1
    return copied


@contextmanager
def prepare_fixture_profile(settings: Settings) -> Iterator[dict[str, int]]:
    """The hook a fixture profile names: its files landed for the DAGs to ingest (its
    reference tables are loaded by the main job itself, for every profile)."""
    yield {"files_landed": land_profile_files(validated_profile(settings), settings)}
