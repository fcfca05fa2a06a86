"""The main job behind `make run`: one real pass through the whole flow, driven by Airflow.

Starts the warehouse, migrates Airflow's metadata database, enters the country profile's
preparation hook (`observatorio.core.profile`; the demo profile's lands the simulated
country's exports and serves its source systems), runs the DAGs for real with `dag.test()`
(ingest → build_warehouse → deliver_extracts) and summarises what each layer holds. Without a
hook it runs on whatever is already landed or connected. Running it again loads nothing twice,
and a DAG with nothing to do is not started: an ingest DAG whose sources have nothing new
(`nothing_to_ingest`, asked before Airflow is imported), the build when no batch was
published since the last one (`plan_build`), the deliveries when none is due.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from observatorio.core.profile import Profile
from observatorio.core.roles import Role
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect, ensure_warehouse
from observatorio.orchestration import airflow_env
from observatorio.orchestration.reference import load_reference, validated_profile

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
# Delivers what the build published; its run gets the latest month of data as logical date.
DELIVERY_DAG = "deliver_extracts"
# Runs only when a batch was published, or the dbt project or the country profile changed,
# since its last success.
BUILD_DAG = "build_warehouse"
# The tasks a connector DAG adds to its `ingest_landed_files` groups: the pull, and the note
# of its query on the batch's ledger row.
PULL_TASKS = ("extract_", "record_source_query_")


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
    # Per layer, the views whose rows were not counted (a run that changed nothing).
    views_not_counted: dict[str, int] = field(default_factory=dict)
    # Wall seconds of each step of the run (start-up, the profile's hook, each DAG, summary).
    steps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Add the wall time of the block to `steps[step]`, and log it."""
        begun = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - begun
            self.steps[step] = self.steps.get(step, 0.0) + took
            print(f"observatorio run: {step} took {took:.1f} s", flush=True)


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


