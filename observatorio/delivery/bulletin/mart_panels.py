"""Panels that read marts beside the indicator table: the survey's dark figure (with the
respondents behind each estimate, from the row-level contributions), the justice medians, the
citizens' priorities and the police victims. Each mart is read from the indicator table's
schema; a mart that is not built makes its panel say so.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from observatorio.delivery.bulletin import charts
from observatorio.delivery.bulletin.indicators import (
    WINDOW_MONTHS,
    month_shift,
    number,
    table_exists,
)
from observatorio.delivery.bulletin.labels import (
    indicator,
    month_tick,
    name,
    percent,
    period_words,
    source_name,
)
from observatorio.delivery.bulletin.labels import number as fmt
from observatorio.delivery.bulletin.panels import Context, Panel, PanelResult
from observatorio.delivery.bulletin.series import Line, Point
from observatorio.indicators.definitions import load_definitions

DARK_FIGURE = Panel("dark_figure", "Cifra oculta: delitos que no se denuncian", ())
PRIORITIES = Panel("citizen_priorities", "Prioridades ciudadanas en las consultas", ())
POLICE_VICTIMS = Panel("police_victims", "Víctimas en denuncias policiales, total nacional", ())
TRENDS_ES = {"up": "sube", "down": "baja", "flat": "estable", "unknown": "sin tendencia"}
MEDIANS = (
    "justice_median_days_report_to_case",
    "justice_median_days_case_to_indictment",
    "justice_median_days_indictment_to_judgement",
)


def dark_figure_codes() -> list[str]:
    """The survey's dark-figure indicators, as the definitions list them."""
    return [i.code for i in load_definitions().indicators if i.kind == "complement_share"]


def _respondents(
    conn: psycopg.Connection, schema: str, month: str, codes: list[str]
) -> dict[str, int] | None:
    """Unweighted victims behind each estimate (the row-level contributions), or None when the
    contributions are not in the schema."""
    if not table_exists(conn, f"{schema}.fct_indicator_contributions"):
        return None
    query = sql.SQL(
        "select indicator_code, count(distinct counted_id) from {}.fct_indicator_contributions"
        " where month = %s and indicator_code = any(%s) and denominator_weight > 0"
        " group by indicator_code"
    ).format(sql.Identifier(schema))
    return {str(c): int(n) for c, n in conn.execute(query, (month, codes)).fetchall()}


SURVEY_ESTIMATES = "mart_survey_estimates"


def _design_based(conn: psycopg.Connection, schema: str) -> PanelResult | None:
    """The dark figure from the design-based estimates (`mart_survey_estimates`, when built):
    1 minus the national reporting rate of the latest survey year (all adults: sex and age
    group `all`), with its 95 % interval; an estimate the publication rules suppress (CV, too
    few victims) is listed, never drawn."""
    if not table_exists(conn, f"{schema}.{SURVEY_ESTIMATES}"):
        return None
    query = sql.SQL(
        "select survey_year, crime_type, value, value_lower_95, value_upper_95, cv,"
        " base_respondents, verdict from {}.{} where domain_level = 'national'"
        " and sex = 'all' and age_group = 'all' and measure = 'reporting_rate'"
        " and survey_year = (select max(survey_year) from {}.{})"
    ).format(
        sql.Identifier(schema),
        sql.Identifier(SURVEY_ESTIMATES),
        sql.Identifier(schema),
        sql.Identifier(SURVEY_ESTIMATES),
    )
    rows = conn.execute(query).fetchall()
    if not rows:
        return None
    known = set(load_definitions().codes)
    result = PanelResult(DARK_FIGURE)
    shown: list[tuple[str, Point, str]] = []
    withheld: list[str] = []
    year = rows[0][0]
    for _, crime, value, low, high, cv, base, verdict in rows:
        # The crime types the survey asks about are named by their dark-figure definition.
        code = f"dark_figure__{crime}"
        if code not in known:
            continue
        label = name(code)
        if verdict == "suppressed" or value is None:
            withheld.append(label)
            continue
        reported = float(value)
        point = Point(
            1 - reported,
            lower=None if high is None else 1 - float(high),
            upper=None if low is None else 1 - float(low),
        )
        note = f"{fmt(number(base))} víctimas encuestadas, CV {percent(number(cv), 0)}"
        if verdict == "imprecise":
            note += " (poco preciso)"
        shown.append((label, point, note))
    _dark_figure_result(
        result,
        shown,
        withheld,
        str(year),
        "coeficiente de variación o base de víctimas insuficiente",
    )
    return result


