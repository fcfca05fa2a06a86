"""dbt `sources:` and the canonical interfaces' mappings, generated from the contracts.

Every active contract becomes one table of the dbt source named after its `source` (the raw
schema's `<source>__<entity>` table, its columns described from the contract, freshness from
the ledger when the contract says `freshness:`). A contract's `interface:` section, which says
how its rows map into a canonical interface (`violent_deaths`, `crime_counts`,
`court_hearings`), travels with the table as `meta.interface`: the interface models
(`dbt_project/models/staging/interfaces/`, macro `interface_union`) read it from dbt's graph,
so a new contract feeds an interface with no SQL written. `write_sources()` is run by
`make manifest` before `dbt parse` (`observatorio.transform.manifest`); a unit test keeps the
committed file current.

The mapping section, per interface:

```yaml
interface:
  crime_counts:
    source_system: police:sesnsp     # the label indicators publish as `source`
    correspondence: sesnsp           # code -> ICCS list (seed ref_offence_correspondences)
    columns:                         # interface column: contract column ...
      municipality_code: municipality_code
      national_offence_code: offence_type
      count: offences
    constants:                       # ... or interface column: a constant
      counting_unit: events
```

A column may also be a list of contract columns, joined in order (a code published in parts,
as DANE's EEVV gives the department and the municipality within it):
`municipality_code: [department_code, municipality_code_in_department]`. A source that
publishes the month of an event but not its day maps `year` and `month` instead of the date.

Imports `ingestion.contract` only.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from ingestion.contract import CONTRACTS_DIR, Contract, ContractError, load_contract_file

DBT_PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
SOURCES_FILE = Path("models") / "staging" / "_contracts__sources.yml"
PROVENANCE = (
    ("_batch_id", "The ingestion batch (ops.batch_ledger) that published the row."),
    ("_source_file", "The landed file the row was read from."),
    ("_source_row", "The row's number in that file (1 = the first data row)."),
    ("_file_sha256", "SHA-256 of that file."),
)

# The canonical interfaces a contract can map into: for each, its columns, which a mapping may
# fill from a contract column or a constant (the others are null), and those a mapping must
# fill. The other interfaces (`crime_events`, `justice_cases`, `court_judgements`,
# `justice_parties`, `survey_victimisation`) are fed by one staging model per source, for
# what a column mapping cannot say (`staged` in the macro `interface_union`).
INTERFACES: dict[str, dict[str, tuple[str, ...]]] = {
    "violent_deaths": {
        "columns": (
            "record_id",
            "death_date",
            "municipality_code",
            "sex",
            "age_years",
            "icd10_code",
            "intent_reported",
            "year",
            "month",
        ),
        # And the date: a `death_date`, or the `year` and `month` of a source that publishes
        # no day (the death is dated the 1st of its month, `death_date_precision` = month).
        "required": ("municipality_code", "icd10_code"),
    },
    "crime_counts": {
        "columns": (
            "municipality_code",
            "date",
            "year",
            "month",
            "period",
            "national_offence_code",
            "sex",
            "age_group",
            "counting_unit",
            "count",
        ),
        # And the period: a `date`, or a `year` and a `month`.
        "required": ("municipality_code", "national_offence_code", "counting_unit", "count"),
    },
    "court_hearings": {
        "columns": (
            "hearing_id",
            "case_id",
            "hearing_type",
            "scheduled_date",
            "hearing_status",
            "created_at",
            "updated_at",
        ),
        "required": ("hearing_id", "case_id", "scheduled_date", "updated_at"),
    },
}
# The interfaces whose rows are dated by a day column or, where a source publishes no day,
# by its `year` and `month` (a mapping must give one or the other).
DATED = {"violent_deaths": "death_date", "crime_counts": "date"}
MAPPING_KEYS = {"source_system", "correspondence", "columns", "constants", "latest_by"}


def active_contract_paths(contracts_dir: Path = CONTRACTS_DIR) -> list[Path]:
    """The contract files dbt reads, whichever country profile runs: those directly under
    `ingestion/contracts/`, and those of its catalog (`catalog/<country>/`) that map into a
    canonical interface. A profile decides which of them receive files; the others' raw
    tables stay empty (`ingestion.loader.ensure_raw_tables` makes the same list)."""
    catalog = [
        path
        for path in sorted(contracts_dir.glob("catalog/*/*.yaml"))
        if (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("interface")
    ]
    return sorted(contracts_dir.glob("*.yaml")) + catalog


def interface_mappings(path: Path, contract: Contract) -> dict[str, dict[str, Any]]:
    """The contract's `interface:` section, checked: every mapped column exists in the raw
    table, every interface column it names exists, and the required ones are filled."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")).get("interface") or {}
    if not isinstance(raw, dict):
        raise ContractError(f"{path}: interface: a mapping of interface name to its mapping")
    produced = {name for name, _ in contract.output_columns()}
    checked: dict[str, dict[str, Any]] = {}
    for name, mapping in sorted(raw.items()):
        where = f"{path}: interface.{name}"
        if name not in INTERFACES:
            raise ContractError(f"{where}: no such interface (known: {sorted(INTERFACES)})")
        unknown = set(mapping) - MAPPING_KEYS
        if unknown:
            raise ContractError(f"{where}: unknown keys {sorted(unknown)}")
        if not mapping.get("source_system"):
            raise ContractError(f"{where}: source_system (the label indicators show) is required")
        # A column, or a list of columns whose values are joined (a code published in
        # parts, such as a department code and the municipality's code within it).
        columns: dict[str, str | list[str]] = {
            str(k): [str(c) for c in v] if isinstance(v, list) else str(v)
            for k, v in (mapping.get("columns") or {}).items()
        }
        constants = {str(k): v for k, v in (mapping.get("constants") or {}).items()}
        allowed = set(INTERFACES[name]["columns"])
        for column in (*columns, *constants):
            if column not in allowed:
                raise ContractError(f"{where}: {column!r} is not a column of {name}")
        for target, named in columns.items():
            for column in named if isinstance(named, list) else [named]:
                if column not in produced:
                    raise ContractError(
                        f"{where}.columns.{target}: the contract has no column {column!r}"
                    )
        missing = [
            c for c in INTERFACES[name]["required"] if c not in columns and c not in constants
        ]
        if missing:
            raise ContractError(f"{where}: must fill {missing}")
        filled = {*columns, *constants}
        day = DATED.get(name)
        if day and not ({day} <= filled or {"year", "month"} <= filled):
            raise ContractError(f"{where}: map a {day}, or a year and a month")
        if name == "crime_counts" and not mapping.get("correspondence"):
            raise ContractError(f"{where}: correspondence (the national code -> ICCS) is required")
        latest_by = [str(c) for c in mapping.get("latest_by") or ()]
        if latest_by and not isinstance(columns.get("record_id"), str):
            raise ContractError(f"{where}: latest_by keeps one version per record_id: map it")
        checked[name] = {
            "source_system": str(mapping["source_system"]),
            "correspondence": mapping.get("correspondence"),
            "columns": columns,
            "constants": {k: None if v is None else str(v) for k, v in constants.items()},
            "latest_by": latest_by,
        }
    return checked