def latest_data_moment(settings: Settings) -> datetime | None:
    """The first instant after the latest month the indicator mart holds, or None if empty.

    The main job delivers what the warehouse holds: its `deliver_extracts` run gets this as its
    logical date, so it delivers that latest month (a deployment's runs get theirs from the
    schedule instead). A demo of 2024 thus delivers 2024-12, whatever today's date is.
    """
    with connect(settings) as conn:
        row = conn.execute(
            "select to_regclass('marts.mart_indicators_monthly') is not null"
        ).fetchone()
        if not row or not row[0]:
            return None
        latest = conn.execute("select max(month) from marts.mart_indicators_monthly").fetchone()
    if not latest or latest[0] is None:
        return None
    year, month = (int(part) for part in str(latest[0])[:7].split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def dag_file(dag_id: str, settings: Settings) -> Path:
    """The file that defines `dag_id`: its own (`dag_id == file name`), else the factory of
    the DAGs generated from contracts."""
    from observatorio.transform.contract_dags import FACTORY_FILE

    own = settings.dags_dir / f"{dag_id}.py"
    return own if own.is_file() else settings.dags_dir / FACTORY_FILE


def ingest_dags(profile: Profile, settings: Settings) -> dict[str, list[str]]:
    """The ingest DAGs of the main job for a country profile, each with the contracts it
    ingests, in PIPELINE's order: the hand-written ingest DAGs that ingest one of the
    profile's active sources (`contract_dags.names_contract`), then the generated DAG of
    every active source no hand-written DAG ingests. The demo profile gets PIPELINE's."""
    from ingestion.contract import CONTRACTS_DIR, available_contracts
    from observatorio.transform.contract_dags import contracts_without_dag, names_contract

    active = profile.active_contracts()
    candidates = sorted({*available_contracts(), *active})
    dags: dict[str, list[str]] = {}
    for dag_id in PIPELINE[:-2]:
        text = (settings.dags_dir / f"{dag_id}.py").read_text(encoding="utf-8")
        contracts = [name for name in candidates if names_contract(text, name)]
        if set(contracts) & set(active):
            dags[dag_id] = contracts
    for spec in contracts_without_dag(CONTRACTS_DIR, settings.dags_dir, profile):
        if spec.name in active:
            dags[spec.dag_id] = [spec.name]
    return dags


def run_dag(dag_id: str, settings: Settings, logical_date: datetime | None = None) -> str:
    """Run one DAG for real, in this process, with `dag.test()`; return its final state.

    The dbt manifest is made first if the project changed (`make manifest` has usually
    done it): DAG files only read it.
    """
    from airflow.dag_processing.dagbag import DagBag

    from observatorio.orchestration import compat
    from observatorio.transform import manifest

    manifest.refresh(settings)
    compat.let_dag_test_finish_runs_with_deadlines()
    bag = DagBag(dag_folder=str(dag_file(dag_id, settings)))
    if bag.import_errors:
        raise RunError(f"{dag_id}: import errors {bag.import_errors}")
    dag = bag.dags[dag_id]
    dag_run = (
        dag.test(logical_date=logical_date, run_after=logical_date) if logical_date else dag.test()
    )
    state = str(dag_run.state)
    if state != "success":
        failed = [ti.task_id for ti in dag_run.get_task_instances() if str(ti.state) == "failed"]
        raise RunError(f"DAG {dag_id} ended {state}; failed tasks: {', '.join(failed)}")
    return state


def nothing_to_ingest(contracts: list[str], settings: Settings) -> str | None:
    """Why an ingest DAG of these contracts would do nothing, or None when it may have work.

    Asked before Airflow is even imported, so a run with nothing new starts no DAG run (the
    scheduler's runs of such a DAG claim nothing, load nothing and emit no batch: the main
    job just does not start it). Nothing to do is: no file waits in any of the contracts'
    inboxes or claimed folders, none has an SFTP drop, and the connector of every contract
    a connector pulls answers that nothing changed since its watermark
    (`ingestion.connectors.probe`: one small query or request per source). A connector that
    cannot answer (no connection in the environment, the source unreachable) leaves the
    decision to the DAG's run, which reports it. This holds for a DAG made of
    `ingest_landed_files` groups and its connectors' pull tasks (`PULL_TASKS`) only: every
    ingest DAG is, which `tests/dags/test_dagbag.py` checks on the parsed DAGs.
    """
    from ingestion.connectors.probe import changed_since_watermark, is_pulled
    from ingestion.connectors.sftp import has_drop
    from ingestion.contract import load_contract
    from ingestion.landing import claimed_dir, inbox

    for source in contracts:
        pattern = load_contract(source).file_pattern
        for folder in (inbox(source, settings), claimed_dir(source, settings)):
            if folder.is_dir() and any(
                path.is_file() and fnmatch.fnmatch(path.name, pattern) for path in folder.iterdir()
            ):
                return None
        if has_drop(source):
            return None
    pulled = [source for source in contracts if is_pulled(source)]
    for source in pulled:
        try:
            probe = changed_since_watermark(source, settings)
        except Exception as exc:  # the DAG's own pull reports it, with its retries
            reason = " ".join(str(exc).split())[:300]
            print(f"{source}: could not ask the source ({reason}); its DAG runs")
            return None
        print(f"{probe.source}: {probe.detail}")
        if probe.has_new:
            return None
    if pulled:
        return f"no file landed; its {len(pulled)} source(s) have nothing new since the watermark"
    return "no file landed"


def deliveries_due(settings: Settings, moment: datetime) -> list[str]:
    """The extract specs (and the bulletin) a `deliver_extracts` run at `moment` would deliver.

    The DAG's own tasks decide the same way (`observatorio.delivery.schedule.is_due`), so a
    period already delivered in its schedule's window is a no-op either way.
    """
    from observatorio.delivery.bulletin.publish import SPEC_NAME as BULLETIN
    from observatorio.delivery.schedule import ScheduledRun, is_due
    from observatorio.delivery.specs import available_specs, load_spec

    run = ScheduledRun.from_airflow(run_id="", data_interval_end=moment, run_after=moment)
    schedules = {name: load_spec(name).schedule for name in available_specs()}
    schedules[BULLETIN] = "@monthly"
    with connect(settings, role=Role.DELIVERY) as conn:
        return [name for name, schedule in schedules.items() if is_due(conn, name, schedule, run)]


def _relations(conn: Any, schema: str) -> list[tuple[str, bool]]:
    """The relations of a schema, each with whether it is a view."""
    rows = conn.execute(
        "select table_name, table_type = 'VIEW' from information_schema.tables"
        " where table_schema = %s order by table_name",
        (schema,),
    ).fetchall()
    return [(str(r[0]), bool(r[1])) for r in rows]


def collect_summary(
    settings: Settings, since: datetime, summary: RunSummary, *, count_views: bool = True
) -> RunSummary:
    """Rows per relation of every layer, the batches of this run and its deliveries.

    A view's count runs its query (the intermediate views take seconds): without
    `count_views` (a run that started no DAG, so changed nothing) views are only numbered.
    """
    from psycopg import sql

    with connect(settings) as conn:
        for schema in ("raw", "staging", "intermediate", "marts"):
            for table, is_view in _relations(conn, schema):
                if is_view and not count_views:
                    summary.views_not_counted[schema] = summary.views_not_counted.get(schema, 0) + 1
                    continue
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


def _idle(dag_id: str, settings: Settings, moment: datetime | None) -> str | None:
    """Why the build or the delivery DAG has nothing to do, without starting it, or None."""
    if dag_id == BUILD_DAG:
        from observatorio.transform.builds import plan_build

        plan = plan_build(settings)
        return None if plan.is_needed else plan.reason
    if dag_id == DELIVERY_DAG and moment is not None and not deliveries_due(settings, moment):
        return "every extract and the bulletin already delivered for this period"
    return None


def run_main_job(settings: Settings | None = None, profile: Profile | None = None) -> RunSummary:
    """Run every DAG of PIPELINE inside the profile's preparation hook; summarise the run."""
    settings = settings or get_settings()
    profile = profile or validated_profile(settings)
    prepare = profile.preparation()
    started = time.monotonic()
    summary = RunSummary()
    with summary.timed("start-up"):
        ensure_warehouse(settings)
        with connect(settings) as conn:
            row = conn.execute("select now()").fetchone()
            since: Any = row[0] if row else None
        migrate_airflow(settings)
        airflow_env.apply(settings)
        # The profile's geography, population and code tables, through their contracts (none
        # for the demo, whose reference tables are dbt seeds); a file loaded before is skipped.
        load_reference(profile, settings)
    with ExitStack() as hook:
        with summary.timed("profile hook"):
            hook.enter_context(prepare(settings))
        ingest = ingest_dags(profile, settings)
        for dag_id in [*ingest, BUILD_DAG, DELIVERY_DAG]:
            with summary.timed(dag_id):
                moment = latest_data_moment(settings) if dag_id == DELIVERY_DAG else None
                if dag_id in ingest:
                    idle = nothing_to_ingest(ingest[dag_id], settings)
                else:
                    idle = _idle(dag_id, settings, moment)
                if idle is not None:
                    summary.dag_runs[dag_id] = f"skipped ({idle})"
                else:
                    summary.dag_runs[dag_id] = run_dag(dag_id, settings, moment)
    with summary.timed("summary"):
        ran = any(not state.startswith("skipped") for state in summary.dag_runs.values())
        collect_summary(settings, since, summary, count_views=ran)
    summary.seconds = time.monotonic() - started
    return summary
