"""The bulletin's panels: which indicators each one shows, its chart, its table and its text.

Panels name indicator codes (checked against the definitions by a unit test); every label a
reader sees is the indicator's Spanish name and unit from its definition. A chart has one
unit: counts and rates are never drawn on one axis. A panel whose indicators are not in the
mart yet says so instead of drawing an empty chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from observatorio.delivery.bulletin import charts
from observatorio.delivery.bulletin.geometry import Ring
from observatorio.delivery.bulletin.indicators import Indicators, month_shift
from observatorio.delivery.bulletin.labels import (
    DASH,
    indicator,
    month_tick,
    name,
    number,
    percent,
    period_words,
    unit_words,
)
from observatorio.delivery.bulletin.narrative import describe
from observatorio.delivery.bulletin.series import (
    Line,
    MunicipalFigure,
    Point,
    municipal_window,
    national_line,
    value_of,
)
from observatorio.indicators.definitions import Indicator


@dataclass(frozen=True)
class Panel:
    """One panel of the bulletin and the indicator codes it is drawn from, in order."""

    key: str
    title: str
    codes: tuple[str, ...]
    wide: bool = False


HOMICIDE_RATES = ("homicide_rate_reconciled", "homicide_rate_police", "homicide_rate_health")
PANELS = (
    Panel("homicide_rates", "Tasa de homicidio intencional por fuente", HOMICIDE_RATES),
    Panel(
        "homicide_counts",
        "Víctimas de homicidio intencional por fuente",
        ("homicide_reconciled", "homicide_count_police", "homicide_count_health"),
    ),
    Panel("femicides", "Víctimas de femicidio por mes", ("femicide_count", "femicide_rate")),
    Panel(
        "violence_rates",
        "Violencia intrafamiliar y sexual denunciada",
        ("intrafamily_violence_rate", "sexual_violence_rate"),
    ),
    Panel("homicide_map", "Mapa municipal de la tasa de homicidio", HOMICIDE_RATES, wide=True),
    Panel(
        "municipality_ranking",
        "Municipios con mayor tasa de homicidio (últimos 12 meses)",
        HOMICIDE_RATES,
        wide=True,
    ),
    Panel(
        "justice_funnel",
        "Embudo de la justicia (últimos 12 meses)",
        (
            "justice_funnel_reports",
            "justice_funnel_cases",
            "justice_funnel_indictments",
            "justice_funnel_convictions",
        ),
    ),
    Panel("dark_figure", "Cifra oculta: delitos que no se denuncian", ()),
    Panel(
        "data_quality",
        "Calidad de los datos",
        ("reporting_coverage_share", "undetermined_intent_share"),
    ),
)
RANKED = 15


@dataclass
class PanelResult:
    panel: Panel
    image: str | None = None  # base64 PNG
    text: str = ""
    header: tuple[str, ...] = ()
    table: list[tuple[str, ...]] = field(default_factory=list)
    note: str = ""
    missing: str | None = None


@dataclass
class Context:
    """What every panel reads: the protected indicators (the whole loaded span, and the last
    12 months alone for municipal totals), the months to chart, names and shapes."""

    data: Indicators
    window: Indicators
    period: str
    months: list[str]
    municipalities: dict[str, str]
    shapes: dict[str, list[Ring]] | None
    marker: str
    outlines: list[Ring] = field(default_factory=list)

    def available(self, codes: tuple[str, ...]) -> list[str]:
        present = set(self.data.codes())
        return [c for c in codes if c in present]

    def municipality(self, code: str) -> str:
        found = self.municipalities.get(code)
        return f"{found} ({code})" if found else code


def _missing(result: PanelResult, what: str) -> PanelResult:
    result.missing = f"Sin datos todavía: {what}."
    return result


def _value(ind: Indicator, p: Point | None, marker: str) -> str:
    if p is None:
        return "sin dato"
    if p.value is None:
        return marker if p.suppressed else "sin dato"
    if ind.unit == "share":
        return percent(p.value)
    return number(p.value, 0 if ind.unit == "count" else ind.publication.decimals)


def _interval(p: Point, decimals: int) -> str:
    return f"{number(p.lower, decimals)}{DASH}{number(p.upper, decimals)}"


def _comparison_table(result: PanelResult, lines: list[Line], ctx: Context) -> None:
    before, year_ago = month_shift(ctx.period, -1), month_shift(ctx.period, -12)
    result.header = ("", month_tick(ctx.period), month_tick(before), month_tick(year_ago))
    for line in lines:
        ind = line.definition
        result.table.append(
            (
                ind.name_es,
                *(_value(ind, line.at(m), ctx.marker) for m in (ctx.period, before, year_ago)),
            )
        )


def _one_unit(codes: list[str]) -> str:
    units = {unit_words(indicator(c)) for c in codes}
    if len(units) != 1:
        raise ValueError(f"one chart, one unit: {codes} have units {sorted(units)}")
    return units.pop()


def lines_panel(panel: Panel, ctx: Context) -> PanelResult:
    result = PanelResult(panel)
    codes = ctx.available(panel.codes)
    if not codes:
        return _missing(result, ", ".join(name(c) for c in panel.codes).lower())
    lines = [national_line(ctx.data, c) for c in codes]
    ind = indicator(codes[0])
    scale = 100.0 if ind.unit == "share" else 1.0
    decimals = {"count": 0, "share": 1}.get(ind.unit, ind.publication.decimals)
    result.image = charts.line_chart(
        [(line.definition.name_es, line) for line in lines],
        ctx.months,
        _one_unit(codes).capitalize(),
        scale,
        decimals,
    )
    result.text = " ".join(describe(line, ctx.period, ctx.marker) for line in lines[:2])
    _comparison_table(result, lines, ctx)
    if ind.has_poisson_interval:
        result.note = "La banda sombreada es el intervalo de confianza exacto de Poisson al 95 %."
    return result


def femicide_panel(panel: Panel, ctx: Context) -> PanelResult:
    result = PanelResult(panel)
    if "femicide_count" not in ctx.available(panel.codes):
        return _missing(result, name("femicide_count").lower())
    counts = national_line(ctx.data, "femicide_count")
    ind = counts.definition
    result.image = charts.month_bars(counts, ctx.months, ind.name_es, ctx.marker)
    result.text = describe(counts, ctx.period, ctx.marker)
    _comparison_table(result, [counts], ctx)
    if "femicide_rate" in ctx.available(panel.codes):
        rate = indicator("femicide_rate")
        # The national 12-month rate: every municipality's victims and women, suppressed
        # municipalities included (a national total reveals no single cell).
        cells = [r for r in ctx.window.of("femicide_rate") if _all_groups(r)]
        n = sum(float(r["numerator"] or 0) for r in cells)
        d = sum(float(r["denominator"] or 0) for r in cells)
        if cells:
            small = 1 <= n < rate.publication.min_cell_size
            p = Point(None, suppressed=True) if small else value_of(rate, n, d)
            result.table.append(
                (
                    f"{rate.name_es}, {unit_words(rate)} (12 meses)",
                    _value(rate, p, ctx.marker),
                    "",
                    "",
                )
            )
    return result


def _all_groups(r: dict[str, object]) -> bool:
    return r["sex"] == "all" and r["age_group"] == "all"


def _ranked_indicator(ctx: Context) -> str | None:
    """The first homicide rate (reconciled, then police, then forensic) with victims in the
    12 months: a series not built yet (all zeros) is not ranked or mapped."""
    found = ctx.available(HOMICIDE_RATES)
    for code in found:
        if any(float(r["numerator"] or 0) > 0 for r in ctx.window.of(code)):
            return code
    return found[0] if found else None


def _window_figures(ctx: Context, code: str) -> list[MunicipalFigure]:
    return municipal_window(ctx.window, code, set(ctx.window.months()))


def ranking_panel(panel: Panel, ctx: Context) -> PanelResult:
    result = PanelResult(panel)
    code = _ranked_indicator(ctx)
    if code is None:
        return _missing(result, "tasas municipales de homicidio")
    ind = indicator(code)
    figures = _window_figures(ctx, code)
    stable = sorted(
        (f for f in figures if f.point.value is not None and not f.point.unstable),
        key=lambda f: (-(f.point.value or 0.0), f.code),
    )[:RANKED]
    unstable = [f for f in figures if f.point.value is not None and f.point.unstable]
    hidden = [f for f in figures if f.point.value is None]
    threshold = ind.publication.min_stable_numerator
    if stable:
        result.image = charts.bars(
            [ctx.municipality(f.code) for f in stable],
            [f.point for f in stable],
            unit_words(ind).capitalize(),
            [number(f.point.value, ind.publication.decimals) for f in stable],
        )
    result.header = ("Municipio", "Tasa", "IC 95 %", "Víctimas")
    result.table = [
        (
            ctx.municipality(f.code),
            number(f.point.value, ind.publication.decimals),
            _interval(f.point, ind.publication.decimals),
            number(f.point.numerator),
        )
        for f in stable
    ]
    result.text = (
        f"{ind.name_es}, {unit_words(ind)}, en los 12 meses hasta {period_words(ctx.period)}. "
        f"Solo se ordenan las tasas estables (al menos {threshold} víctimas en 12 meses): "
        f"{len(stable)} municipios."
    )
    if unstable:
        names = ", ".join(ctx.municipality(f.code) for f in sorted(unstable, key=lambda f: f.code))
        result.note = f"Inestable (menos de {threshold} víctimas, no se ordenan): {names}. "
    if hidden:
        result.note += (
            f"{len(hidden)} municipios con cifras suprimidas ({ctx.marker}) por confidencialidad."
        )
    return result


def map_panel(panel: Panel, ctx: Context) -> PanelResult:
    result = PanelResult(panel)
    code = _ranked_indicator(ctx)
    if code is None:
        return _missing(result, "tasas municipales de homicidio")
    if not ctx.shapes:
        result.missing = (
            "El perfil del país no aporta geometrías municipales (municipios.geojson): "
            "no se dibuja el mapa."
        )
        return result
    ind = indicator(code)
    figures = {f.code: f.point for f in _window_figures(ctx, code)}
    top = sorted(
        (c for c, p in figures.items() if p.value is not None and not p.unstable),
        key=lambda c: -(figures[c].value or 0.0),
    )[:5]
    labelled = {c: ctx.municipalities.get(c, c) for c in top}
    result.image = charts.choropleth(
        ctx.shapes,
        figures,
        f"{ind.name_es}\n{unit_words(ind)}",
        ctx.marker,
        labelled,
        ctx.outlines,
    )
    unmapped = sorted(set(figures) - set(ctx.shapes))
    result.text = (
        f"{ind.name_es} por municipio, {unit_words(ind)}, 12 meses hasta "
        f"{period_words(ctx.period)}. Rayado: tasa inestable; gris: suprimida o sin dato. "
        "Se nombran los cinco municipios con la tasa estable más alta."
    )
    if unmapped:
        result.note = (
            f"Sin geometría en el perfil: {', '.join(ctx.municipality(c) for c in unmapped)}."
        )
    return result


def funnel_panel(panel: Panel, ctx: Context, medians: list[tuple[str, str]]) -> PanelResult:
    result = PanelResult(panel)
    codes = ctx.available(panel.codes)
    if not codes:
        return _missing(result, "embudo de la justicia")
    points = []
    for code in codes:
        ind = indicator(code)
        total = sum(
            float(r["numerator"] or 0)
            for r in ctx.window.of(code)
            if r["sex"] == "all" and r["age_group"] == "all"
        )
        # A national 12-month total is published unless it is itself a small count.
        small = 1 <= total < ind.publication.min_cell_size
        points.append(Point(None, suppressed=True) if small else Point(total, numerator=total))
    labels = [name(c).split(": ")[-1].capitalize() for c in codes]
    result.image = charts.bars(
        labels,
        points,
        "Casos en 12 meses",
        [_value(indicator(c), p, ctx.marker) for c, p in zip(codes, points, strict=True)],
    )
    result.header = ("Etapa", "Casos en 12 meses")
    result.table = [
        (label, _value(indicator(c), p, ctx.marker))
        for label, c, p in zip(labels, codes, points, strict=True)
    ]
    result.table += medians
    first, last = points[0].value, points[-1].value
    if first and last is not None:
        result.text = (
            f"En los 12 meses hasta {period_words(ctx.period)} se registraron "
            f"{number(first)} {labels[0].lower()} y {number(last)} {labels[-1].lower()}: "
            f"{number(100 * last / first, 1)} por cada 100 (no son necesariamente los mismos "
            "casos: cada etapa se cuenta en el mes en que ocurre)."
        )
    return result
