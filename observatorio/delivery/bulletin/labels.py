"""Everything the bulletin writes for a reader, in Spanish: names, units in words, dates, numbers.

Indicator names and units come from the indicator definitions (`observatorio.indicators`),
never from codes; the sources' Spanish names are defined here once (the definitions name a
source by its code only) and a unit test checks that every source code of the definitions
has one. Dates are written as a reader writes them ("diciembre de 2024", "6 de diciembre de
2026"), numbers with a thin space between thousands and a decimal comma.
"""

from __future__ import annotations

from datetime import date, datetime

from observatorio.indicators.definitions import Indicator, load_definitions

MONTHS_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)
MONTHS_SHORT_ES = tuple(m[:3] for m in MONTHS_ES)
# Typography a reader expects (escaped so the source stays unambiguous to linters).
TIMES, MINUS, DASH = "\u00d7", "\u2212", "\u2013"

# The sources' names as a Spanish reader knows them, by the definitions' source code.
SOURCE_NAMES_ES = {
    "police": "Policía",
    "health": "Medicina Legal",
    "justice": "Fiscalía y tribunales",
    "survey": "Encuesta de victimización",
    "reconciled": "Registro conciliado de víctimas",
    "consultations": "Consultas ciudadanas",
}
# What each source is, for the methods page.
SOURCE_DESCRIPTIONS_ES = {
    "police": "denuncias, detenciones, quejas y uso de la fuerza registrados por la policía",
    "health": "muertes violentas certificadas por medicina legal (causa básica CIE-10) e "
    "ingresos hospitalarios por lesiones",
    "justice": "causas de la fiscalía y sentencias de los tribunales",
    "survey": "encuesta anual de victimización a personas adultas, ponderada por el factor "
    "de expansión",
    "reconciled": "víctimas de homicidio enlazadas entre policía, medicina legal y fiscalía, "
    "contando cada víctima una sola vez",
}
# Who a rate's population denominator counts, by the spine population it names.
POPULATIONS_ES = {"population": "habitantes", "female_population": "mujeres"}
FORMULAS_ES = {
    "count": "recuento mensual de casos",
    "gap": "meses sin registros de la fuente",
    "per_100k": f"casos {TIMES} 100 000 ÷ población",
    "share": "numerador ÷ denominador",
    "coverage_share": "fuentes que reportan ÷ fuentes esperadas",
    "complement_share": f"1 {MINUS} víctimas que denunciaron ÷ víctimas (ponderado)",
    "median": "mediana de días entre etapas",
}


def source_name(code: str | None) -> str:
    """A source (or a `+`-joined set of sources) in Spanish; unknown codes fail loudly."""
    if not code:
        return "sin fuente"
    parts = [p for p in str(code).split("+") if p]
    missing = [p for p in parts if p not in SOURCE_NAMES_ES]
    if missing:
        raise KeyError(f"no Spanish name for source(s) {missing}: add them to SOURCE_NAMES_ES")
    names = [SOURCE_NAMES_ES[p] for p in parts]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " y " + names[-1]


def indicator(code: str) -> Indicator:
    return load_definitions().get(code)


def name(code: str) -> str:
    """The indicator's Spanish name, as its definition states it."""
    return indicator(code).name_es


def is_counted_rate(ind: Indicator) -> bool:
    """A monthly rate of counted events over a population (annualised when published)."""
    return ind.has_poisson_interval


def unit_words(ind: Indicator, annual: bool = True) -> str:
    """The indicator's unit in words ("por 100 000 habitantes al año")."""
    if ind.unit == "per 100k":
        if ind.denominator is not None and ind.denominator.population is not None:
            who = POPULATIONS_ES.get(ind.denominator.population, "habitantes")
            return f"por 100 000 {who}" + (" al año" if annual else " al mes")
        return "por 100 000 adultos en el año de la encuesta"
    if ind.unit == "share":
        return "porcentaje"
    if ind.unit == "ratio":
        return "razón"
    if ind.unit == "days":
        return "días (mediana)"
    return "casos en el mes" if not annual else "casos"


def period_words(period: str) -> str:
    """`2024-12` → "diciembre de 2024"."""
    year, month = period.split("-")
    return f"{MONTHS_ES[int(month) - 1]} de {int(year)}"


def month_tick(period: str) -> str:
    """`2024-12` → "dic 2024" (chart axes)."""
    year, month = period.split("-")
    return f"{MONTHS_SHORT_ES[int(month) - 1]} {year}"


def day_words(day: date | datetime) -> str:
    """A date as a reader writes it: "6 de diciembre de 2026"."""
    return f"{day.day} de {MONTHS_ES[day.month - 1]} de {day.year}"


def number(value: float | None, decimals: int = 0, marker: str = "*") -> str:
    """Spanish number: thin space between thousands, decimal comma; None → the marker."""
    if value is None:
        return marker
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\u2009").replace(".", ",")


def percent(value: float | None, decimals: int = 1, marker: str = "*") -> str:
    if value is None:
        return marker
    return f"{number(100 * value, decimals)} %"


def internal_codes() -> set[str]:
    """Every code a reader must never see as a label: indicators, sources, fact interfaces."""
    definitions = load_definitions()
    codes = set(definitions.codes)
    for ind in definitions.indicators:
        codes.update(p for p in ind.source.split("+") if p)
        codes.add(ind.source)
    codes.update(definitions.interfaces)
    codes.update(s.source for s in definitions.reporting_sources)
    return {c for c in codes if c}
