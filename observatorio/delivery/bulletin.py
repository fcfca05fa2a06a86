"""The monthly bulletin: an HTML page and its PDF, with charts, from the indicator mart.

Reads `marts.mart_indicators_monthly` (`indicator_code, municipality_code, month, sex,
age_group, numerator, denominator, value, source`), applies the same disclosure control as
the extracts (`observatorio.delivery.disclosure`) to every number before it is drawn, renders one
matplotlib chart per panel (PNG, embedded in the page) and prints the page to PDF with
headless Chromium. A panel whose indicators are not in the mart yet says so instead of
drawing an empty chart. `observatorio bulletin` and the `deliver_extracts` DAG call it; each
bulletin is audited in `ops.deliveries` like an extract.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect
from observatorio.delivery.disclosure import (
    DEFAULT_MARKER,
    DEFAULT_THRESHOLD,
    DisclosureRule,
    protect_rows,
)

RECIPIENT = "boletin"
SPEC_NAME = "bulletin"
TEMPLATES = Path(__file__).with_name("templates")
log = logging.getLogger(__name__)
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
WINDOW_MONTHS = 12
INDICATORS_TABLE = "marts.mart_indicators_monthly"
INDICATOR_COLUMNS = (
    "indicator_code",
    "municipality_code",
    "month",
    "sex",
    "age_group",
    "numerator",
    "denominator",
    "value",
    "source",
)
# Rows the mart may carry for the whole country; otherwise national figures are aggregated.
NATIONAL_CODES = {"all", "00000", "national", "nacional"}


class BulletinError(RuntimeError):
    """The bulletin could not be built (no Chromium, a failed print...)."""


@dataclass(frozen=True)
class Panel:
    """One chart of the bulletin and the indicator codes it is drawn from (regexes)."""

    key: str
    title: str
    patterns: tuple[str, ...]
    note: str

    def matches(self, code: str) -> bool:
        return any(re.search(p, code) for p in self.patterns)


# The one list of panels; codes follow the indicator mart's naming (`<measure>_<unit>_<source>`).
PANELS = (
    Panel(
        "homicide_by_source",
        "Tasa de homicidios por fuente, con la serie conciliada (por 100 000 hab.)",
        (r"^homicide_rate",),
        "Policía y medicina legal cuentan distinto; la serie conciliada cuenta cada víctima "
        "una vez.",
    ),
    Panel(
        "municipality_ranking",
        "Municipios con mayor tasa de homicidios (últimos 12 meses)",
        (r"^homicide_rate",),
        "Serie conciliada si existe; si no, la de la policía.",
    ),
    Panel(
        "gender_violence",
        "Feminicidios y violencia intrafamiliar",
        (r"^femicide", r"^intrafamily"),
        "Tasas por 100 000 mujeres (feminicidio) y por 100 000 habitantes (intrafamiliar).",
    ),
    Panel(
        "justice_funnel",
        "Embudo de la justicia: denuncias, causas, acusaciones, condenas (últimos 12 meses)",
        (r"^justice_funnel_",),
        "Cuántos casos llegan a cada etapa, y la mediana de días entre etapas (mes del boletín).",
    ),
    Panel(
        "dark_figure",
        "Cifra oculta por tipo de delito (encuesta de victimización)",
        (r"^dark_figure__",),
        "1 - (víctimas que denunciaron ÷ víctimas), ponderado por el factor de expansión.",
    ),
    Panel(
        "data_quality",
        "Calidad de datos y cobertura del reporte",
        (r"^reporting_coverage_share$", r"^undetermined_intent_share$"),
        "Municipios que reportan, e intención indeterminada entre las muertes violentas.",
    ),
)
PRIORITIES = Panel(
    "citizen_priorities",
    "Prioridades ciudadanas en las consultas y su tendencia",
    (),
    "Parte de los votos por tema; la tendencia compara el indicador asociado en los últimos "
    "3 meses con los 3 anteriores.",
)
TREND_ARROWS = {"up": "↑ sube", "down": "↓ baja", "flat": "→ estable", "unknown": "sin tendencia"}
MEDIAN_STAGES = (
    ("median_days_report_to_case", "días denuncia → causa (mediana)"),
    ("median_days_case_to_indictment", "días causa → acusación (mediana)"),
    ("median_days_indictment_to_judgement", "días acusación → sentencia (mediana)"),
)

FUNNEL_STAGES = ("report", "case", "indict", "accus", "trial", "convict", "sentenc")


@dataclass
class Series:
    """One national line: month → value, with the months whose value is suppressed."""

    label: str
    points: dict[str, float | None]
    suppressed: set[str] = field(default_factory=set)


@dataclass
class PanelResult:
    panel: Panel
    image: str | None = None  # base64 PNG
    table: list[tuple[str, str]] = field(default_factory=list)
    missing: str | None = None


@dataclass
class BulletinResult:
    period: str
    folder: Path
    html: Path
    pdf: Path | None
    panels: dict[str, str]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | int | float) else None


def _month_shift(month: str, delta: int) -> str:
    year, mon = map(int, month.split("-"))
    total = year * 12 + (mon - 1) + delta
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select to_regclass(%s)", (name,)).fetchone()
    return bool(row and row[0])


def default_period(conn: psycopg.Connection, indicators: str = INDICATORS_TABLE) -> str:
    """The latest month with data (indicators first, then police reports), else last month."""
    for table in (indicators, "marts.mart_crime_reports_monthly"):
        if _table_exists(conn, table):
            row = conn.execute(f"select max(month) from {table}").fetchone()
            if row and row[0]:
                return str(row[0])
    today = date.today()
    return _month_shift(f"{today.year:04d}-{today.month:02d}", -1)


def load_indicators(
    conn: psycopg.Connection, period: str, table: str = INDICATORS_TABLE
) -> list[dict[str, Any]]:
    """The mart's rows for the window of 12 months ending at `period` (none if not built)."""
    if not _table_exists(conn, table):
        return []
    schema, name = table.split(".")
    query = sql.SQL("select {} from {}.{} where month > %s and month <= %s").format(
        sql.SQL(", ").join(map(sql.Identifier, INDICATOR_COLUMNS)),
        sql.Identifier(schema),
        sql.Identifier(name),
    )
    with conn.cursor() as cursor:
        cursor.execute(query, (_month_shift(period, -WINDOW_MONTHS), period))
        return [dict(zip(INDICATOR_COLUMNS, r, strict=True)) for r in cursor.fetchall()]