def _dark_figure_result(
    result: PanelResult,
    shown: list[tuple[str, Point, str]],
    withheld: list[str],
    year: str,
    rule: str,
) -> None:
    shown.sort(key=lambda s: -(s[1].value or 0))
    if shown:
        result.image = charts.bars(
            [s[0] for s in shown],
            [s[1] for s in shown],
            "Porcentaje de víctimas que no denunciaron",
            [percent(s[1].value, 0) for s in shown],
            scale=100.0,
        )
    result.header = ("Delito", "Cifra oculta", "Base")
    result.table = [(s[0], percent(s[1].value), s[2]) for s in shown]
    result.text = (
        f"{source_name('survey')} de {year}: porcentaje de víctimas que no denunciaron el delito "
        "a la policía, ponderado por el factor de expansión."
    )
    if shown:
        label, point, _ = shown[0]
        result.text += f" La mayor es la {label[0].lower() + label[1:]}: {percent(point.value, 0)}."
    if withheld:
        result.note = f"Sin estimación publicable ({rule}): " + ", ".join(withheld) + "."


def dark_figure_panel(conn: psycopg.Connection, ctx: Context, schema: str) -> PanelResult:
    """Each crime type's latest survey estimate: design-based with its interval and CV where
    the warehouse has them, else from the indicator mart, shown only when enough victims
    answered."""
    design = _design_based(conn, schema)
    if design is not None:
        return design
    result = PanelResult(DARK_FIGURE)
    codes = ctx.available(tuple(dark_figure_codes()))
    if not codes:
        result.missing = "Sin datos todavía: la encuesta de victimización no está en el mart."
        return result
    # The survey year's estimate sits in each month of its year: the latest month with victims.
    rows = [
        r for c in codes for r in ctx.data.of(c) if r["sex"] == "all" and r["age_group"] == "all"
    ]
    months = sorted({str(r["month"]) for r in rows if (number(r["denominator"]) or 0) > 0})
    if not months:
        result.missing = "Sin encuesta de victimización en los meses del boletín."
        return result
    month = months[-1]
    respondents = _respondents(conn, schema, month, codes)
    shown: list[tuple[str, Point, str]] = []
    too_few: list[str] = []
    for code in codes:
        ind = indicator(code)
        cells = [r for r in rows if r["indicator_code"] == code and str(r["month"]) == month]
        n = sum(number(r["numerator"]) or 0.0 for r in cells)
        d = sum(number(r["denominator"]) or 0.0 for r in cells)
        asked = None if respondents is None else respondents.get(code, 0)
        # Reliability: an estimate from fewer victims than the definition's stable minimum is
        # not shown as a number (the mart carries no design-based CV yet).
        if not d or (asked is not None and asked < ind.publication.min_stable_numerator):
            too_few.append(ind.name_es)
            continue
        label = f"{fmt(asked)} víctimas encuestadas" if asked is not None else "n no disponible"
        shown.append((ind.name_es, Point(1 - n / d), label))
    minimum = indicator(codes[0]).publication.min_stable_numerator
    rule = f"menos de {minimum} víctimas encuestadas"
    _dark_figure_result(result, shown, too_few, month.split("-")[0], rule)
    return result


def justice_medians(conn: psycopg.Connection, period: str, schema: str) -> list[tuple[str, str]]:
    """National median days between justice stages in the bulletin's month (medians do not add
    up from municipalities, so they come from the attrition mart's national rows)."""
    if not table_exists(conn, f"{schema}.mart_justice_attrition"):
        return []
    columns = [code.removeprefix("justice_") for code in MEDIANS]
    query = sql.SQL(
        "select {} from {}.mart_justice_attrition where area_level = 'national' and month = %s"
    ).format(sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema))
    row = conn.execute(query, (period,)).fetchone()
    if not row:
        return []
    return [
        (
            f"{name(code)} ({period_words(period)})",
            fmt(number(v), 0) if v is not None else "sin dato",
        )
        for code, v in zip(MEDIANS, row, strict=True)
    ]


