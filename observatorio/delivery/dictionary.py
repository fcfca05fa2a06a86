"""The data dictionary of a delivery, in the recipient's language: one row per delivered
column, then one per indicator the delivery holds.

What a column is (its description in Spanish and English, its unit, the indicator it counts)
comes from the extracts' glossary (`extracts/_columns.yaml`) and, for an indicator, from its
definition (`dbt_project/indicators/`): its name in the recipient's language and its unit in
words ("por 100 000 habitantes al año" when the definition annualises the rate). The column's
type comes from the dbt docs, its source from the source systems that feed the mart
(`marts.dim_source_system`, by name), its confidentiality from the recipient's disclosure
level and the publication rules, and the last column (`origen`) keeps the technical lineage
(mart column and raw tables) for the recipient's data engineers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from observatorio.delivery.disclosure import SUPPRESSING_LEVELS
from observatorio.delivery.specs import Dataset, ExtractColumn, ExtractSpec

DICTIONARY_HEADERS = {
    "es": [
        "conjunto",
        "columna",
        "descripcion",
        "unidad",
        "tipo",
        "formula",
        "fuente",
        "confidencialidad",
        "origen",
    ],
    "en": [
        "dataset",
        "column",
        "description",
        "unit",
        "type",
        "formula",
        "source",
        "confidentiality",
        "lineage",
    ],
}
DICTIONARY_FILE = {"es": "diccionario_de_datos.csv", "en": "data_dictionary.csv"}

# The definitions' units (`observatorio.indicators.definitions.UNITS`) in words.
UNIT_WORDS = {
    "es": {
        "count": "número de casos",
        "per 100k": "por 100 000 {population}",
        "share": "proporción (de 0 a 1)",
        "ratio": "razón",
        "days": "días",
    },
    "en": {
        "count": "number of cases",
        "per 100k": "per 100 000 {population}",
        "share": "proportion (0 to 1)",
        "ratio": "ratio",
        "days": "days",
    },
}
POPULATION_WORDS = {
    "es": {"population": "habitantes", "female_population": "mujeres"},
    "en": {"population": "population", "female_population": "women"},
}
A_YEAR = {"es": " al año", "en": " a year"}
# How each kind of indicator is computed (`observatorio.indicators.definitions.KINDS`).
FORMULA_WORDS = {
    "es": {
        "count": "numerador",
        "gap": "numerador",
        "per_100k": "numerador \u00d7 100 000 ÷ denominador",
        "share": "numerador ÷ denominador",
        "coverage_share": "numerador ÷ denominador",
        "complement_share": "1 \u2212 numerador ÷ denominador",
        "median": "mediana de los días",
    },
    "en": {
        "count": "numerator",
        "gap": "numerator",
        "per_100k": "numerator \u00d7 100 000 ÷ denominator",
        "share": "numerator ÷ denominator",
        "coverage_share": "numerator ÷ denominator",
        "complement_share": "1 \u2212 numerator ÷ denominator",
        "median": "median of the days",
    },
}
LEVEL_WORDS = {
    "es": {"public": "público", "external": "externo", "owner": "titular de los datos"},
    "en": {"public": "public", "external": "external", "owner": "data owner"},
}
SUPPRESSED_NOTE = {
    "es": (
        "Suprimido ({marker}) si vale {small} (tamaño mínimo de celda {size}, reglas de "
        "publicación de los indicadores) o para proteger otra celda suprimida; destinatario {level}"
    ),
    "en": (
        "Suppressed ({marker}) when {small} (minimum cell size {size}, the indicators' "
        "publication rules), or to protect another suppressed cell; {level} recipient"
    ),
}
SMALL_WORDS = {
    "es": ("1", "de 1 a {last}"),
    "en": ("1", "1 to {last}"),
}
EXACT_NOTE = {
    "es": "Cifras exactas, sin supresión: destinatario {level}, bajo acuerdo de uso de datos",
    "en": "Exact counts, no suppression: {level} recipient, under a data-sharing agreement",
}


def confidentiality_note(spec: ExtractSpec, dataset: Dataset) -> str:
    """What the recipient's level does to the dataset's counts, generated from the rule."""
    language = spec.language
    level = LEVEL_WORDS[language][spec.level]
    if spec.level not in SUPPRESSING_LEVELS:
        return EXACT_NOTE[language].format(level=level)
    rule = dataset.disclosure
    last = rule.threshold - 1
    one, several = SMALL_WORDS[language]
    small = one if last == 1 else several.format(last=last)
    return SUPPRESSED_NOTE[language].format(
        marker=rule.marker, small=small, size=rule.threshold, level=level
    )


def unit_words(unit: str | None, language: str, indicator: Any = None) -> str:
    """A unit in words; a rate names its population and says "a year" when annualised."""
    if not unit:
        return ""
    words = UNIT_WORDS[language].get(unit, unit)
    population = "population"
    if indicator is not None and indicator.denominator is not None:
        population = indicator.denominator.population or population
    words = words.format(population=POPULATION_WORDS[language].get(population, population))
    if unit == "per 100k" and indicator is not None and getattr(indicator, "annualised", False):
        words += A_YEAR[language]
    return words


def _definition(code: str | None) -> Any:
    if code is None:
        return None
    from observatorio.indicators.definitions import load_definitions

    return load_definitions().get(code)


def _indicator_name(indicator: Any, language: str) -> str:
    return str(indicator.name_es if language == "es" else indicator.name_en)


def dictionary_rows(
    spec: ExtractSpec,
    dataset: Dataset,
    node: dict[str, Any],
    sources: list[str],
    headers: Mapping[str, str],
    source_names: Mapping[str, str],
    delivered_codes: Iterable[str] = (),
) -> list[list[str]]:
    """Per column, then per indicator delivered: what it is, in the recipient's language."""
    language = spec.language
    documented = node.get("columns", {})
    rule = dataset.disclosure
    note = confidentiality_note(spec, dataset)
    source = ", ".join(dict.fromkeys(source_names.get(s, s) for s in sources))
    raw = ", ".join(f"raw.{s}" for s in sources)
    rows: list[list[str]] = []
    for column in dataset.columns:
        rows.append(_column_row(spec, dataset, column, documented, headers, source, raw, note))
    for code in sorted(set(delivered_codes)):
        indicator = _definition(code)
        text = _indicator_name(indicator, language)
        if indicator.basis:
            text += f" ({indicator.basis})"
        rows.append(
            [
                dataset.name,
                _indicator_name(indicator, language),
                text + ".",
                unit_words(indicator.unit, language, indicator),
                "",
                FORMULA_WORDS[language].get(indicator.kind, ""),
                source,
                note if rule.counts else "",
                f"indicator_code = {code} (dbt_project/indicators/{indicator.family}.yml)",
            ]
        )
    return rows


def _column_row(
    spec: ExtractSpec,
    dataset: Dataset,
    column: ExtractColumn,
    documented: Mapping[str, Any],
    headers: Mapping[str, str],
    source: str,
    raw: str,
    note: str,
) -> list[str]:
    language = spec.language
    rule = dataset.disclosure
    indicator = _definition(column.indicator)
    mart_column = column.names_of or column.name
    doc = documented.get(mart_column, {})
    if indicator is not None:
        description = _indicator_name(indicator, language) + "."
    else:
        description = column.descriptions.get(language) or column.descriptions.get("en", "")
    if dataset.grain and column.from_mart and column.name not in dataset.grain:
        description += " Suma al nivel de detalle entregado." if language == "es" else " Summed."
    protected = column.name in rule.counts or column.name in rule.rates
    lineage = f"marts.{dataset.mart}.{mart_column} ← {raw}"
    return [
        dataset.name,
        headers[column.name],
        description,
        unit_words(column.unit, language, indicator),
        "text" if column.names_of or column.named_by else str(doc.get("data_type") or ""),
        FORMULA_WORDS[language].get(indicator.kind, "") if indicator is not None else "",
        source,
        note if protected else "",
        lineage,
    ]
