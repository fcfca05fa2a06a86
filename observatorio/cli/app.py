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
from rich.table import Table

from observatorio.core import warehouse
from observatorio.core.settings import get_settings, mask_url

app = typer.Typer(help="Observatorio: citizen-security data warehouse.", no_args_is_help=True)
warehouse_app = typer.Typer(help="Manage the warehouse server.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")
console = Console()
err_console = Console(stderr=True)
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


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


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="Contract name, e.g. police__reports")],
    path: Annotated[Path, typer.Argument(help="The file to ingest")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Ingest one file outside Airflow, through the same code the DAG runs.

    Exits 0 when the batch is loaded or skipped, 2 when it is rejected.
    """
    from ingestion.loader import ingest_file
    from ingestion.parse import BatchError

    try:
        result = ingest_file(source, path)
    except BatchError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(result.as_json()))
    else:
        console.print(f"{result.status}: {result.message}")
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}")
    if result.status == "rejected":
        if not as_json:
            err_console.print(f"[red]rejected:[/red] {result.message}")
        raise typer.Exit(2)


@app.command()
def run() -> None:
    """The main job: land the demo exports and run every DAG for real through Airflow."""
    from datetime import datetime

    from observatorio.orchestration.runner import output_to, run_main_job

    settings = get_settings()
    log_path = settings.home / "logs" / f"run-{datetime.now():%Y%m%dT%H%M%S}.log"
    console.print(f"Running the pipeline through Airflow (full log: {log_path}) ...")
    try:
        with output_to(log_path):
            summary = run_main_job(settings)
    except Exception as exc:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        err_console.print("\n".join(tail))
        err_console.print(f"[red]{type(exc).__name__}: {exc}[/red]\nFull log: {log_path}")
        raise typer.Exit(1) from exc
    layers = Table(title="Rows per layer")
    for column in ("layer", "tables", "rows"):
        layers.add_column(column, justify="left" if column == "layer" else "right")
    for layer in ("raw", "staging", "intermediate", "marts"):
        counts = [n for name, n in summary.rows.items() if name.startswith(f"{layer}.")]
        layers.add_row(layer, str(len(counts)), f"{sum(counts):,}")
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
        console.print(f"DAG {dag_id}: {state}")
    for path in summary.extracts:
        console.print(f"Extract: {path}")
    url = mask_url(warehouse.warehouse_url(settings))
    console.print(f"Finished in {summary.seconds:.1f} s. Warehouse: {url}")
    console.print(f"Full log: {log_path}")
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
        err_console.print(str(exc))
        raise typer.Exit(1) from exc


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
    console.print(
        f"Airflow UI: {url}   login: {airflow_env.ADMIN_USER} / "
        f"{airflow_env.admin_password(settings)}   (log: {log_path})"
    )
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


@app.command(context_settings=PASS_THROUGH, add_help_option=False)
def simulate(ctx: typer.Context) -> None:
    """The synthetic country: `observatorio simulate --seed 1 --scale small --out DIR`.

    Options: --seed, --scale {tiny,small,medium,large}, --start, --days, --out,
    --messiness, --justice-url, --serve (see simulator/README.md).
    """
    from simulator.cli import main as simulator_main

    raise typer.Exit(simulator_main(list(ctx.args)))


@app.command()
def extract(
    name: Annotated[str, typer.Argument(help="Extract spec, e.g. ministerio_seguridad")],
    period: Annotated[
        str | None, typer.Option(help="Deliver one past period, e.g. 2025-10")
    ] = None,
) -> None:
    """Deliver one extract now (or re-deliver a past period) to its channel.

    Exits 1 with the reason when the spec is invalid or the delivery fails; the failure is
    recorded in ops.deliveries either way.
    """
    from observatorio.delivery.extracts import ExtractError, deliver

    warehouse.ensure_warehouse()
    try:
        delivery = deliver(name, period)
    except ExtractError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(
        f"{delivery.spec.recipient}: {delivery.rows:,} rows, "
        f"{delivery.suppressed_cells:,} cells suppressed, via {delivery.spec.channel.type}"
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
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
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

    warehouse.ensure_warehouse()
    try:
        if random_cells is not None:
            results = lineage.verify_random(random_cells, seed)
            print_results(results, console)
            if verify and not all(result.matches for result in results):
                raise typer.Exit(1)
            return
        if mart != lineage.MART or not key or not 3 <= len(key) <= 5:
            err_console.print(
                f"usage: observatorio explain {lineage.MART} INDICATOR MUNICIPALITY MONTH"
                " [SEX] [AGE_GROUP]   or   observatorio explain --random N --verify"
            )
            raise typer.Exit(2)
        found = lineage.explain(*key)
    except lineage.LineageError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    print_explanation(found, console)
    if verify and not found.matches:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