@dataclass
class Indicators:
    """The window's indicators after disclosure control, with national aggregation."""

    rows: list[dict[str, Any]]
    suppressed: set[int]
    hidden_totals: set[tuple[Any, ...]]
    marker: str

    def codes(self) -> list[str]:
        return sorted({r["indicator_code"] for r in self.rows})

    def national(self, code: str) -> list[Series]:
        """One series per source: national rows if the mart has them, else aggregated."""
        out = []
        by_source: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(self.rows):
            if r["indicator_code"] == code and r["sex"] == "all" and r["age_group"] == "all":
                by_source[str(r["source"] or "")].append(i)
        for source, members in sorted(by_source.items()):
            label = code if not source else f"{code} ({source})"
            national = [
                i for i in members if str(self.rows[i]["municipality_code"]) in NATIONAL_CODES
            ]
            series = Series(label, {})
            if national:
                for i in national:
                    month = str(self.rows[i]["month"])
                    hidden = i in self.suppressed
                    series.points[month] = None if hidden else _number(self.rows[i]["value"])
                    if hidden:
                        series.suppressed.add(month)
            else:
                aggregate = _aggregator([self.rows[i] for i in members])
                months: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for i in members:
                    months[str(self.rows[i]["month"])].append(self.rows[i])
                for month, rows in sorted(months.items()):
                    key = (code, source or None, "all", "all", None, month)
                    if key in self.hidden_totals or aggregate is None:
                        series.points[month] = None
                        if aggregate is not None:
                            series.suppressed.add(month)
                        continue
                    series.points[month] = aggregate(rows)
            if any(v is not None for v in series.points.values()) or series.suppressed:
                out.append(series)
        return out

    def sources(self, code: str) -> list[Any]:
        return sorted({r["source"] for r in self.rows if r["indicator_code"] == code}, key=str)

    def by_municipality(self, code: str, source: Any) -> list[tuple[str, float | None, bool]]:
        """Window totals per municipality (numerators and denominators summed)."""
        rows: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(self.rows):
            if (
                r["indicator_code"] == code
                and r["source"] == source
                and r["sex"] == "all"
                and r["age_group"] == "all"
                and str(r["municipality_code"]) not in NATIONAL_CODES
            ):
                rows[str(r["municipality_code"])].append(i)
        out = []
        for municipality, members in rows.items():
            group = [self.rows[i] for i in members]
            hidden = (code, source, "all", "all", municipality, None) in self.hidden_totals
            aggregate = _aggregator(group)
            value = None if hidden or aggregate is None else aggregate(group)
            out.append((municipality, value, hidden))
        return out


