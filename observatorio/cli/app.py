"""`observatorio`: the command line for the warehouse, ingestion, the main job and Airflow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.exceptions import TyperException

from observatorio.cli.errors import (
    EXIT_CONFIG,
    EXIT_REJECTED,
    EXIT_USAGE,
    CliError,
    fail,
    one_line,
    report,
)
from observatorio.core import warehouse
from observatorio.core.settings import Settings, SettingsError, get_settings, mask_url

app = typer.Typer(
    help="Observatorio: citizen-security data warehouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
warehouse_app = typer.Typer(
    help="Manage the warehouse server.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(warehouse_app, name="warehouse")
keys_app = typer.Typer(
    help="Manage the pseudonym key.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(keys_app, name="keys")
console = Console()
err_console = Console(stderr=True)
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
COMMANDS_GROUP = "observatorio.commands"


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the embedded warehouse (or check the external one) and create the schemas."""
    console.print(mask_url(warehouse.ensure_warehouse()))


@warehouse_app.command("logins")
def warehouse_logins() -> None:
    """Create the BI logins of bi/logins.yaml (each limited to its rows) and list them."""
    warehouse.ensure_warehouse()
    for login in warehouse.ensure_recipient_logins():
        console.print(login)


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded warehouse."""
    stopped = warehouse.stop_embedded()
    console.print("stopped" if stopped else "not running (or external)")


@warehouse_app.command("status")
def warehouse_status() -> None:
    """Say whether the warehouse is embedded or external, and whether it is up."""
    state = warehouse.status()
    kind = "embedded" if state.embedded else "external"
    shown = mask_url(state.url)
    console.print(f"{kind} warehouse {'running' if state.running else 'stopped'}: {shown}")
    if not state.running:
        raise typer.Exit(1)


@warehouse_app.command("url")
def warehouse_url(
    show_password: Annotated[
        bool, typer.Option("--show-password", help="Print the password too (for scripts)")
    ] = False,
    role: Annotated[
        str, typer.Option("--role", help="owner, loader, transformer, delivery or airflow")
    ] = "owner",
    login: Annotated[
        str | None, typer.Option("--login", help="A BI login of bi/logins.yaml instead")
    ] = None,
) -> None:
    """Print the warehouse URL (for psql, BI tools, scripts); its password masked unless asked."""
    settings = get_settings()
    url = (
        warehouse.login_url(settings, login)
        if login
        else warehouse.warehouse_url(settings, role=role)
    )
    print(url if show_password else mask_url(url))


@keys_app.command("rotate")
def keys_rotate(
    new_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the new key (never an argument).")
    ],
) -> None:
    """Re-key every stored pseudonym under a new key, in one transaction (README: Security)."""
    from ingestion.key_rotation import rotate_key

    settings = preflight(need_key=True)
    value = os.environ.get(new_key_env, "")
    try:
        new_key = settings.checked_key(value, new_key_env) if value else b""
    except SettingsError as exc:
        fail(str(exc), EXIT_CONFIG)
    if not new_key:
        fail(f"{new_key_env} is not set: put the new key in it", EXIT_CONFIG)
    warehouse.ensure_warehouse(settings)
    try:
        with warehouse.connect(settings) as conn:
            rotation = rotate_key(conn, settings, new_key)
    except SettingsError as exc:
        fail(str(exc), EXIT_CONFIG)
    console.print(
        f"re-keyed {rotation.rows_rekeyed:,} values in {len(rotation.columns)} columns; "
        f"fingerprint {rotation.old_fingerprint} -> {rotation.new_fingerprint}.\n"
        "Now, before the next batch: append the old OBSERVATORIO_PSEUDONYM_KEY to "
        f"OBSERVATORIO_PSEUDONYM_RETIRED_KEYS (comma-separated, oldest first) and set "
        f"OBSERVATORIO_PSEUDONYM_KEY to the value of {new_key_env}.",
        soft_wrap=True,
    )


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="Contract name, e.g. police__reports")],
    path: Annotated[Path, typer.Argument(help="The file to ingest")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Ingest one file outside Airflow, through the same code the DAG runs.

    Exits 0 when the batch is loaded or skipped, 2 when it is rejected, 1 for an unknown
    source or a missing file, 3 for a configuration problem (key, warehouse).
    """
    from ingestion.contract import ContractError, load_contract
    from ingestion.errors import BatchError
    from observatorio.orchestration.ingest import ingest_file

    try:
        load_contract(source)
    except ContractError as exc:
        fail(str(exc))
    if not path.is_file():
        fail(f"{path}: no such file")
    settings = preflight(need_key=True)
    try:
        result = ingest_file(source, path, settings)
    except BatchError as exc:
        if as_json:
            verdict = {"source": source, "file": str(path), "status": "rejected"}
            print(json.dumps({**verdict, "reason": one_line(str(exc))}))
        fail(str(exc), EXIT_REJECTED)
    if as_json:
        print(json.dumps({**result.as_json(), "reason": result.message or None}))
    else:
        console.print(f"{result.status}: {result.message}", soft_wrap=True)
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    if result.status == "rejected":
        if not as_json:
            err_console.print(f"[red]rejected:[/red] {escape(result.message)}", soft_wrap=True)
        raise typer.Exit(EXIT_REJECTED)


