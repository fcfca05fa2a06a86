"""Source contracts: the YAML that says what a source entity's export looks like.

A contract names the columns (source header, our name, type, format, whether required),
the encodings and delimiter allowed, the primary key, which columns identify persons and
what happens to them, and the schema-drift policy. Adding a national export format means
writing a contract under `ingestion/contracts/`, not code. The keys are documented on
`Contract` (the file) and `Column` (one column); README's "Adding a source" has an example.

Contracts directly under `ingestion/contracts/` are active: the demo DAGs, dbt sources
and `ensure_raw_tables` use them. Contracts under `ingestion/contracts/catalog/<country>/`
describe real national exports; they load by name (`load_contract`) but stay inactive
until a profile names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from ingestion.decoders import DECODERS

CONTRACTS_DIR = Path(__file__).with_name("contracts")
CATALOG_DIR = CONTRACTS_DIR / "catalog"
# libyaml's loader where the build has it: contracts are read at every DAG parse.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ColumnType = Literal["text", "integer", "bigint", "numeric", "date", "timestamp", "time", "boolean"]
PersonAction = Literal["pseudonymise", "drop", "keep", "year"]
PersonKind = Literal["national_id", "name", "other"]
# What happens to a column the contract does not declare (schema drift). Its raw text never
# reaches the warehouse: `reject` (the default) rejects the batch naming the column and the
# file; `drop` discards the column, with a warning naming it, recorded in the batch's ledger
# row. There is no `keep`: an address or a narrative added at the source would land in clear.
UnknownColumns = Literal["reject", "drop"]
UNKNOWN_COLUMNS: tuple[UnknownColumns, ...] = ("reject", "drop")
FORMATS: tuple[str, ...] = ("csv", "jsonl", "json", "xlsx", "xls", "dbf", "dbc", "fixed_width")
# Formats read as text from a byte stream (their encoding is detected among `encodings`);
# the others are binary containers whose text fields use the first declared encoding.
TEXT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "json", "fixed_width")
NORMALISE_STEPS: tuple[str, ...] = (
    "pad_left",
    "strip_suffix",
    "substring",
    "upper",
    "strip_accents",
    "strip",
)

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
class NumericStyle:
    """How a source writes numbers: `{thousands: ".", decimal: ","}` reads `1.234,5`.

    A value that does not fit is quarantined, never read another way. With a thousands
    separator and no `decimals`, a value like `1,234` (no thousands separator, exactly three
    decimals) is ambiguous and quarantined; `decimals: N` says at most N decimals are written.
    """

    decimal: str = "."
    thousands: str | None = None
    decimals: int | None = None

    @property
    def example(self) -> str:
        """The style in words (never a digit, so no message echoes a cell's number)."""
        return f"(thousands {self.thousands or 'none'!r}, decimal {self.decimal!r})"


@dataclass(frozen=True)
class Column:
    """One column. Keys in YAML (all but `name` and `type` optional):

    - `name`, `source` (the header in the file; default `name`), `type` (text, integer,
      bigint, numeric, date, timestamp, time, boolean), `required`, `format` (strptime;
      a fixed-width format such as `%d%m%Y` is strict: `1012020` is quarantined),
      `pattern`, `allowed`, `min`, `max`, `person` (pseudonymise, drop, keep, year);
    - `normalise`: steps applied first, in order: `{pad_left: 5}` (zeros), `{strip_suffix:
      "000"}`, `{substring: [0, 6]}`, `upper`, `strip_accents`, `strip`;
    - `nulls`: tokens that mean no value (`["9", "S/D"]`), added to the contract's `nulls`;
    - `map`: code to value (`{"1": M, "2": F, "9": null}`); an unmapped code is quarantined;
    - `decoder`: a named decoder (`sim_age`);
    - `numeric`: the number style (`{thousands: ".", decimal: ",", decimals: 2}`); without
      it numbers are plain (`1234.5`) and `1,234` is quarantined;
    - `count: true`: the column says how many events or victims the row stands for (a
      non-negative integer; the ledger sums it);
    - `start`, `width`: the 1-based character position and width (fixed-width files).
    """

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
    normalise: tuple[tuple[str, Any], ...] = ()
    nulls: frozenset[str] = frozenset()
    value_map: dict[str, str | None] | None = field(default=None, hash=False)
    decoder: str | None = None
    numeric: NumericStyle | None = None
    count: bool = False
    start: int | None = None
    width: int | None = None

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
class Unpivot:
    """Wide columns turned into rows: each source row gives one row per column in
    `columns`, with the column's header under `key` and its cell under `value` (the
    contract's columns then read `key` and `value` as sources, like any header)."""

    columns: tuple[str, ...]
    key: str
    value: str


@dataclass(frozen=True)
class Contract:
    """One source entity's export. Keys in YAML besides `columns` (see `Column`):

    - `source`, `entity`, `description`; `format`: csv, jsonl, json, xlsx, xls, dbf, dbc
      (DATASUS's compressed DBF) or fixed_width;
    - `container`: `zip` or `gz` around the file, with `member`: a glob that must match
      exactly one member of a zip (`.gz` files of csv/json are read as they are);
    - `encodings` (allowed, detected in this order) or `encoding` (one: latin-1, cp1252,
      utf-8); DBF/DBC fields are decoded with the first;
    - `delimiter` (csv); `sheet`: name or 0-based index (xlsx, xls); `skip_rows`: rows
      above the header (logos, titles); `header: false` for headerless files (fixed_width);
    - `footer`: a regex (keep to what RE2 and Python read alike: `^(FUENTE|Nota)`); the
      first row whose first non-empty cell matches it, and every row after it, are footer
      rows (notes, sources): counted in the ledger (`rows_footer`), never loaded;
    - `nulls`: null tokens for every column; `unpivot`: `{columns: [...], key: ..., value:
      ...}` (see `Unpivot`); `records_path` (json);
    - `file_pattern`, `primary_key`, `cursor`, `unknown_columns` (reject, the default,
      or drop: see `UnknownColumns`),
      `quarantine_threshold`, `export_path`.
    """

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
    unknown_columns: UnknownColumns = "reject"
    quarantine_threshold: float = 0.05
    records_path: str | None = None
    # For file-drop sources: where the simulator writes this export, as a glob under
    # `<simulation>/exports/` (used by `make run` to land the demo country's files).
    export_path: str | None = None
    container: Literal["zip", "gz"] | None = None
    member: str | None = None
    sheet: str | int | None = None
    skip_rows: int = 0
    header: bool = True
    footer: str | None = None
    unpivot: Unpivot | None = None
    path: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        where = self.path or "<contract>"
        if self.format not in FORMATS:
            raise ContractError(f"{where}: format must be one of {FORMATS}")
        if self.unknown_columns not in UNKNOWN_COLUMNS:
            raise ContractError(
                f"{where}: unknown_columns must be one of {', '.join(UNKNOWN_COLUMNS)}, got "
                f"{self.unknown_columns!r} (an undeclared column's raw text is never stored)"
            )
        if self.container not in (None, "zip", "gz"):
            raise ContractError(f"{where}: container must be zip or gz")
        if self.container == "zip" and not self.member:
            raise ContractError(f"{where}: a zip container needs a member pattern")
        if self.format == "fixed_width" and any(
            c.start is None or c.width is None for c in self.columns
        ):
            raise ContractError(f"{where}: every fixed_width column needs start and width")
        if self.format != "fixed_width" and not self.header:
            raise ContractError(f"{where}: only fixed_width files may have no header")
        counts = [c for c in self.columns if c.count]
        if len(counts) > 1:
            raise ContractError(f"{where}: at most one count column")
        if counts and counts[0].type not in ("integer", "bigint"):
            raise ContractError(f"{where}: the count column must be integer or bigint")

    @property
    def count_column(self) -> Column | None:
        """The column whose value says how many events or victims a row stands for."""
        return next((c for c in self.columns if c.count), None)

    @property
    def name(self) -> str:
        """`<source>__<entity>`: the raw table's name and the ledger's source key."""
        return f"{self.source}__{self.entity}"

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    def output_columns(self) -> list[tuple[str, str]]:
        return [pair for column in self.columns for pair in column.output_columns()]


def _normalise_steps(raw: Any, where: str) -> tuple[tuple[str, Any], ...]:
    steps: list[tuple[str, Any]] = []
    for item in raw or ():
        step, argument = (item, None) if isinstance(item, str) else next(iter(item.items()))
        if step not in NORMALISE_STEPS:
            raise ContractError(f"{where}: normalise step must be one of {NORMALISE_STEPS}")
        if step == "substring":
            argument = tuple(int(a) for a in (argument or ()))
            if len(argument) != 2:
                raise ContractError(f"{where}: substring needs [start, end]")
        steps.append((step, argument))
    return tuple(steps)


def _value_map(raw: Any, where: str) -> dict[str, str | None] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ContractError(f"{where}: map must be a mapping of codes to values")
    return {str(k): (None if v is None else str(v)) for k, v in raw.items()}


def _numeric_style(raw: Any, where: str) -> NumericStyle | None:
    if raw is None:
        return None
    unknown = set(raw) - {"decimal", "thousands", "decimals"}
    if unknown:
        raise ContractError(f"{where}: numeric: unknown keys {sorted(unknown)}")
    style = NumericStyle(
        decimal=str(raw.get("decimal", ".")),
        thousands=raw.get("thousands"),
        decimals=raw.get("decimals"),
    )
    if style.decimal == style.thousands or len(style.decimal) != 1:
        raise ContractError(f"{where}: numeric: decimal must be one character, not thousands")
    return style


def _column(raw: dict[str, Any], where: str, nulls: frozenset[str]) -> Column:
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
        "normalise",
        "nulls",
        "map",
        "decoder",
        "numeric",
        "count",
        "start",
        "width",
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
    decoder = raw.get("decoder")
    if decoder is not None and decoder not in DECODERS:
        raise ContractError(f"{where}: decoder must be one of {sorted(DECODERS)}")
    count = bool(raw.get("count", False))
    minimum = raw.get("min")
    if count and minimum is None:
        minimum = 0  # a row cannot stand for a negative number of events
    numeric = _numeric_style(raw.get("numeric"), where)
    if numeric is not None and raw.get("type") not in ("integer", "bigint", "numeric"):
        raise ContractError(f"{where}: numeric style is for integer, bigint or numeric")
    return Column(
        name=str(raw["name"]),
        source=str(raw.get("source", raw["name"])),
        type=raw["type"],
        required=bool(raw.get("required", False)),
        format=raw.get("format"),
        pattern=raw.get("pattern"),
        allowed=tuple(str(value) for value in allowed) if allowed is not None else None,
        min=minimum,
        max=raw.get("max"),
        person=rule,
        normalise=_normalise_steps(raw.get("normalise"), where),
        nulls=nulls | frozenset(str(t) for t in raw.get("nulls", ())),
        value_map=_value_map(raw.get("map"), where),
        decoder=decoder,
        numeric=numeric,
        count=count,
        start=raw.get("start"),
        width=raw.get("width"),
    )


def _unpivot(raw: Any, where: str) -> Unpivot | None:
    if raw is None:
        return None
    try:
        return Unpivot(
            columns=tuple(str(c) for c in raw["columns"]),
            key=str(raw["key"]),
            value=str(raw["value"]),
        )
    except (KeyError, TypeError) as exc:
        raise ContractError(f"{where}: unpivot needs columns, key and value") from exc


def parse_contract(data: dict[str, Any], path: Path | None = None) -> Contract:
    where = str(path or "<contract>")
    nulls = frozenset(str(t) for t in data.get("nulls", ()))
    encodings = data.get("encodings", ("utf-8-sig", "utf-8", "cp1252"))
    if "encoding" in data:
        encodings = (str(data["encoding"]),)
    try:
        columns = tuple(
            _column(col, f"{where}: column {i + 1}", nulls) for i, col in enumerate(data["columns"])
        )
        contract = Contract(
            source=str(data["source"]),
            entity=str(data["entity"]),
            description=str(data.get("description", "")).strip(),
            format=str(data.get("format", "csv")),
            columns=columns,
            encodings=tuple(encodings),
            delimiter=str(data.get("delimiter", ",")),
            file_pattern=str(data.get("file_pattern", "*")),
            primary_key=tuple(data.get("primary_key", ())),
            cursor=tuple(data.get("cursor", ())),
            unknown_columns=data.get("unknown_columns", "reject"),
            quarantine_threshold=float(data.get("quarantine_threshold", 0.05)),
            records_path=data.get("records_path"),
            export_path=data.get("export_path"),
            container=data.get("container"),
            member=data.get("member"),
            sheet=data.get("sheet"),
            skip_rows=int(data.get("skip_rows", 0)),
            header=bool(data.get("header", data.get("format") != "fixed_width")),
            footer=data.get("footer"),
            unpivot=_unpivot(data.get("unpivot"), where),
            path=path,
        )
    except KeyError as exc:
        raise ContractError(f"{where}: missing key {exc}") from exc
    names = [c.name for c in contract.columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: duplicate column names")
    # The raw table is indexed by the key's first column (ingestion.raw_tables.ensure_raw_table).
    outputs = {name for name, _ in contract.output_columns()}
    unknown = [key for key in contract.primary_key if key not in outputs]
    if unknown:
        raise ContractError(f"{where}: primary_key names no column of the table: {unknown}")
    return contract


@cache
def load_contract(name: str) -> Contract:
    """The contract for `<source>__<entity>`: an active one (`ingestion/contracts/<name>.yaml`)
    or, failing that, one of the catalog (`ingestion/contracts/catalog/*/<name>.yaml`)."""
    return load_contract_file(contract_file(name))


def load_contract_file(path: Path) -> Contract:
    """A contract from any YAML file (tests, profiles)."""
    return parse_contract(yaml.safe_load(path.read_text(encoding="utf-8")), path)


def available_contracts() -> list[str]:
    """The active contracts: the demo pipeline's DAGs, dbt sources and raw tables."""
    return sorted(p.stem for p in CONTRACTS_DIR.glob("*.yaml"))


def catalog_contracts() -> list[str]:
    """Contracts of real national exports, inactive until a profile names them."""
    return sorted(p.stem for p in CATALOG_DIR.glob("*/*.yaml"))


def contract_file(name: str) -> Path:
    """Where the contract `name` is: the active folder, else the catalog."""
    path = CONTRACTS_DIR / f"{name}.yaml"
    if path.is_file():
        return path
    found = sorted(CATALOG_DIR.glob(f"*/{name}.yaml"))
    if len(found) != 1:
        known = ", ".join(available_contracts() + catalog_contracts()) or "none"
        raise ContractError(f"no contract named {name!r} (known: {known})")
    return found[0]


@cache
def _maps_into_an_interface(path: Path) -> bool:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    return isinstance(data, dict) and bool(data.get("interface"))


def modelled_contracts() -> list[str]:
    """Every contract dbt reads: the active folder's, and the catalog's that map into a
    canonical interface (`interface:`). Each has a dbt source and a raw table from day one
    (empty until a profile that names it lands files), so the dbt project, its manifest and
    the interface models are the same whichever country profile runs."""
    catalog = [p.stem for p in sorted(CATALOG_DIR.glob("*/*.yaml")) if _maps_into_an_interface(p)]
    return sorted({*available_contracts(), *catalog})