def _aggregator(
    rows: Sequence[dict[str, Any]],
) -> Callable[[Sequence[dict[str, Any]]], float] | None:
    """How municipal rows add up to a national figure, learnt from the rows themselves.

    Counts (no denominator, value = numerator) add up. Rates and shares are affine in
    numerator/denominator (value = a + b x n/d: rates per 100k have a = 0, the dark figure
    a = 1, b = -1), so the national value is a + b x sum n/sum d. Anything else (medians) does not
    aggregate and is only drawn from national rows.
    """
    points = [
        (_number(r["numerator"]), _number(r["denominator"]), _number(r["value"])) for r in rows
    ]
    if all(d is None for _, d, _ in points):
        if all(v is None or n is None or abs(v - n) < 1e-6 for n, _, v in points):
            return lambda group: float(sum(_number(r["numerator"]) or 0 for r in group))
        return None
    pairs = [(n / d, v) for n, d, v in points if n is not None and d and v is not None]
    if not pairs:
        return None
    xs = {round(x, 12) for x, _ in pairs}
    if len(xs) == 1:
        x0, v0 = pairs[0]
        a, b = (0.0, v0 / x0) if x0 else (v0, 0.0)
    else:
        (x1, v1), (x2, v2) = sorted(pairs)[0], sorted(pairs)[-1]
        b = (v2 - v1) / (x2 - x1)
        a = v1 - b * x1
    if any(abs(a + b * x - v) > 1e-6 * max(1.0, abs(v)) for x, v in pairs):
        return None

    def combine(group: Sequence[dict[str, Any]]) -> float:
        num = sum(_number(r["numerator"]) or 0 for r in group)
        den = sum(_number(r["denominator"]) or 0 for r in group)
        return a + b * num / den if den else float("nan")

    return combine


def protect_indicators(rows: list[dict[str, Any]], threshold: int) -> Indicators:
    """Disclosure control on the indicators: municipality x month tables per indicator.

    Numerators are the counts (1..threshold-1 suppressed, with complementary cells so
    neither national monthly totals nor municipal 12-month totals give them away), and a
    value whose numerator is hidden is hidden too.
    """
    clean = [
        {**r, "numerator": max(0, int(_number(r["numerator"]) or 0))}
        for r in rows
        if str(r["municipality_code"]) not in NATIONAL_CODES
    ]
    national = [r for r in rows if str(r["municipality_code"]) in NATIONAL_CODES]
    rule = DisclosureRule(
        counts=("numerator",),
        rows="municipality_code",
        columns="month",
        by=("indicator_code", "source", "sex", "age_group"),
        threshold=threshold,
        rates={"value": "numerator"},
    )
    protected, _ = protect_rows(clean, rule)
    # Restore the true numerators (ints were only for the tables) and add national rows,
    # whose own small numerators are hidden as primary cells.
    out = protected.rows
    suppressed = set(protected.suppressed["value"])
    for r in national:
        n = _number(r["numerator"])
        if n is not None and 1 <= n < threshold:
            suppressed.add(len(out))
        out.append(dict(r))
    return Indicators(out, suppressed, protected.hidden_totals["numerator"], DEFAULT_MARKER)


