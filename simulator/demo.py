"""The demo country for the main job: what `make run` does before the DAGs run.

`prepare(settings)` is the preparation hook the demo profile names
(`profiles/demo/profile.yaml`, `prepare: simulator.demo:prepare`): it has the simulator
produce the demo country's exports (once per seed), lands them as the source systems would,
and serves the simulated justice database and health API while the DAGs run. The tests and
the benchmarks call the parts (`simulate`, `land_exports`, `demo_source_systems`) directly.

Depends on the product (settings, warehouse, contracts, landing); the product never imports
it: `observatorio run` reaches it through the profile only.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from observatorio.core.settings import Settings

JUSTICE_SOURCE_DATABASE = "justice_source"


@dataclass(frozen=True)
class Demo:
    """The simulated country `make run` ingests: small scale, one year, a fixed seed."""

    seed: int = 2024
    scale: str = "small"
    start: date = date(2024, 1, 1)
    days: int = 365

    def folder(self, settings: Settings) -> Path:
        return settings.home / "simulator" / f"{self.scale}-seed{self.seed}-{self.days}d"


def simulate(settings: Settings, demo: Demo) -> Path:
    """Generate the demo country once; the same seed gives byte-identical exports."""
    folder = demo.folder(settings)
    if not (folder / "truth" / "summary.json").is_file():
        # Imported only to generate: the generator's imports cost seconds on every run.
        from simulator import generate

        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, seed=demo.seed, scale=demo.scale, start=demo.start, days=demo.days)
    return folder


def land_exports(settings: Settings, simulation: Path) -> int:
    """Drop the simulated file exports into the landing folder, as the source systems do.

    A source system sends each export once: a file already in `archive/<source>/` with the
    same bytes (an earlier run ingested or skipped it) is not landed again, so a second
    `make run` has nothing to claim. A file with new content under an old name still lands.

    Every contract that names an `export_path` (a glob under the simulation's `exports/`)
    is a file-drop source; SQL and REST sources are pulled by their connectors instead.
    """
    from ingestion.contract import available_contracts, load_contract
    from ingestion.landing import inbox

    copied = 0
    for name in available_contracts():
        contract = load_contract(name)
        if not contract.export_path:
            continue
        target = inbox(name, settings)
        target.mkdir(parents=True, exist_ok=True)
        archived = settings.archive_dir / name
        for path in sorted((simulation / "exports").glob(contract.export_path)):
            if _same_file(path, archived / path.name):
                continue
            shutil.copy2(path, target / path.name)
            copied += 1
    return copied


def _same_file(path: Path, other: Path) -> bool:
    """Whether `other` exists with the same bytes as `path` (an export already ingested)."""
    if not other.is_file() or other.stat().st_size != path.stat().st_size:
        return False
    return filecmp.cmp(path, other, shallow=False)


@contextmanager
def demo_source_systems(settings: Settings, simulation: Path) -> Iterator[dict[str, str]]:
    """Stand up the simulated justice database and health API for the connectors to pull from.

    The justice system becomes a database of its own on the warehouse server, brought to its
    final state; the health API is served on 127.0.0.1 with a few 429/503 answers, so the
    connector's retries run for real. The connectors find them through the same variables a
    deployment would set.
    """
    from observatorio.core.warehouse import create_database, sqlalchemy_url, warehouse_url
    from simulator.health_api import DEFAULT_TOKEN, serve
    from simulator.justice import load_database

    justice_url = sqlalchemy_url(warehouse_url(settings), database=JUSTICE_SOURCE_DATABASE)
    create_database(settings, JUSTICE_SOURCE_DATABASE)
    load_database(simulation, justice_url)
    server = serve(simulation, token=DEFAULT_TOKEN, failure_rate=0.02, retry_after=0)
    env = {
        "OBSERVATORIO_JUSTICE_URL": justice_url,
        "OBSERVATORIO_HEALTH_API_URL": server.url,
        # The demo's API is plain HTTP on 127.0.0.1, which must be allowed explicitly.
        "OBSERVATORIO_HEALTH_API_ALLOW_INSECURE": "1",
        "OBSERVATORIO_HEALTH_API_TOKEN": DEFAULT_TOKEN,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def prepare(settings: Settings, demo: Demo | None = None) -> Iterator[dict[str, str]]:
    """The demo profile's hook: simulate, land the exports, serve the source systems."""
    simulation = simulate(settings, demo or Demo())
    land_exports(settings, simulation)
    with demo_source_systems(settings, simulation) as env:
        yield env
