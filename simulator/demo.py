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

import hashlib
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

    Every contract that names an `export_path` (a glob under the simulation's `exports/`)
    is a file-drop source; SQL and REST sources are pulled by their connectors instead.
    A source system sends each export once: a file whose exact content the warehouse already
    loaded (`ops.batch_ledger`) is not landed again, so a second `make run` has nothing to
    claim. A warehouse emptied since (tests, a rebuild) gets every file again.
    """
    from ingestion.contract import available_contracts, load_contract
    from ingestion.landing import inbox
    from observatorio.core.warehouse import connect

    copied = 0
    with connect(settings) as conn:
        loaded = {
            (str(row[0]), str(row[1]))
            for row in conn.execute(
                "select source, file_sha256 from ops.batch_ledger"
                " where status = 'loaded' and file_sha256 is not null"
            ).fetchall()
        }
    for name in available_contracts():
        contract = load_contract(name)
        if not contract.export_path:
            continue
        target = inbox(name, settings)
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((simulation / "exports").glob(contract.export_path)):
            if (name, _sha256(path)) in loaded:
                continue
            shutil.copy2(path, target / path.name)
            copied += 1
    return copied


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


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