@app.command()
def run() -> None:
    """The main job: prepare the country profile and run every DAG for real through Airflow.

    OBSERVATORIO_PROFILE selects the profile (default: demo, whose hook lands the simulated
    country's exports and serves its source systems while the DAGs run).
    """
    from datetime import datetime

    from ingestion.contract import available_contracts, catalog_contracts
    from observatorio.core.profile import ProfileError, load_profile
    from observatorio.orchestration.runner import output_to, run_main_job

    settings = preflight(need_key=True)
    try:
        known = available_contracts() + catalog_contracts()
        profile = load_profile(settings=settings, known_contracts=known)
        profile.preparation()
    except ProfileError as exc:
        fail(str(exc), EXIT_CONFIG)
    log_path = settings.home / "logs" / f"run-{datetime.now():%Y%m%dT%H%M%S}.log"
    console.print(
        f"Running the pipeline through Airflow (full log: {log_path}) ...", soft_wrap=True
    )
    try:
        with output_to(log_path):
            summary = run_main_job(settings, profile)
    except Exception as exc:
        fail(f"{one_line(str(exc), 400)} (the whole story is in {log_path})")
    layers = Table(title="Rows per layer")
    for column in ("layer", "tables", "rows"):
        layers.add_column(column, justify="left" if column == "layer" else "right")
    for layer in ("raw", "staging", "intermediate", "marts"):
        counts = [n for name, n in summary.rows.items() if name.startswith(f"{layer}.")]
        views = summary.views_not_counted.get(layer, 0)
        parts = [f"{sum(counts):,}"] if counts or not views else []
        parts += [f"{views} views not counted (no DAG ran)"] if views else []
        layers.add_row(layer, str(len(counts) + views), " + ".join(parts))
    console.print(layers)
    marts = Table(title="Marts")
    marts.add_column("table")
    marts.add_column("rows", justify="right")
    for name, count in summary.rows.items():
        if name.startswith("marts."):
            marts.add_row(name, f"{count:,}")
    console.print(marts)
    batches = ", ".join(
        f"{summary.batches.get(k, 0)} {k}" for k in ("loaded", "rejected", "skipped")
    )
    console.print(f"Batches this run: {batches}  (loaded = accepted)")
    for dag_id, state in summary.dag_runs.items():
        console.print(f"DAG {dag_id}: {state}, {summary.steps.get(dag_id, 0.0):.1f} s")
    for path in summary.extracts:
        console.print(f"Extract: {path}")
    url = mask_url(warehouse.warehouse_url(settings))
    console.print(f"Finished in {summary.seconds:.1f} s. Warehouse: {url}")
    console.print(f"Full log: {log_path}", soft_wrap=True)
    console.print("Open the Airflow UI with `make airflow` (it prints the URL and the login).")


@app.command(context_settings=PASS_THROUGH)
def airflow(ctx: typer.Context) -> None:
    """Run the Airflow CLI with Observatorio's environment: `observatorio airflow dags list`."""
    from observatorio.orchestration import airflow_env
    from observatorio.orchestration.runner import migrate_airflow

    settings = get_settings()
    warehouse.ensure_warehouse(settings)
    migrate_airflow(settings)
    env = {**os.environ, **airflow_env.airflow_environment(settings)}
    completed = subprocess.run([sys.executable, "-m", "airflow", *ctx.args], env=env)
    raise typer.Exit(completed.returncode)


