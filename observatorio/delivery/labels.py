"""Names for codes: what a recipient reads instead of an internal code.

Each code list is read where it is defined: municipalities from `marts.dim_municipality` (the
country profile's geography),
source systems (institutions) from `marts.dim_source_system`, indicators from their
definitions (`dbt_project/indicators/`), and the few lists no relation names from the
extracts' glossary (`extracts/_columns.yaml`, `code_lists`). A code without a name fails the
delivery naming the list and the code: a recipient never gets the code in its place.
"""

from __future__ import annotations

from collections.abc import Mapping

import psycopg
from psycopg import sql

from observatorio.delivery.errors import ExtractError
from observatorio.delivery.specs import Glossary

# The relations a built-in list is read from: (relation, code column, name column per language).
RELATIONS: dict[str, tuple[str, str, str, Mapping[str, str]]] = {
    "municipality": (
        "marts",
        "dim_municipality",
        "municipality_code",
        {"es": "municipality_name", "en": "municipality_name"},
    ),
    "source_system": (
        "marts",
        "dim_source_system",
        "source_system_code",
        {"es": "institution_es", "en": "institution_en"},
    ),
}


class CodeLabels:
    """The names of the code lists a delivery needs, in the recipient's language."""

    def __init__(self, names: Mapping[str, Mapping[str, str]], language: str) -> None:
        self.names = names
        self.language = language

    def name(self, code_list: str, code: object, where: str) -> str:
        found = self.names.get(code_list, {}).get(str(code))
        if found is None:
            raise ExtractError(f"{where}: code {code!r} has no name in the code list {code_list!r}")
        return found

    def names_in(self, code_list: str, value: object, where: str) -> str:
        """A value holding one code, or several separated by commas, as names."""
        codes = [c.strip() for c in str(value).split(",") if c.strip()]
        return ", ".join(self.name(code_list, c, where) for c in codes)


def load_labels(
    conn: psycopg.Connection, glossary: Glossary | None, lists: set[str], language: str
) -> CodeLabels:
    names: dict[str, dict[str, str]] = {}
    glossary = glossary or Glossary(columns={}, code_lists={})
    for code_list in sorted(lists):
        if code_list in glossary.code_lists:
            names[code_list] = {
                str(code): str(labels.get(language) or labels.get("es") or "")
                for code, labels in glossary.code_lists[code_list].items()
            }
        elif code_list == "indicator":
            from observatorio.indicators.definitions import load_definitions

            names[code_list] = {
                i.code: i.name_es if language == "es" else i.name_en
                for i in load_definitions().indicators
            }
        else:
            schema, table, key, columns = RELATIONS[code_list]
            found = conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()
            if found is None or found[0] is None:
                raise ExtractError(
                    f"the names of code list {code_list!r} are in {schema}.{table}, which is not "
                    "built: run `observatorio transform` (dbt build) first"
                )
            query = sql.SQL("select {}, {} from {}").format(
                sql.Identifier(key),
                sql.Identifier(columns[language]),
                sql.Identifier(schema, table),
            )
            names[code_list] = {str(r[0]): str(r[1]) for r in conn.execute(query).fetchall()}
    return CodeLabels(names, language)


def source_names(conn: psycopg.Connection, language: str) -> dict[str, str] | None:
    """Each raw source (`police__reports`) as its system and institution name, from
    `marts.dim_source_system`: "Registros policiales (Policía Nacional)". None when that
    relation is not built (a partial dbt build): the caller warns."""
    schema, table, _, columns = RELATIONS["source_system"]
    found = conn.execute("select to_regclass(%s)", (f"{schema}.{table}",)).fetchone()
    if found is None or found[0] is None:
        return None
    query = sql.SQL("select source_entities, {}, {} from {}").format(
        sql.Identifier(f"source_system_name_{language}"),
        sql.Identifier(columns[language]),
        sql.Identifier(schema, table),
    )
    names: dict[str, str] = {}
    for entities, system, institution in conn.execute(query).fetchall():
        for entity in str(entities).split(","):
            names[entity.strip()] = f"{system} ({institution})"
    return names
