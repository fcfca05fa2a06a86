"""The bulletin's page and PDF: the panels rendered into an HTML page (Jinja), printed to PDF
with headless Chromium, published in `outbox/boletin/boletin_<period>/` and audited in
`ops.deliveries` like an extract.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect
from observatorio.delivery.audit import already_delivered, audit
from observatorio.delivery.bulletin.indicators import (
    INDICATORS_TABLE,
    default_period,
    load_indicators,
    protect_indicators,
)
from observatorio.delivery.bulletin.panels import (
    PANELS,
    PanelResult,
    justice_medians,
    police_victims_panel,
    priorities_panel,
    render_panel,
)
from observatorio.delivery.disclosure import DEFAULT_MARKER, DEFAULT_THRESHOLD
from observatorio.delivery.manifest import Delivery
from observatorio.delivery.schedule import ScheduledRun, is_due
from observatorio.delivery.specs import ExtractSpec
from observatorio.delivery.writers import file_entry, staging_folder, swap_in

RECIPIENT = "boletin"
SPEC_NAME = "bulletin"
TEMPLATES = Path(__file__).parents[1] / "templates"
log = logging.getLogger(__name__)
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


class BulletinError(RuntimeError):
    """The bulletin could not be built (no Chromium, a failed print...)."""


@dataclass
class BulletinResult:
    period: str
    folder: Path
    html: Path
    pdf: Path | None
    panels: dict[str, str]


# --------------------------------------------------------------------------- page and PDF


def chromium_path() -> str:
    override = os.environ.get("OBSERVATORIO_CHROMIUM")
    if override:
        if not Path(override).is_file():
            raise BulletinError(f"OBSERVATORIO_CHROMIUM={override} does not exist")
        return override
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BulletinError(
        "headless Chromium is needed to print the bulletin to PDF and was not found "
        f"({', '.join(CHROMIUM_CANDIDATES)} on PATH). Install it (`apt-get install -y "
        "chromium`) or point OBSERVATORIO_CHROMIUM at the binary."
    )


def print_pdf(html: Path, pdf: Path, timeout: int = 120) -> None:
    """Print an HTML file to PDF with headless Chromium, offline and with a throwaway profile."""
    binary = chromium_path()
    with tempfile.TemporaryDirectory(prefix="observatorio-chromium-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            html.resolve().as_uri(),
        ]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise BulletinError(f"Chromium did not print {html.name} within {timeout} s") from exc
    if completed.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise BulletinError(
            f"Chromium failed to print {html.name} (exit {completed.returncode}): "
            f"{completed.stderr[-1500:]}"
        )


def render_html(period: str, panels: list[PanelResult], as_of: str | None, threshold: int) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )
    return env.get_template("bulletin.html.j2").render(
        period=period,
        panels=panels,
        as_of=as_of,
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        threshold=threshold,
        marker=DEFAULT_MARKER,
    )


def build_bulletin(
    conn: psycopg.Connection,
    folder: Path,
    period: str,
    threshold: int = DEFAULT_THRESHOLD,
    indicators: str = INDICATORS_TABLE,
    require_pdf: bool = True,
) -> tuple[Path, Path | None, list[PanelResult], str | None]:
    rows = load_indicators(conn, period, indicators)
    data = protect_indicators(rows, threshold)
    # The other marts the bulletin reads sit beside the indicator table.
    schema = indicators.split(".")[0]
    panels = [render_panel(p, data, period) for p in PANELS]
    for panel in panels:
        if panel.panel.key == "justice_funnel" and not panel.missing:
            panel.table.extend(justice_medians(conn, period, schema))
    panels.append(priorities_panel(conn, schema))
    panels.append(police_victims_panel(conn, period, threshold))
    row = conn.execute(
        "select max(finished_at) from ops.batch_ledger where status = 'loaded'"
    ).fetchone()
    as_of = row[0].isoformat() if row and row[0] else None
    html = folder / f"boletin_{period}.html"
    html.write_text(render_html(period, panels, as_of, threshold), encoding="utf-8")
    charts = folder / "graficos"
    charts.mkdir(exist_ok=True)
    for panel in panels:
        if panel.image:
            (charts / f"{panel.panel.key}.png").write_bytes(base64.b64decode(panel.image))
    pdf: Path | None = folder / f"boletin_{period}.pdf"
    try:
        print_pdf(html, pdf)  # type: ignore[arg-type]
    except BulletinError:
        if require_pdf:
            raise
        # A machine without Chromium still publishes the HTML bulletin; the PDF is skipped
        # and the log says how to get it.
        log.warning("bulletin %s: PDF skipped, HTML published", period, exc_info=True)
        pdf = None
    return html, pdf, panels, as_of


def publish_bulletin(
    period: str | None = None,
    settings: Settings | None = None,
    triggered_by: str = "manual",
    threshold: int = DEFAULT_THRESHOLD,
    indicators: str = INDICATORS_TABLE,
    require_pdf: bool = True,
    run: ScheduledRun | None = None,
) -> BulletinResult:
    """Build the bulletin in `outbox/boletin/boletin_<period>/` and audit it; publishing a
    period again replaces its folder whole.

    With `require_pdf=False` (the scheduled task) a missing Chromium publishes the HTML only.
    """
    settings = settings or get_settings()
    with connect(settings, role="delivery") as conn:
        period = period or default_period(conn, indicators)
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
            raise BulletinError(f"period {period!r} is not a month YYYY-MM")
        conn.execute("select pg_advisory_lock(hashtext(%s))", (f"delivery:{SPEC_NAME}:{period}",))
        final = settings.outbox_dir / RECIPIENT / f"{RECIPIENT}_{period}"
        folder = staging_folder(final)
        common: dict[str, Any] = {
            "recipient": RECIPIENT,
            "spec_name": SPEC_NAME,
            "spec_file": "observatorio/delivery/bulletin",
            "period": period,
            "channel": "outbox",
            "fmt": "html+pdf",
            "triggered_by": triggered_by,
            "is_redelivery": already_delivered(conn, SPEC_NAME, period),
            "run": run,
        }
        try:
            html, pdf, panels, as_of = build_bulletin(
                conn, folder, period, threshold, indicators, require_pdf
            )
            swap_in(folder, final)
        except Exception as exc:
            shutil.rmtree(folder, ignore_errors=True)
            conn.rollback()
            audit(conn, success=False, error=f"{type(exc).__name__}: {exc}", **common)
            conn.commit()
            if isinstance(exc, BulletinError):
                raise
            raise BulletinError(f"bulletin {period}: {exc}") from exc
        html = final / html.name
        pdf = final / pdf.name if pdf is not None else None
        files = [file_entry(path, 0) for path in (html, pdf) if path is not None]
        spec = ExtractSpec(SPEC_NAME, RECIPIENT, "Boletín mensual", (), Path("bulletin"))
        delivery = Delivery(spec, period, final, files, 0, 0, as_of)
        audit(conn, success=True, delivery=delivery, **common)
        conn.commit()
    return BulletinResult(
        period=period,
        folder=final,
        html=html,
        pdf=pdf,
        panels={p.panel.key: "missing" if p.missing else "drawn" for p in panels},
    )


def publish_if_due(run: ScheduledRun, settings: Settings | None = None) -> str:
    """The DAG's task: the bulletin of the run's period, once per month of runs (a cleared
    run publishes it again; see `observatorio.delivery.schedule`)."""
    settings = settings or get_settings()
    with connect(settings, role="delivery") as conn:
        due = is_due(conn, SPEC_NAME, "@monthly", run)
    if not due:
        return f"bulletin {run.period}: not due (published by another run this month)"
    result = publish_bulletin(
        run.period, settings, triggered_by="schedule", require_pdf=False, run=run
    )
    return str(result.pdf or result.html)
