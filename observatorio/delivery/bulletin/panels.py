"""The bulletin's panels: which indicators each chart is drawn from, and how each is drawn.

A panel whose indicators are not in the mart yet says so instead of drawing an empty chart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from observatorio.delivery.bulletin.charts import (
    bar_chart,
    fmt_value,
    latest_value,
    line_chart,
    summary_table,
)
from observatorio.delivery.bulletin.indicators import (
    WINDOW_MONTHS,
    Indicators,
    Series,
    month_shift,
    number,
    table_exists,
)
from observatorio.delivery.disclosure import DEFAULT_MARKER


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
class PanelResult:
    panel: Panel
    image: str | None = None  # base64 PNG
    table: list[tuple[str, str]] = field(default_factory=list)
    missing: str | None = None


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
        result.image = bar_chart([m[0] for m in ranking], [m[1] for m in ranking], marker)
        result.table = [(f"{m[0]} · {code} ({source})", fmt_value(m[1], marker)) for m in ranking]
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
            values = [latest_value(s) for s in series]
        labels = [re.sub(r"^(justice_funnel_|dark_figure__)", "", s.label) for s in series]
        result.image = bar_chart(labels, values, marker)
        result.table = [
            (label, fmt_value(v, marker)) for label, v in zip(labels, values, strict=True)
        ]
        return result
    result.image = line_chart(series, marker, emphasise="reconcil")
    result.table = summary_table(series, marker, period)
    return result


def justice_medians(
    conn: psycopg.Connection, period: str, schema: str = "marts"
) -> list[tuple[str, str]]:
    """National median days between justice stages in the bulletin's month (medians do not
    add up from municipalities, so they come from the attrition mart's national rows)."""
    if not table_exists(conn, f"{schema}.mart_justice_attrition"):
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
        (label, fmt_value(number(value), DEFAULT_MARKER) if value is not None else "sin dato")
        for (_, label), value in zip(MEDIAN_STAGES, row, strict=True)
    ]


def priorities_panel(
    conn: psycopg.Connection, schema: str = "marts", limit: int = 8
) -> PanelResult:
    """The citizens' priority issues by share of votes, each with its indicator's trend."""
    result = PanelResult(PRIORITIES)
    table = f"{schema}.mart_consultation_priorities"
    if not table_exists(conn, table):
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
    result.image = bar_chart(labels, [100 * (number(share) or 0.0) for _, share, *_ in rows], "")
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
    if not table_exists(conn, "marts.mart_crime_reports_monthly"):
        result.missing = "Sin datos todavía (no data yet): marts.mart_crime_reports_monthly."
        return result
    rows = conn.execute(
        "select month, sum(victims) from marts.mart_crime_reports_monthly"
        " where month > %s and month <= %s group by month order by month",
        (month_shift(period, -WINDOW_MONTHS), period),
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
    result.image = line_chart([series], DEFAULT_MARKER)
    result.table = summary_table([series], DEFAULT_MARKER, period)
    return result