@app.command(context_settings=PASS_THROUGH)
def dbt(ctx: typer.Context) -> None:
    """Run dbt on the project against the warehouse: `observatorio dbt build`."""
    from observatorio.transform.dbt import DbtError, run_dbt

    warehouse.ensure_warehouse()
    try:
        run_dbt(list(ctx.args))
    except DbtError as exc:
        fail(str(exc))


@app.command()
def ui() -> None:
    """Serve the Airflow UI on 127.0.0.1 until Ctrl-C; stopping it stops every child process."""
    from observatorio.orchestration import airflow_env
    from observatorio.orchestration.runner import migrate_airflow

    settings = get_settings()
    warehouse.ensure_warehouse(settings)
    migrate_airflow(settings)
    env = {**os.environ, **airflow_env.airflow_environment(settings)}
    log_path = settings.airflow_home / "standalone.log"
    with log_path.open("ab") as log:
        # Its own session: one signal to the group stops api-server, scheduler and the rest.
        proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{settings.airflow_port}"
    console.print(f"Airflow UI: {url}", soft_wrap=True)
    console.print(
        f"login:      {airflow_env.ADMIN_USER} / {airflow_env.admin_password(settings)}",
        soft_wrap=True,
    )
    console.print(f"log:        {log_path}", soft_wrap=True)
    console.print("Press Ctrl-C to stop.")

    def stop(*_: object) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        raise typer.Exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        while proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        stop()
    raise typer.Exit(proc.returncode or 0)


@app.command()
def extract(
    name: Annotated[str, typer.Argument(help="Extract spec, e.g. ministerio_seguridad")],
    period: Annotated[
        str | None, typer.Option(help="Deliver one past period, e.g. 2025-10")
    ] = None,
) -> None:
    """Deliver one extract now (or re-deliver a past period) to its channel.

    Exits 1 with the reason when the spec is invalid, the delivery fails or it would be empty
    (unless the spec says `allow_empty: true`; then it warns); the failure is recorded in
    ops.deliveries either way.
    """
    from observatorio.delivery.errors import ExtractError
    from observatorio.delivery.extracts import deliver

    warehouse.ensure_warehouse()
    try:
        delivery = deliver(name, period)
    except ExtractError as exc:
        fail(str(exc))
    for warning in delivery.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    console.print(
        f"{delivery.spec.recipient}: {delivery.rows:,} rows, "
        f"{delivery.suppressed_cells:,} cells suppressed ({delivery.spec.level}), "
        f"via {delivery.spec.channel.type}"
    )
    for entry in delivery.files:
        console.print(f"  {entry['file']}  {entry['bytes']:,} bytes  sha256 {entry['sha256']}")
    print(str(delivery.remote_location or delivery.folder))


@app.command()
def bulletin(
    period: Annotated[
        str | None, typer.Option(help="The month, e.g. 2025-10 (default: the latest)")
    ] = None,
) -> None:
    """Build the monthly bulletin (HTML and PDF) in the outbox."""
    from observatorio.delivery.bulletin import BulletinError, publish_bulletin

    warehouse.ensure_warehouse()
    try:
        result = publish_bulletin(period)
    except BulletinError as exc:
        fail(str(exc))
    console.print(f"Bulletin {result.period}: {result.html}")
    console.print(f"PDF: {result.pdf}")


@app.command()
def explain(
    mart: Annotated[
        str | None, typer.Argument(help="The mart, e.g. mart_indicators_monthly")
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Argument(help="The cell: INDICATOR MUNICIPALITY MONTH [SEX] [AGE_GROUP]"),
    ] = None,
    random_cells: Annotated[
        int | None, typer.Option("--random", help="Explain N random non-zero cells")
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="Recompute each cell from the rows explain lists")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed for --random")] = None,
) -> None:
    """Explain a published number: formula, fact rows, batches, files, checks and models.

    `observatorio explain mart_indicators_monthly homicide_rate_police 01001 2024-03`;
    `observatorio explain --random 20 --verify` exits 0 only if every cell recomputes exactly.
    """
    from observatorio.cli.explain_view import print_explanation, print_results
    from observatorio.lineage import explain as lineage
    from observatorio.lineage.recompute import LineageError

    if random_cells is None and (mart != lineage.MART or not key or not 3 <= len(key) <= 5):
        fail(
            f"usage: observatorio explain {lineage.MART} INDICATOR MUNICIPALITY MONTH"
            " [SEX] [AGE_GROUP], or observatorio explain --random N --verify"
        )
    warehouse.ensure_warehouse()
    try:
        if random_cells is not None:
            results = lineage.verify_random(random_cells, seed)
            print_results(results, console)
            if verify and not all(result.matches for result in results):
                raise typer.Exit(1)
            return
        assert key is not None
        found = lineage.explain(*key)
    except LineageError as exc:
        fail(str(exc))
    print_explanation(found, console)
    if verify and not found.matches:
        raise typer.Exit(1)