def priorities_panel(conn: psycopg.Connection, schema: str, limit: int = 8) -> PanelResult:
    """The citizens' priority issues: the share of participants who chose each (bars, labelled
    with the votes), and where its indicator is heading."""
    result = PanelResult(PRIORITIES)
    if not table_exists(conn, f"{schema}.mart_consultation_priorities"):
        result.missing = "Sin datos todavía: consultas ciudadanas."
        return result
    query = sql.SQL(
        "select topic_label, vote_share, votes, indicator_code, trend"
        " from {}.mart_consultation_priorities order by priority_rank limit %s"
    ).format(sql.Identifier(schema))
    rows = conn.execute(query, (limit,)).fetchall()
    if not rows:
        result.missing = "Sin consultas ciudadanas todavía."
        return result
    known = set(load_definitions().codes)
    labels = [str(r[0]) for r in rows]
    points = [Point(number(r[1]) or 0.0) for r in rows]
    result.image = charts.bars(
        labels,
        points,
        "Porcentaje de participantes que eligieron el tema",
        [
            f"{percent(p.value, 0)} ({fmt(number(r[2]))} votos)"
            for p, r in zip(points, rows, strict=True)
        ],
        scale=100.0,
    )
    result.header = ("Tema", "Votos", "Indicador asociado", "Tendencia")
    result.table = [
        (
            str(label),
            fmt(number(votes)),
            name(str(code)) if code in known else "sin indicador",
            TRENDS_ES.get(str(trend), "sin tendencia"),
        )
        for label, _, votes, code, trend in rows
    ]
    result.text = (
        f"El tema más votado fue «{labels[0]}», elegido por {percent(points[0].value, 0)} de los "
        "participantes (cada participante puede elegir varios temas). La tendencia compara el "
        "indicador asociado en los últimos 3 meses con los 3 anteriores."
    )
    return result


def police_victims_panel(conn: psycopg.Connection, ctx: Context, schema: str) -> PanelResult:
    """National victims in police reports per month, from the police mart (when built)."""
    result = PanelResult(POLICE_VICTIMS)
    table = f"{schema}.mart_crime_reports_monthly"
    if not table_exists(conn, table):
        result.missing = "Sin datos todavía: denuncias policiales."
        return result
    query = sql.SQL(
        "select month, sum(victims) from {}.mart_crime_reports_monthly"
        " where month > %s and month <= %s group by month order by month"
    ).format(sql.Identifier(schema))
    rows = conn.execute(query, (month_shift(ctx.period, -WINDOW_MONTHS), ctx.period)).fetchall()
    if not rows:
        result.missing = "Sin denuncias policiales en los últimos 12 meses."
        return result
    threshold = min(i.publication.min_cell_size for i in load_definitions().indicators)
    line = Line("homicide_count_police")
    for month, total in rows:
        hidden = 1 <= int(total) < threshold
        line.points[str(month)] = Point(None if hidden else float(total), suppressed=hidden)
    months = [m for m in ctx.months if m in line.points]
    result.image = charts.month_bars(line, months, "Víctimas en denuncias", ctx.marker)
    latest = line.at(ctx.period)
    before = line.at(month_shift(ctx.period, -1))
    if latest is not None and latest.value is not None:
        result.text = (
            f"En {period_words(ctx.period)} la {source_name('police').lower()} registró "
            f"{fmt(latest.value)} víctimas en sus denuncias"
        )
        if before is not None and before.value:
            delta = latest.value - before.value
            word = "más" if delta >= 0 else "menos"
            result.text += (
                f", {fmt(abs(delta))} {word} que en {month_tick(month_shift(ctx.period, -1))}"
            )
        result.text += "."
    return result
