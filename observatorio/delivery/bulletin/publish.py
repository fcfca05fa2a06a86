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
from psycopg import sql

from observatorio.core.profile import load_profile
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect
from observatorio.delivery.audit import already_delivered, audit
from observatorio.delivery.bulletin.geometry import (
    GEOMETRY_FILE,
    Ring,
    borders,
    load_departments,
    load_geometries,
)
from observatorio.delivery.bulletin.indicators import (
    INDICATORS_TABLE,
    WINDOW_MONTHS,
    default_period,
    load_indicators,
    month_shift,
    protect_indicators,
    table_exists,
)
from observatorio.delivery.bulletin.labels import day_words, is_counted_rate, period_words
from observatorio.delivery.bulletin.mart_panels import (
    dark_figure_panel,
    justice_medians,
    police_victims_panel,
    priorities_panel,
)
from observatorio.delivery.bulletin.methods import methods
from observatorio.delivery.bulletin.panels import (
    PANELS,
    Context,
    PanelResult,
    femicide_panel,
    funnel_panel,
    lines_panel,
    map_panel,
    ranking_panel,
)
from observatorio.delivery.bulletin.series import rate_factor
from observatorio.delivery.disclosure import DEFAULT_MARKER
from observatorio.delivery.manifest import Delivery
from observatorio.delivery.schedule import ScheduledRun, is_due
from observatorio.delivery.specs import ExtractSpec
from observatorio.delivery.writers import file_entry, staging_folder, swap_in
from observatorio.indicators.definitions import load_definitions

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


def publication_threshold() -> int:
    """The smallest count published, from the indicators' publication rules (the strictest)."""
    return max(i.publication.min_cell_size for i in load_definitions().indicators)


def render_html(page: dict[str, Any]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"])
    )
    return env.get_template("bulletin.html.j2").render(**page)


def _municipalities(conn: psycopg.Connection, schema: str) -> dict[str, str]:
    if not table_exists(conn, f"{schema}.dim_municipality"):
        return {}
    query = sql.SQL("select municipality_code, municipality_name from {}.dim_municipality").format(
        sql.Identifier(schema)
    )
    return {str(c): str(n) for c, n in conn.execute(query).fetchall()}


def _shapes(settings: Settings) -> tuple[dict[str, list[Ring]] | None, list[Ring]]:
    """The profile's municipal geometries and its departments' borders (none without a file)."""
    path = load_profile(settings=settings).folder / GEOMETRY_FILE
    if not path.is_file():
        return None, []
    shapes = load_geometries(path)
    return shapes, borders(shapes, load_departments(path))


def _check_rate_scale(rows: list[dict[str, Any]]) -> None:
    for ind in load_definitions().indicators:
        if is_counted_rate(ind):
            rate_factor(rows, ind.code)  # raises when the mart's scale is not what we label


def build_panels(conn: psycopg.Connection, ctx: Context, schema: str) -> list[PanelResult]:
    by_key = {p.key: p for p in PANELS}
    medians = justice_medians(conn, ctx.period, schema)
    return [
        lines_panel(by_key["homicide_rates"], ctx),
        lines_panel(by_key["homicide_counts"], ctx),
        femicide_panel(by_key["femicides"], ctx),
        lines_panel(by_key["violence_rates"], ctx),
        map_panel(by_key["homicide_map"], ctx),
        ranking_panel(by_key["municipality_ranking"], ctx),
        funnel_panel(by_key["justice_funnel"], ctx, medians),
        dark_figure_panel(conn, ctx, schema),
        lines_panel(by_key["data_quality"], ctx),
        priorities_panel(conn, schema),
        police_victims_panel(conn, ctx, schema),
    ]


def build_bulletin(
    conn: psycopg.Connection,
    folder: Path,
    period: str,
    threshold: int | None = None,
    indicators: str = INDICATORS_TABLE,
    require_pdf: bool = True,
    settings: Settings | None = None,
) -> tuple[Path, Path | None, list[PanelResult], str | None]:
    settings = settings or get_settings()
    threshold = threshold or publication_threshold()
    rows = load_indicators(conn, period, indicators)
    _check_rate_scale(rows)
    window_start = month_shift(period, -WINDOW_MONTHS)
    # The national monthly series are protected over all months shown; municipal 12-month
    # figures over the 12 months alone, so their totals are the protected row totals.
    data = protect_indicators(rows, threshold)
    window = protect_indicators([r for r in rows if str(r["month"]) > window_start], threshold)
    # The other marts the bulletin reads sit beside the indicator table.
    schema = indicators.split(".")[0]
    months = [month_shift(period, -k) for k in range(WINDOW_MONTHS, -1, -1)]
    shapes, outlines = _shapes(settings)
    ctx = Context(
        data=data,
        window=window,
        period=period,
        months=months,
        municipalities=_municipalities(conn, schema),
        shapes=shapes,
        marker=DEFAULT_MARKER,
        outlines=outlines,
    )
    panels = build_panels(conn, ctx, schema)
    row = conn.execute(
        "select max(finished_at) from ops.batch_ledger where status = 'loaded'"
    ).fetchone()
    as_of = row[0].isoformat() if row and row[0] else None
    page = {
        "period": period,
        "period_words": period_words(period),
        "as_of_words": day_words(row[0]) if row and row[0] else None,
        "generated_words": day_words(datetime.now(UTC)),
        "panels": panels,
        "threshold": threshold,
        "marker": DEFAULT_MARKER,
        "methods": methods(threshold),
        "highlights": [p.text for p in panels[:3] if p.text and not p.missing],
    }
    html = folder / f"boletin_{period}.html"
    html.write_text(render_html(page), encoding="utf-8")
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
    threshold: int | None = None,
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
                conn, folder, period, threshold, indicators, require_pdf, settings
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
