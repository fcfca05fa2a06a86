"""Source contracts: the YAML that says what a source entity's export looks like.

A contract names the columns (source header, our name, type, format, whether required),
the encodings and delimiter allowed, the primary key, which columns identify persons and
what happens to them, and the schema-drift policy. Adding a national export format means
writing a contract under `ingestion/contracts/`, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

CONTRACTS_DIR = Path(__file__).with_name("contracts")

ColumnType = Literal["text", "integer", "bigint", "numeric", "date", "timestamp", "time", "boolean"]
PersonAction = Literal["pseudonymise", "drop", "keep", "year"]
PersonKind = Literal["national_id", "name", "other"]

COLUMN_TYPES: tuple[str, ...] = (
    "text",
    "integer",
    "bigint",
    "numeric",
    "date",
    "timestamp",
    "time",
    "boolean",
)
SQL_TYPES: dict[str, str] = {
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "numeric": "numeric",
    "date": "date",
    "timestamp": "timestamp",
    "time": "time",
    "boolean": "boolean",
}


class ContractError(ValueError):
    """A contract file is malformed."""


@dataclass(frozen=True)
class PersonRule:
    action: PersonAction
    kind: PersonKind = "other"


@dataclass(frozen=True)
class Column:
    name: str
    source: str
    type: ColumnType
    required: bool = False
    format: str | None = None
    pattern: str | None = None
    allowed: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    person: PersonRule | None = None

    def output_columns(self) -> list[tuple[str, str]]:
        """The (name, SQL type) pairs this column becomes in the warehouse."""
        if self.person is None or self.person.action == "keep":
            return [(self.name, SQL_TYPES[self.type])]
        if self.person.action == "drop":
            return []
        if self.person.action == "year":
            return [(f"{_strip_suffix(self.name)}_year", "integer")]
        if self.person.kind == "name":
            return [(f"{self.name}_pseudonym", "text"), (f"{self.name}_tokens", "text[]")]
        if self.person.kind == "national_id":
            return [(f"{self.name}_pseudonym", "text"), (f"{self.name}_status", "text")]
        return [(f"{self.name}_pseudonym", "text")]


def _strip_suffix(name: str) -> str:
    return name.removesuffix("_date")


@dataclass(frozen=True)
class Contract:
    source: str
    entity: str
    description: str
    format: str
    columns: tuple[Column, ...]
    encodings: tuple[str, ...] = ("utf-8-sig", "utf-8", "cp1252")
    delimiter: str = ","
    file_pattern: str = "*"
    primary_key: tuple[str, ...] = ()
    cursor: tuple[str, ...] = ()
    unknown_columns: Literal["fail", "keep"] = "fail"
    quarantine_threshold: float = 0.05
    records_path: str | None = None
    # For file-drop sources: where the simulator writes this export, as a glob under
    # `<simulation>/exports/` (used by `make run` to land the demo country's files).
    export_path: str | None = None
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.format not in ("csv", "jsonl", "json"):
            raise ContractError(f"{self.path}: format must be csv, jsonl or json")

    @property
    def name(self) -> str:
        """`<source>__<entity>`: the raw table's name and the ledger's source key."""
        return f"{self.source}__{self.entity}"

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    def output_columns(self) -> list[tuple[str, str]]:
        return [pair for column in self.columns for pair in column.output_columns()]


def _column(raw: dict[str, Any], where: str) -> Column:
    unknown = set(raw) - {
        "name",
        "source",
        "type",
        "required",
        "format",
        "pattern",
        "allowed",
        "min",
        "max",
        "person",
    }
    if unknown:
        raise ContractError(f"{where}: unknown keys {sorted(unknown)}")
    if raw.get("type") not in COLUMN_TYPES:
        raise ContractError(f"{where}: type must be one of {COLUMN_TYPES}, got {raw.get('type')!r}")
    person = raw.get("person")
    rule = None
    if person is not None:
        if person.get("action") not in ("pseudonymise", "drop", "keep", "year"):
            raise ContractError(f"{where}: person.action must be pseudonymise, drop, keep or year")
        rule = PersonRule(action=person["action"], kind=person.get("kind", "other"))
    allowed = raw.get("allowed")
    return Column(
        name=str(raw["name"]),
        source=str(raw.get("source", raw["name"])),
        type=raw["type"],
        required=bool(raw.get("required", False)),
        format=raw.get("format"),
        pattern=raw.get("pattern"),
        allowed=tuple(str(value) for value in allowed) if allowed is not None else None,
        min=raw.get("min"),
        max=raw.get("max"),
        person=rule,
    )


def parse_contract(data: dict[str, Any], path: Path | None = None) -> Contract:
    where = str(path or "<contract>")
    try:
        columns = tuple(
            _column(col, f"{where}: column {i + 1}") for i, col in enumerate(data["columns"])
        )
        contract = Contract(
            source=str(data["source"]),
            entity=str(data["entity"]),
            description=str(data.get("description", "")).strip(),
            format=str(data.get("format", "csv")),
            columns=columns,
            encodings=tuple(data.get("encodings", ("utf-8-sig", "utf-8", "cp1252"))),
            delimiter=str(data.get("delimiter", ",")),
            file_pattern=str(data.get("file_pattern", "*")),
            primary_key=tuple(data.get("primary_key", ())),
            cursor=tuple(data.get("cursor", ())),
            unknown_columns=data.get("unknown_columns", "fail"),
            quarantine_threshold=float(data.get("quarantine_threshold", 0.05)),
            records_path=data.get("records_path"),
            export_path=data.get("export_path"),
            path=path,
        )
    except KeyError as exc:
        raise ContractError(f"{where}: missing key {exc}") from exc
    names = [c.name for c in contract.columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names")
    return contract


@cache
def load_contract(name: str) -> Contract:
    """The contract for `<source>__<entity>`, from `ingestion/contracts/<name>.yaml`."""
    path = CONTRACTS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_contracts()) or "none"
        raise ContractError(f"no contract named {name!r} (known: {known})")
    return parse_contract(yaml.safe_load(path.read_text(encoding="utf-8")), path)


def available_contracts() -> list[str]:
    return sorted(p.stem for p in CONTRACTS_DIR.glob("*.yaml"))
