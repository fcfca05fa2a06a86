"""Write what is generated from the indicator definitions, or check it is up to date.

`python -m observatorio.indicators.generate` (or `make indicators`) rewrites, from
`dbt_project/indicators/*.yml` only:
- `dbt_project/macros/indicators/indicator_definitions.sql`: the macro that hands the
  definitions to dbt (`fct_indicator_contributions`, `mart_indicators_monthly`). dbt cannot
  read a file from a macro, so the definitions reach it as this generated JSON, with the
  project's publication defaults and each definition's own rules: the hand-written macro
  `resolve_publication` merges the active country profile's over them when dbt runs;
- `dbt_project/seeds/ref_indicators.csv`: the reference seed extracts, BI tools and the
  consultations mart read (names, unit, formula). Publication rules are not in it: they
  are the country's (`bi_dim_indicator` has them as the active profile gives them);
- `dbt_project/seeds/ref_poisson_exact_95.csv`: exact Poisson bounds for small counts
  (`observatorio.indicators.poisson`).
With `--check` it writes nothing and fails when either file differs from what the
definitions give (the unit test `tests/unit/test_indicator_definitions.py` runs it).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from observatorio.indicators import poisson
from observatorio.indicators.definitions import DEFINITIONS_DIR, Definitions, load_definitions

DBT_PROJECT = DEFINITIONS_DIR.parent
MACRO = DBT_PROJECT / "macros" / "indicators" / "indicator_definitions.sql"
SEED = DBT_PROJECT / "seeds" / "ref_indicators.csv"
SEED_COLUMNS = (
    "indicator_code",
    "name_en",
    "name_es",
    "unit",
    "source",
    "numerator",
    "denominator",
    "formula",
    "family",
    "kind",
    "basis",
    "disaggregations",
)


def _json_lines(payload: dict[str, Any]) -> str:
    """The payload as JSON with one line per listed item (an indicator, a fact): diffs show
    which definition changed, and no two definitions look like repeated code."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    parts = []
    for key in sorted(payload):
        value = payload[key]
        if isinstance(value, list):
            items = ",\n".join(f"  {one(item)}" for item in value)
            parts.append(f" {one(key)}: [\n{items}\n ]")
        else:
            parts.append(f" {one(key)}: {one(value)}")
    return "{\n" + ",\n".join(parts) + "\n}"


def macro_text(definitions: Definitions) -> str:
    """The dbt macro returning the definitions (a dict) to the models that build from them."""
    payload = _json_lines(definitions.to_dbt())
    return (
        "{#- GENERATED from dbt_project/indicators/*.yml by"
        " `python -m observatorio.indicators.generate`: do not edit.\n"
        "    The indicator definitions as the macros indicator_contributions() and\n"
        "    indicator_cells() read them, with the active country profile's publication\n"
        "    rules merged in (macro resolve_publication). -#}\n"
        "{% macro indicator_definitions() -%}\n"
        "{%- set payload -%}{% raw %}\n"
        f"{payload}\n"
        "{% endraw %}{%- endset -%}\n"
        "{{ return(resolve_publication(fromjson(payload))) }}\n"
        "{%- endmacro %}\n"
    )


def seed_text(definitions: Definitions) -> str:
    """`ref_indicators.csv`: one row per indicator, in definition order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SEED_COLUMNS)
    for i in definitions.indicators:
        writer.writerow(
            (
                i.code,
                i.name_en,
                i.name_es,
                i.unit,
                i.source,
                i.numerator.text,
                "" if i.denominator is None else i.denominator.text,
                i.formula,
                i.family,
                i.kind,
                i.basis,
                " ".join(i.disaggregations),
            )
        )
    return out.getvalue()


def outputs(definitions: Definitions | None = None) -> dict[Path, str]:
    """Each generated file and the text it must have."""
    # The project's own rules: a country's are merged in where they are read.
    found = definitions or load_definitions(country={})
    return {
        MACRO: macro_text(found),
        SEED: seed_text(found),
        poisson.SEED: poisson.seed_text(),
    }


def stale(definitions: Definitions | None = None) -> list[Path]:
    """The generated files that differ from what the definitions give."""
    return [
        path
        for path, text in outputs(definitions).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for path in found:
            print(f"{path}: out of date; run `python -m observatorio.indicators.generate`")
        return 1 if found else 0
    for path, text in outputs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
