"""The simulated country loaded into an emptied test warehouse, as the main job's ingest DAGs
would: simulate, land the file exports, pull the SQL (justice) and REST (health) sources
through their connectors, then claim, stage, gate, publish and report every contract."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingestion.connectors import rest, sql
from ingestion.contract import available_contracts
from observatorio.core.settings import Settings
from observatorio.orchestration import ingest as tasks
from simulator.demo import Demo, demo_source_systems, land_exports, simulate


def ingest(name: str) -> Any:
    """One contract through the ingest tasks, in the DAGs' order."""
    return tasks.report(tasks.publish(tasks.gate(tasks.stage(name, tasks.claim(name)))))


def load_demo(
    settings: Settings,
    warehouse_url: str,
    demo: Demo,
    ingest_one: Callable[[str], Any] = ingest,
) -> Path:
    """Empty the warehouse, simulate `demo` and ingest all of it; returns the simulation."""
    import psycopg

    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    _empty_justice_source(settings)
    # Other tests leave files in the shared landing folder (some spoiled on purpose).
    shutil.rmtree(settings.landing_dir, ignore_errors=True)
    simulation = simulate(settings, demo)
    land_exports(settings, simulation)
    with demo_source_systems(settings, simulation):
        for name in available_contracts():
            if name.startswith("justice__"):
                sql.extract(name)
            elif name.startswith("health__"):
                rest.pull(name)
    for name in available_contracts():
        ingest_one(name)
    return simulation


def _empty_justice_source(settings: Settings) -> None:
    """A new simulated country has a new justice system: the source database is loaded by
    upsert (as incremental extraction sees a live system), so another module's cases and
    judgements would otherwise stay in it and be pulled with this country's."""
    import sqlalchemy as sa

    from observatorio.core.warehouse import create_database, sqlalchemy_url
    from observatorio.core.warehouse import warehouse_url as owner_url
    from simulator.demo import JUSTICE_SOURCE_DATABASE

    create_database(settings, JUSTICE_SOURCE_DATABASE)
    engine = sa.create_engine(sqlalchemy_url(owner_url(settings), database=JUSTICE_SOURCE_DATABASE))
    try:
        tables = sa.MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
    finally:
        engine.dispose()