# --------------------------------------------------------------------------- charts


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=110)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    return fig, ax


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _fmt(value: float | None, marker: str) -> str:
    if value is None:
        return marker
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def _lines(series: list[Series], marker: str, emphasise: str | None = None) -> str:
    fig, ax = _figure()
    for s in series:
        months = sorted(s.points)
        ys = [s.points[m] if s.points[m] is not None else float("nan") for m in months]
        strong = emphasise is not None and emphasise in s.label
        ax.plot(
            months,
            ys,
            marker="o",
            linewidth=3 if strong else 1.5,
            color="black" if strong else None,
            label=s.label + (f"  ({marker} = suprimido)" if s.suppressed else ""),
        )
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7, frameon=False)
    return _png(fig)


def _bars(labels: list[str], values: list[float | None], marker: str) -> str:
    fig, ax = _figure()
    shown = [v if v is not None else 0.0 for v in values]
    ax.barh(labels[::-1], shown[::-1], color="#3b6ea5")
    for y, v in enumerate(values[::-1]):
        ax.text(shown[::-1][y], y, f" {_fmt(v, marker)}", va="center", fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    return _png(fig)


def _latest(series: Series) -> float | None:
    months = [m for m in sorted(series.points) if series.points[m] is not None]
    return series.points[months[-1]] if months else None


def _table(series: list[Series], marker: str, period: str) -> list[tuple[str, str]]:
    rows = []
    for s in series:
        value = None if period in s.suppressed else s.points.get(period, _latest(s))
        rows.append((s.label, _fmt(value, marker)))
    return rows


def render_panel(panel: Panel, data: Indicators, period: str) -> PanelResult:
    codes = [c for c in data.codes() if panel.matches(c)]
    result = PanelResult(panel)
    if not codes:
        wanted = ", ".join(panel.patterns)
        result.missing = f"Sin datos todavía (no data yet): ningún indicador {wanted} en el mart."
        return result
    marker = data.marker
    if panel.key == "municipality_ranking":
        options = [(c, s) for c in codes for s in data.sources(c)]
        code, source = min(
            options,
            key=lambda o: (
                "reconcil" not in f"{o[0]} {o[1]}",
                not re.search("polic", f"{o[0]} {o[1]}"),
                str(o),
            ),
        )
        ranking = sorted(
            data.by_municipality(code, source),
            key=lambda m: (m[1] is None, -(m[1] or 0), m[0]),
        )[:15]
        if not ranking:
            result.missing = "Sin datos municipales todavía (no data yet)."
            return result
        result.image = _bars([m[0] for m in ranking], [m[1] for m in ranking], marker)
        result.table = [(f"{m[0]} · {code} ({source})", _fmt(m[1], marker)) for m in ranking]
        return result
    series = [s for c in codes for s in data.national(c)]
    if not series:
        result.missing = "Sin datos nacionales publicables todavía (no data yet)."
        return result
    if panel.key in {"justice_funnel", "dark_figure"}:
        if panel.key == "justice_funnel":

            def stage(s: Series) -> int:
                return next((n for n, k in enumerate(FUNNEL_STAGES) if k in s.label), 99)

            series.sort(key=stage)
            values = [
                None if s.suppressed else float(sum(v for v in s.points.values() if v))
                for s in series
            ]
        else:
            values = [_latest(s) for s in series]
        labels = [re.sub(r"^(justice_funnel_|dark_figure__)", "", s.label) for s in series]
        result.image = _bars(labels, values, marker)
        result.table = [(label, _fmt(v, marker)) for label, v in zip(labels, values, strict=True)]
        return result
    result.image = _lines(series, marker, emphasise="reconcil")
    result.table = _table(series, marker, period)
    return result


def justice_medians(
    conn: psycopg.Connection, period: str, schema: str = "marts"
) -> list[tuple[str, str]]:
    """National median days between justice stages in the bulletin's month (medians do not
    add up from municipalities, so they come from the attrition mart's national rows)."""
    if not _table_exists(conn, f"{schema}.mart_justice_attrition"):
        return []
    query = sql.SQL(
        "select {} from {}.mart_justice_attrition where area_level = 'national' and month = %s"
    ).format(
        sql.SQL(", ").join(sql.Identifier(column) for column, _ in MEDIAN_STAGES),
        sql.Identifier(schema),
    )
    row = conn.execute(query, (period,)).fetchone()
    if not row:
        return []
    return [
        (label, _fmt(_number(value), DEFAULT_MARKER) if value is not None else "sin dato")
        for (_, label), value in zip(MEDIAN_STAGES, row, strict=True)
    ]


def priorities_panel(
    conn: psycopg.Connection, schema: str = "marts", limit: int = 8
) -> PanelResult:
    """The citizens' priority issues by share of votes, each with its indicator's trend."""
    result = PanelResult(PRIORITIES)
    table = f"{schema}.mart_consultation_priorities"
    if not _table_exists(conn, table):
        result.missing = f"Sin datos todavía (no data yet): {table}."
        return result
    query = sql.SQL(
        "select topic_label, vote_share, votes, indicator_code, trend"
        " from {}.mart_consultation_priorities order by priority_rank limit %s"
    ).format(sql.Identifier(schema))
    rows = conn.execute(query, (limit,)).fetchall()
    if not rows:
        result.missing = "Sin consultas ciudadanas todavía (no data yet)."
        return result
    labels = [str(label) for label, *_ in rows]
    result.image = _bars(labels, [100 * (_number(share) or 0.0) for _, share, *_ in rows], "")
    result.table = [
        (
            f"{label} · {indicator or 'sin indicador'}",
            f"{int(votes):,} votos · {TREND_ARROWS.get(str(trend), str(trend))}",
        )
        for label, _, votes, indicator, trend in rows
    ]
    return result


def police_victims_panel(conn: psycopg.Connection, period: str, threshold: int) -> PanelResult:
    """National victims in police reports per month, from the police mart (when built)."""
    panel = Panel("police_victims", "Víctimas en denuncias policiales, total nacional", (), "")
    result = PanelResult(panel)
    if not _table_exists(conn, "marts.mart_crime_reports_monthly"):
        result.missing = "Sin datos todavía (no data yet): marts.mart_crime_reports_monthly."
        return result
    rows = conn.execute(
        "select month, sum(victims) from marts.mart_crime_reports_monthly"
        " where month > %s and month <= %s group by month order by month",
        (_month_shift(period, -WINDOW_MONTHS), period),
    ).fetchall()
    if not rows:
        result.missing = "Sin denuncias en los últimos 12 meses (no data yet)."
        return result
    series = Series("víctimas (policía)", {})
    for month, total in rows:
        hidden = 1 <= int(total) < threshold
        series.points[str(month)] = None if hidden else float(total)
        if hidden:
            series.suppressed.add(str(month))
    result.image = _lines([series], DEFAULT_MARKER)
    result.table = _table([series], DEFAULT_MARKER, period)
    return result


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
) -> BulletinResult:
    """Build the bulletin in `outbox/boletin/<period>_<stamp>/` and audit it.

    With `require_pdf=False` (the scheduled task) a missing Chromium publishes the HTML only.
    """
    from observatorio.delivery.extracts import (
        Delivery,
        ExtractSpec,
        _file_entry,
        audit,
        ensure_deliveries_columns,
    )

    settings = settings or get_settings()
    with connect(settings) as conn:
        ensure_deliveries_columns(conn)
        conn.commit()
        period = period or default_period(conn, indicators)
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
            raise BulletinError(f"period {period!r} is not a month YYYY-MM")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = settings.outbox_dir / RECIPIENT / f"{period}_{stamp}"
        folder = final.with_name(f".{final.name}.partial")
        folder.mkdir(parents=True)
        common: dict[str, Any] = {
            "recipient": RECIPIENT,
            "spec_name": SPEC_NAME,
            "spec_file": "observatorio/bulletin.py",
            "period": period,
            "channel": "outbox",
            "fmt": "html+pdf",
            "triggered_by": triggered_by,
        }
        try:
            html, pdf, panels, as_of = build_bulletin(
                conn, folder, period, threshold, indicators, require_pdf
            )
            folder.rename(final)
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
        files = [_file_entry(path, 0) for path in (html, pdf) if path is not None]
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


def publish_if_due(settings: Settings | None = None) -> str:
    """The DAG's task: one bulletin per calendar month."""
    from observatorio.delivery.extracts import is_due

    if not is_due(SPEC_NAME, "@monthly", settings):
        return "bulletin: not due (already published this month)"
    result = publish_bulletin(settings=settings, triggered_by="schedule", require_pdf=False)
    return str(result.pdf or result.html)