def _table(path: Path) -> dict[str, Any]:
    contract = load_contract_file(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    described = {c.name: c for c in contract.columns}
    columns: list[dict[str, Any]] = []
    for name, sql_type in contract.output_columns():
        column = described.get(name)
        text = f"From `{column.source}` ({sql_type})." if column else f"Derived ({sql_type})."
        entry: dict[str, Any] = {"name": name, "description": text}
        if column is not None and column.required and name in contract.primary_key[:1]:
            entry["data_tests"] = ["not_null"]  # the record's key
        columns.append(entry)
    for name, text in PROVENANCE:
        entry = {"name": name, "description": text}
        if name == "_batch_id":
            entry["data_tests"] = ["not_null"]
        columns.append(entry)
    table: dict[str, Any] = {
        "name": contract.name,
        "description": contract.description or f"Rows of the {contract.name} contract.",
        "columns": columns,
    }
    config: dict[str, Any] = {"meta": {"contract": contract.name}}
    mappings = interface_mappings(path, contract)
    if mappings:
        config["meta"]["interface"] = mappings
    freshness = data.get("freshness")
    if freshness:
        table["freshness"] = freshness
        # Freshness is when the ledger last published a batch of this contract.
        config["loaded_at_query"] = (
            "select max(finished_at) from ops.batch_ledger"
            f" where source = '{contract.name}' and status = 'loaded'"
        )
    table["config"] = config
    return table


def sources_document(paths: list[Path] | None = None) -> dict[str, Any]:
    """The dbt sources YAML of the given (default: active) contracts, one source per
    contract `source`, one table per contract."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for path in paths if paths is not None else active_contract_paths():
        source = str(yaml.safe_load(path.read_text(encoding="utf-8"))["source"])
        by_source.setdefault(source, []).append(_table(path))
    return {
        "version": 2,
        "sources": [
            {
                "name": source,
                "description": f"Raw `{source}` tables, one per contract (ingestion/contracts/).",
                "schema": "raw",
                "tables": tables,
            }
            for source, tables in sorted(by_source.items())
        ],
    }


def sources_text(paths: list[Path] | None = None) -> str:
    header = (
        "# Generated from ingestion/contracts/*.yaml by observatorio.transform.sources\n"
        "# (`make manifest`): do not edit. One table per contract; `meta.interface` is the\n"
        "# contract's mapping into the canonical interfaces (models/staging/interfaces/).\n"
    )
    body = yaml.safe_dump(sources_document(paths), sort_keys=False, allow_unicode=True, width=100)
    return header + body


def write_sources(project_dir: Path = DBT_PROJECT, paths: list[Path] | None = None) -> bool:
    """Write the generated sources file if it changed; whether it was written."""
    target = project_dir / SOURCES_FILE
    text = sources_text(paths)
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return False
    target.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m observatorio.transform.sources")
    parser.add_argument("--project-dir", type=Path, default=DBT_PROJECT.parent)
    args = parser.parse_args(argv)
    project = args.project_dir.resolve()
    paths = active_contract_paths(project / "ingestion" / "contracts")
    written = write_sources(project / "dbt_project", paths)
    state = "written" if written else "current"
    print(f"dbt sources: {project / 'dbt_project' / SOURCES_FILE} ({state})")


if __name__ == "__main__":
    main()