@app.command()
def clean(
    keep_data: Annotated[
        bool,
        typer.Option(
            "--keep-data", help="Required: free space, keep the warehouse and every input"
        ),
    ] = False,
) -> None:
    """Free disk space without losing the warehouse: logs, caches and lineage compacted.

    Deletes dbt and Airflow logs, the demo's simulation cache and benchmark scratch, folds the
    OpenLineage event files of finished days into one compressed file per day, and applies the
    retention ages. The warehouse, the landing inbox, the archive within its age and the
    outbox stay. (`make clean` deletes everything, the warehouse included.)
    """
    import shutil

    from observatorio.core.retention import apply_retention
    from observatorio.lineage.compaction import compact_events

    if not keep_data:
        fail("say --keep-data (this command never deletes the warehouse; `make clean` does)")
    settings = preflight()
    freed = 0
    for folder in (
        settings.home / "dbt" / "logs",
        settings.airflow_home / "logs",
        settings.home / "logs",
        settings.home / "simulator",
        settings.home / "bench",
    ):
        if folder.is_dir():
            freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
    lineage = compact_events(settings)
    freed += lineage.bytes_before - lineage.bytes_after
    kept = apply_retention(settings)
    freed += sum(kept.bytes_freed.values())
    console.print(
        f"freed {freed / 1e6:,.1f} MB: logs and caches, {lineage.files_folded:,} lineage event "
        f"files folded into {lineage.days_written} daily files, "
        f"{sum(kept.deleted.values()):,} files past their retention age",
        soft_wrap=True,
    )


def preflight(need_key: bool = False) -> Settings:
    """Settings (and the pseudonym key, when the command will touch persons) checked before
    any work starts: a missing key fails in a second, not after minutes of building."""
    try:
        settings = get_settings()
        if need_key:
            settings.pseudonym_key()
    except SettingsError as exc:
        fail(str(exc), EXIT_CONFIG)
    return settings


def add_contributed_commands(target: typer.Typer) -> None:
    """Commands other packages contribute through the entry point group `observatorio.commands`.

    Each entry point names a `register(app)` function that adds its commands: the simulator
    contributes `observatorio simulate` this way, so the product never imports the demo.
    """
    from importlib.metadata import entry_points

    for entry in entry_points(group=COMMANDS_GROUP):
        try:
            register = entry.load()
            register(target)
        except Exception as exc:
            problem = escape(f"command {entry.name!r} ({entry.value}) not loaded: {exc}")
            err_console.print(f"[yellow]warning:[/yellow] {problem}", soft_wrap=True)


add_contributed_commands(app)


def main() -> None:
    """The console script: every error becomes one line and an exit code (see `cli.errors`)."""
    from observatorio.core.warehouse import WarehouseError

    try:
        # Not standalone: click returns an Exit's code instead of calling sys.exit itself.
        outcome = app(standalone_mode=False)
    except CliError as exc:
        report(str(exc), exc.code)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        report("interrupted", EXIT_USAGE)
    except TyperException as exc:  # usage errors: unknown command, missing argument, bad option
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        report(f"{message}{hint}", EXIT_USAGE)
    except (SettingsError, WarehouseError) as exc:
        report(str(exc), EXIT_CONFIG)
    except KeyboardInterrupt:
        report("interrupted", EXIT_USAGE)
    except Exception as exc:  # the last net: one line, never a traceback
        report(f"{type(exc).__name__}: {exc}", EXIT_USAGE)
    raise SystemExit(outcome if isinstance(outcome, int) else 0)


if __name__ == "__main__":
    main()
