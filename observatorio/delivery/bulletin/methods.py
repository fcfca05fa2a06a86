"""The bulletin's methods page: its sources, the definitions of the indicators it shows and the
suppression and reliability rules, all written from the definitions' publication rules."""

from __future__ import annotations

from dataclasses import dataclass

from observatorio.delivery.bulletin.labels import (
    FORMULAS_ES,
    SOURCE_DESCRIPTIONS_ES,
    TIMES,
    indicator,
    is_counted_rate,
    source_name,
    unit_words,
)
from observatorio.delivery.bulletin.mart_panels import MEDIANS, dark_figure_codes
from observatorio.delivery.bulletin.panels import PANELS
from observatorio.indicators.definitions import Indicator


@dataclass
class Methods:
    sources: list[tuple[str, str]]
    definitions: list[tuple[str, str, str, str, str]]
    rules: list[str]


def shown_codes() -> list[str]:
    """Every indicator the bulletin can show, in panel order, once."""
    codes: list[str] = []
    for code in [c for p in PANELS for c in p.codes] + dark_figure_codes() + list(MEDIANS):
        if code not in codes:
            codes.append(code)
    return codes


def _formula(ind: Indicator) -> str:
    if is_counted_rate(ind):
        who = unit_words(ind).removeprefix("por 100 000 ").removesuffix(" al año")
        return (
            f"casos {TIMES} 100 000 ÷ {who}, anualizada "
            f"(tasa del mes {TIMES} 12; 12 meses: casos ÷ {who})"
        )
    return FORMULAS_ES.get(ind.kind, ind.kind)


def _span(values: set[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"entre {low} y {high}, según el indicador"


def methods(threshold: int) -> Methods:
    indicators = [indicator(c) for c in shown_codes()]
    sources = sorted({p for i in indicators for p in i.source.split("+") if p})
    rates = [i for i in indicators if is_counted_rate(i)]
    stable = {i.publication.min_stable_numerator for i in rates} or {0}
    decimals = {i.publication.decimals for i in rates} or {0}
    survey = [i for i in indicators if i.kind == "complement_share"]
    rules = [
        f"Confidencialidad: una cifra de 1 a {threshold - 1} casos no se publica y se muestra "
        "como «*»; también se ocultan las cifras que permitirían deducirla por diferencia "
        "(supresión complementaria en cada tabla de municipios por mes).",
        f"Fiabilidad: una tasa que descansa en menos de {_span(stable)} casos es inestable. Se "
        "publica con su intervalo de confianza, se marca como inestable y no entra en las "
        "clasificaciones ni en el color del mapa.",
        "Intervalos: las tasas llevan el intervalo de confianza exacto de Poisson al 95 % "
        "(Garwood), calculado sobre los casos del periodo.",
        "Las tasas de casos registrados se expresan por 100 000 habitantes (o mujeres) al año: "
        "la tasa de un mes se multiplica por 12; la de 12 meses divide los casos del periodo "
        f"por la población. Se redondean a {_span(decimals)} decimales.".replace(
            "a 1 decimales", "a 1 decimal"
        ),
    ]
    if survey:
        minimum = _span({i.publication.min_stable_numerator for i in survey})
        rules.append(
            f"Encuesta: una cifra oculta estimada con menos de {minimum} víctimas encuestadas "
            "no se publica como número; se lista aparte."
        )
    definitions = [
        (i.name_es, unit_words(i), source_name(i.source), _formula(i), i.basis or "—")
        for i in indicators
    ]
    return Methods(
        sources=[(source_name(s), SOURCE_DESCRIPTIONS_ES.get(s, "")) for s in sources],
        definitions=definitions,
        rules=rules,
    )
