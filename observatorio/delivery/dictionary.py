"""The data dictionary of a delivery: one row per delivered column, then per indicator.

Each column's type and description come from the dbt docs (the mart's node in the dbt
manifest), its formula and source from the column's `meta`, and each delivered indicator's
definition from `reference.ref_indicators`, the one list of indicator definitions. Columns
under disclosure control carry the spec's confidentiality note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg.rows import dict_row

from observatorio.delivery.specs import Dataset, ExtractSpec

DICTIONARY_HEADERS = {
    "es": [
        "conjunto",
        "columna",
        "columna_origen",
        "tipo",
        "descripcion",
        "formula",
        "fuente",
        "confidencialidad",
    ],
    "en": [
        "dataset",
        "column",
        "source_column",
        "type",
        "description",
        "formula",
        "source",
        "confidentiality",
    ],
}
DICTIONARY_FILE = {"es": "diccionario_de_datos.csv", "en": "data_dictionary.csv"}
CONFIDENTIALITY_NOTE = {
    "es": "Suprimido ({marker}) si vale de 1 a {last} o para proteger otra celda suprimida",
    "en": "Suppressed ({marker}) when 1 to {last}, or to protect another suppressed cell",
}


def indicator_definitions(conn: psycopg.Connection) -> dict[str, dict[str, Any]]:
    """`reference.ref_indicators` (the one list of indicator definitions), by code."""
    if conn.execute("select to_regclass('reference.ref_indicators')").fetchone() == (None,):
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select indicator_code, name_en, name_es, unit, source, numerator, denominator,"
            " formula from reference.ref_indicators order by indicator_code"
        ).fetchall()
    return {str(r["indicator_code"]): dict(r) for r in rows}


INDICATOR_TEXT = {
    "es": "{name} ({unit}). Numerador: {numerator}.{denominator}",
    "en": "{name} ({unit}). Numerator: {numerator}.{denominator}",
}
DENOMINATOR_TEXT = {"es": " Denominador: {}.", "en": " Denominator: {}."}


def _indicator_row(
    dataset: Dataset, definition: Mapping[str, Any], language: str, note: str
) -> list[str]:
    denominator = definition.get("denominator") or ""
    text = INDICATOR_TEXT[language].format(
        name=definition.get(f"name_{language}") or definition.get("name_en") or "",
        unit=definition.get("unit") or "",
        numerator=" ".join(str(definition.get("numerator") or "").split()),
        denominator=DENOMINATOR_TEXT[language].format(denominator) if denominator else "",
    )
    return [
        dataset.name,
        f"indicator_code = {definition['indicator_code']}",
        "indicator_code",
        str(definition.get("unit") or ""),
        text,
        str(definition.get("formula") or ""),
        f"{definition.get('source') or ''} (reference.ref_indicators)",
        note,
    ]


def _column_meta(doc: Mapping[str, Any], key: str) -> str:
    meta = {**(doc.get("meta") or {}), **((doc.get("config") or {}).get("meta") or {})}
    return " ".join(str(meta.get(key) or "").split())


def dictionary_rows(
    spec: ExtractSpec,
    dataset: Dataset,
    node: dict[str, Any],
    sources: list[str],
    headers: Mapping[str, str],
    indicators: Mapping[str, Mapping[str, Any]] | None = None,
    delivered_codes: Iterable[str] = (),
) -> list[list[str]]:
    """Per column: header, type and description from the dbt docs, formula and source; then
    per indicator delivered (or named by a column's `meta.indicator`), its definition from
    `reference.ref_indicators`."""
    indicators = indicators or {}
    documented = node.get("columns", {})
    rule = dataset.disclosure
    note = CONFIDENTIALITY_NOTE[spec.language].format(marker=rule.marker, last=rule.threshold - 1)
    default_source = f"marts.{dataset.mart} ← " + ", ".join(f"raw.{s}" for s in sources)
    rows: list[list[str]] = []
    for column in dataset.columns:
        doc = documented.get(column.name, {})
        protected = column.name in rule.counts or column.name in rule.rates
        aggregated = " (sum)" if dataset.grain and column.name not in dataset.grain else ""
        indicator = indicators.get(_column_meta(doc, "indicator"), {})
        rows.append(
            [
                dataset.name,
                headers[column.name],
                column.name,
                str(doc.get("data_type") or ""),
                " ".join(str(doc.get("description") or "").split()) + aggregated,
                _column_meta(doc, "formula") or str(indicator.get("formula") or ""),
                _column_meta(doc, "source")
                or (f"{indicator['source']} (reference.ref_indicators)" if indicator else "")
                or default_source,
                note if protected else "",
            ]
        )
    for code in sorted(set(delivered_codes)):
        if code in indicators:
            rows.append(_indicator_row(dataset, indicators[code], spec.language, note))
    # Indicator marts may document each indicator in the model's meta: list those delivered.
    indicators = _column_meta_dict(node, "indicators")
    for code, definition in sorted(indicators.items()):
        rows.append(
            [
                dataset.name,
                f"indicator_code = {code}",
                "indicator_code",
                "",
                " ".join(str(definition.get("description") or "").split()),
                " ".join(str(definition.get("formula") or "").split()),
                " ".join(str(definition.get("source") or "").split()) or default_source,
                note,
            ]
        )
    return rows


def _column_meta_dict(node: Mapping[str, Any], key: str) -> dict[str, dict[str, Any]]:
    meta = {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}
    value = meta.get(key) or {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}
