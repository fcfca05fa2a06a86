"""The main job behind `make run`: one real pass through the whole flow, driven by Airflow.

Starts the warehouse, has the simulator produce the demo country's exports (once per seed),
lands them as the source systems would, migrates Airflow's metadata database, runs the
DAGs for real with `dag.test()` (ingest → build_warehouse → deliver_extracts) and
summarises what each layer holds. Running it again loads nothing twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect, ensure_warehouse
from observatorio.orchestration import airflow_env

# Every source system first, then the warehouse, then deliveries: the order the Assets
# would trigger them in, run one after the other.
PIPELINE = (
    "ingest_police_reports",
    "ingest_police_detentions",
    "ingest_justice",
    "ingest_health",
    "ingest_survey",
    "ingest_consultations",
    "build_warehouse",
    "deliver_extracts",
)
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


class RunError(RuntimeError):
    """A DAG run of the main job failed; the message names the DAG and its failed tasks."""


@contextmanager
def output_to(log_path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Airflow, dbt and GX logs) to a file.

    File descriptors are redirected, not just sys.stdout, because task logs are written by
    handlers that captured the original streams.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@dataclass
class RunSummary:
    seconds: float = 0.0
    dag_runs: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    extracts: list[str] = field(default_factory=list)


def simulate(settings: Settings, demo: Demo) -> Path:
    """Generate the demo country once; the same seed gives byte-identical exports."""
    from simulator import generate

    folder = demo.folder(settings)
    if not (folder / "truth" / "summary.json").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        generate(folder, seed=demo.seed, scale=demo.scale, start=demo.start, days=demo.days)
    return folder


def land_exports(settings: Settings, simulation: Path) -> int:
    """Drop the simulated file exports into the landing folder, as the source systems do.

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
        for path in sorted((simulation / "exports").glob(contract.export_path)):
            shutil.copy2(path, target / path.name)
            copied += 1
    return copied


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


def migrate_airflow(settings: Settings) -> None:
    """`airflow db migrate`, skipped when this OBSERVATORIO_HOME is already on this version."""
    import importlib.metadata

    version = importlib.metadata.version("apache-airflow")
    marker = settings.airflow_home / f".migrated-{version}-{settings.airflow_db}"
    if marker.exists() and settings.is_embedded:
        return
    env = airflow_env.airflow_environment(settings)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        env={**_base_env(), **env},
        stdout=subprocess.DEVNULL,
    )
    marker.touch()


def _base_env() -> dict[str, str]:
    return dict(os.environ)


def run_dag(dag_id: str, settings: Settings) -> str:
    """Run one DAG for real, in this process, with `dag.test()`; return its final state.

    The dbt manifest is made first if the project changed (`make manifest` has usually
    done it): DAG files only read it.
    """
    from airflow.dag_processing.dagbag import DagBag

    from observatorio.orchestration import compat
    from observatorio.transform import manifest

    manifest.refresh(settings)
    compat.let_dag_test_finish_runs_with_deadlines()
    bag = DagBag(dag_folder=str(settings.dags_dir / f"{dag_id}.py"))
    if bag.import_errors:
        raise RunError(f"{dag_id}: import errors {bag.import_errors}")
    dag_run = bag.dags[dag_id].test()
    state = str(dag_run.state)
    if state != "success":
        failed = [ti.task_id for ti in dag_run.get_task_instances() if str(ti.state) == "failed"]
        raise RunError(f"DAG {dag_id} ended {state}; failed tasks: {', '.join(failed)}")
    return state


def _relations(conn: Any, schema: str) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = %s"
        " order by table_name",
        (schema,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def collect_summary(settings: Settings, since: datetime, summary: RunSummary) -> RunSummary:
    """Rows per table of every layer, the batches of this run and its deliveries."""
    from psycopg import sql

    with connect(settings) as conn:
        for schema in ("raw", "staging", "intermediate", "marts"):
            for table in _relations(conn, schema):
                query = sql.SQL("select count(*) from {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
                row = conn.execute(query).fetchone()
                summary.rows[f"{schema}.{table}"] = int(row[0]) if row else 0
        for outcome, count in conn.execute(
            "select outcome, count(*) from ops.file_receipts where received_at >= %s"
            " group by outcome",
            (since,),
        ).fetchall():
            summary.batches[str(outcome)] = int(count)
        summary.extracts = [
            str(r[0])
            for r in conn.execute(
                "select location from ops.deliveries where success and delivered_at >= %s"
                " order by delivered_at",
                (since,),
            ).fetchall()
        ]
    return summary


def run_main_job(settings: Settings | None = None, demo: Demo | None = None) -> RunSummary:
    settings = settings or get_settings()
    started = time.monotonic()
    ensure_warehouse(settings)
    with connect(settings) as conn:
        row = conn.execute("select now()").fetchone()
        since: Any = row[0] if row else None
    simulation = simulate(settings, demo or Demo())
    land_exports(settings, simulation)
    migrate_airflow(settings)
    airflow_env.apply(settings)
    summary = RunSummary()
    with demo_source_systems(settings, simulation):
        for dag_id in PIPELINE:
            summary.dag_runs[dag_id] = run_dag(dag_id, settings)
    collect_summary(settings, since, summary)
    summary.seconds = time.monotonic() - started
    return summary
