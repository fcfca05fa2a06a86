"""Extracts for ministries: one YAML spec per recipient under `extracts/`, delivered as a folder.

A spec names the datasets that go out (mart, columns, filters, grain), the format (CSV in UTF-8
with a BOM so Excel opens it, XLSX, or Parquet), the header language (es/en), the schedule and
the channel (the outbox folder, SFTP through Airflow's `SFTPHook`, or email through its
`SmtpHook`). Every delivery holds the data, a data dictionary (each column's type and description
from the dbt docs; each indicator's formula and source from `reference.ref_indicators`), a
manifest with row counts and SHA-256 checksums, and the lineage: the batches behind the numbers
with their files' checksums, the as-of date and the OpenLineage run that built each mart (also in
`lineage.json`); disclosure control
(`observatorio.delivery.disclosure`) is applied to every count before anything is written, and every
delivery, failed or not, is audited in `ops.deliveries`. The `deliver_extracts` DAG calls
`deliver_if_due`; `observatorio extract NAME [--period YYYY-MM]` calls `deliver`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql
from psycopg.rows import dict_row

from observatorio.core.settings import PROJECT_DIR, Settings, get_settings
from observatorio.core.warehouse import SQL_DIR, connect
from observatorio.delivery.disclosure import (
    DEFAULT_MARKER,
    DEFAULT_THRESHOLD,
    DisclosureRule,
    ProtectedRows,
    protect_rows,
)

SPECS_DIR = PROJECT_DIR / "extracts"
DELIVERIES_SQL = SQL_DIR / "deliveries.sql"

FORMATS = ("csv", "xlsx", "parquet")
LANGUAGES = ("es", "en")
CHANNELS = ("outbox", "sftp", "email")
SCHEDULES = ("@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# Excel's hard limits (https://support.microsoft.com: "Excel specifications and limits").
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767
EXCEL_MAX_SHEET_NAME = 31
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

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
SUPPRESSED_SUFFIX = {"es": "_suprimido", "en": "_suppressed"}
CONFIDENTIALITY_NOTE = {
    "es": "Suprimido ({marker}) si vale de 1 a {last} o para proteger otra celda suprimida",
    "en": "Suppressed ({marker}) when 1 to {last}, or to protect another suppressed cell",
}


class ExtractError(RuntimeError):
    """An extract spec is invalid or its delivery failed."""


class SpreadsheetError(ExtractError):
    """Data that cannot be written safely to a spreadsheet (Excel's limits)."""


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class ExtractColumn:
    name: str
    labels: dict[str, str]

    def header(self, language: str) -> str:
        return self.labels.get(language, self.name)


@dataclass(frozen=True)
class Channel:
    type: str = "outbox"
    conn_id: str | None = None
    remote_dir: str = "."
    to: tuple[str, ...] = ()
    subject: str | None = None
    max_bytes: int = 20_000_000


@dataclass(frozen=True)
class Dataset:
    name: str
    mart: str
    columns: tuple[ExtractColumn, ...]
    disclosure: DisclosureRule
    period_column: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    grain: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()

    def column(self, name: str) -> ExtractColumn:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class ExtractSpec:
    name: str
    recipient: str
    description: str
    datasets: tuple[Dataset, ...]
    path: Path
    format: str = "csv"
    language: str = "es"
    schedule: str = "@monthly"
    channel: Channel = field(default_factory=Channel)

    @property
    def marts(self) -> list[str]:
        return sorted({d.mart for d in self.datasets})


class _Reader:
    """Reads one YAML mapping and names the file and key path in every error."""

    def __init__(self, path: Path, raw: Any, where: str = "") -> None:
        self.path = path
        self.where = where
        if not isinstance(raw, dict):
            raise self.error(f"expected a mapping, got {type(raw).__name__}")
        self.raw: dict[str, Any] = raw

    def error(self, message: str, key: str | None = None) -> ExtractError:
        location = ".".join(p for p in (self.where, key) if p) or "(top level)"
        return ExtractError(f"{self.path}: {location}: {message}")

    def only(self, allowed: Iterable[str]) -> None:
        unknown = sorted(set(self.raw) - set(allowed))
        if unknown:
            raise self.error(
                f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}"
            )

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.raw or self.raw[key] is None:
            if default is ...:
                raise self.error("is required", key)
            return default
        value = self.raw[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.error(f"must be {names}, got {value!r}", key)
        return value

    def choice(self, key: str, options: Sequence[str], default: str) -> str:
        value = str(self.get(key, str, default))
        if value not in options:
            raise self.error(f"{value!r} is not one of {', '.join(options)}", key)
        return value

    def names(self, key: str, default: Any = ...) -> list[str]:
        value = self.get(key, list, default)
        if not all(isinstance(v, str) for v in value):
            raise self.error("must be a list of column names", key)
        return list(value)

    def child(self, key: str, raw: Any) -> _Reader:
        return _Reader(self.path, raw, ".".join(p for p in (self.where, key) if p))


def _read_channel(top: _Reader) -> Channel:
    raw = top.raw.get("channel") or {"type": "outbox"}
    if isinstance(raw, str):
        raw = {"type": raw}
    r = top.child("channel", raw)
    r.only({"type", "conn_id", "remote_dir", "to", "subject", "max_bytes"})
    kind = r.choice("type", CHANNELS, "outbox")
    conn_id = r.get("conn_id", str, None)
    if kind != "outbox" and not conn_id:
        raise r.error(f"a {kind} channel needs the Airflow connection id", "conn_id")
    to = r.get("to", (list, str), [])
    to = [to] if isinstance(to, str) else to
    if kind == "email" and not to:
        raise r.error("an email channel needs at least one address", "to")
    for address in to:
        if not isinstance(address, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", address):
            raise r.error(f"{address!r} is not an email address", "to")
    return Channel(
        type=kind,
        conn_id=conn_id,
        remote_dir=r.get("remote_dir", str, "."),
        to=tuple(to),
        subject=r.get("subject", str, None),
        max_bytes=r.get("max_bytes", int, 20_000_000),
    )


def _read_disclosure(r: _Reader, defaults: Mapping[str, Any], columns: set[str]) -> DisclosureRule:
    r.only({"threshold", "marker", "rows", "columns", "by", "counts", "part_of", "rates"})
    threshold = r.get("threshold", int, defaults.get("threshold", DEFAULT_THRESHOLD))
    if threshold < 1:
        raise r.error(f"must be at least 1, got {threshold}", "threshold")
    counts = r.names("counts")
    if not counts:
        raise r.error("list the count columns to protect", "counts")
    part_of = r.get("part_of", dict, {})
    rates = r.get("rates", dict, {})
    rows = r.get("rows", str)
    across = r.get("columns", str, None)
    by = r.names("by", [])
    for key, names in (
        ("rows", [rows]),
        ("columns", [across] if across else []),
        ("by", by),
        ("counts", counts),
        ("part_of", [*part_of, *part_of.values()]),
        ("rates", [*rates, *rates.values()]),
    ):
        for name in names:
            if name not in columns:
                raise r.error(f"{name!r} is not a column of the dataset", key)
    for part, whole in part_of.items():
        if part not in counts or whole not in counts:
            raise r.error(f"{part} and {whole} must both be listed in counts", "part_of")
    for rate, numerator in rates.items():
        if numerator not in counts:
            raise r.error(f"the numerator {numerator!r} of {rate!r} is not a count", "rates")
    return DisclosureRule(
        counts=tuple(counts),
        rows=rows,
        columns=across,
        by=tuple(by),
        threshold=threshold,
        marker=str(r.get("marker", str, defaults.get("marker", DEFAULT_MARKER))),
        part_of=dict(part_of),
        rates=dict(rates),
    )


def _read_dataset(r: _Reader, defaults: Mapping[str, Any], language: str) -> Dataset:
    r.only(
        {"name", "mart", "columns", "filters", "grain", "order_by", "period_column", "disclosure"}
    )
    mart = r.get("mart", str)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", mart):
        raise r.error(f"{mart!r} is not a model name", "mart")
    columns: list[ExtractColumn] = []
    for n, raw in enumerate(r.get("columns", list)):
        raw = {"name": raw} if isinstance(raw, str) else raw
        c = r.child(f"columns[{n}]", raw)
        c.only({"name", *LANGUAGES})
        name = c.get("name", str)
        labels = {lang: str(c.get(lang, str)) for lang in LANGUAGES if lang in c.raw}
        if language not in labels and language != "en":
            raise c.error(f"no {language!r} header for column {name!r}", language)
        columns.append(ExtractColumn(name=name, labels=labels))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise r.error("a column is listed twice", "columns")
    known = set(names)
    filters = r.get("filters", dict, {})
    for column, values in filters.items():
        if column not in known:
            raise r.error(f"{column!r} is not a column of the dataset", "filters")
        if not isinstance(values, list) or not values:
            raise r.error(f"{column}: give a non-empty list of values", "filters")
    grain = r.names("grain", [])
    order_by = r.names("order_by", [])
    for key, listed in (("grain", grain), ("order_by", order_by)):
        for column in listed:
            if column not in known:
                raise r.error(f"{column!r} is not a column of the dataset", key)
    period_column = r.get("period_column", str, None)
    if period_column is not None and period_column not in known:
        raise r.error(f"{period_column!r} is not a column of the dataset", "period_column")
    disclosure = _read_disclosure(r.child("disclosure", r.get("disclosure", dict)), defaults, known)
    if grain:
        for column in names:
            if column not in grain and column not in disclosure.counts:
                raise r.error(
                    f"{column!r} is neither in the grain nor a count: only counts are summed "
                    "to a coarser grain (rates cannot be)",
                    "grain",
                )
    return Dataset(
        name=r.get("name", str, mart),
        mart=mart,
        columns=tuple(columns),
        disclosure=disclosure,
        period_column=period_column,
        filters={k: [str(v) for v in vs] for k, vs in filters.items()},
        grain=tuple(grain),
        order_by=tuple(order_by),
    )


def parse_spec(path: Path) -> ExtractSpec:
    """Read and validate one spec file; errors name the file and the key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExtractError(f"{path}: not valid YAML: {exc}") from exc
    top = _Reader(path, raw)
    top.only(
        {
            "recipient",
            "description",
            "format",
            "language",
            "schedule",
            "channel",
            "disclosure",
            "datasets",
        }
    )
    recipient = top.get("recipient", str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", recipient):
        raise top.error(f"{recipient!r}: use lower-case letters, digits and _", "recipient")
    language = top.choice("language", LANGUAGES, "es")
    defaults = top.child("disclosure", top.get("disclosure", dict, {}))
    defaults.only({"threshold", "marker"})
    datasets = [
        _read_dataset(top.child(f"datasets[{n}]", raw), defaults.raw, language)
        for n, raw in enumerate(top.get("datasets", list))
    ]
    if not datasets:
        raise top.error("list at least one dataset", "datasets")
    if len({d.name for d in datasets}) != len(datasets):
        raise top.error("two datasets have the same name", "datasets")
    return ExtractSpec(
        name=path.stem,
        recipient=recipient,
        description=str(top.get("description", str, "")),
        datasets=tuple(datasets),
        path=path,
        format=top.choice("format", FORMATS, "csv"),
        language=language,
        schedule=top.choice("schedule", SCHEDULES, "@monthly"),
        channel=_read_channel(top),
    )


def load_spec(name: str, specs_dir: Path | None = None) -> ExtractSpec:
    specs_dir = specs_dir or SPECS_DIR
    path = specs_dir / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_specs(specs_dir))
        raise ExtractError(f"no extract spec {name!r} in {specs_dir} (known: {known})")
    return parse_spec(path)


def available_specs(specs_dir: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (specs_dir or SPECS_DIR).glob("*.yaml"))


# --------------------------------------------------------------------------- safe cells


def neutralise(value: str) -> str:
    """Defuse spreadsheet formula injection: prefix `'` to text a spreadsheet would evaluate.

    Text that is just a number ("-12.5") is left alone: it is data, not a formula.
    """
    if value.startswith(FORMULA_PREFIXES) and not NUMBER.match(value):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: numbers stay numbers, text is neutralised."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return neutralise(str(value))


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """UTF-8 with BOM and CRLF, so Excel opens it; every text cell neutralised. Returns rows."""
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([_cell(h) for h in header])
        for row in rows:
            writer.writerow(["" if v is None else _cell(v) for v in row])
            count += 1
    return count


def _sheet_name(name: str, part: int, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", "_", name).strip() or "datos"
    suffix = f" ({part})" if part > 1 else ""
    candidate = base[: EXCEL_MAX_SHEET_NAME - len(suffix)] + suffix
    n = 2
    while candidate.lower() in taken:
        tail = f" ~{n}"
        candidate = base[: EXCEL_MAX_SHEET_NAME - len(tail)] + tail
        n += 1
    taken.add(candidate.lower())
    return candidate


def write_xlsx(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Any]]]],
    max_rows: int = EXCEL_MAX_ROWS,
    max_cell_chars: int = EXCEL_MAX_CELL_CHARS,
) -> dict[str, int]:
    """One sheet per (name, header, rows), split into `name (2)`, ... beyond Excel's row limit.

    Returns the data rows written per sheet. A text cell longer than Excel allows fails the
    delivery naming sheet, row and column: truncating it would change the data silently.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils.exceptions import IllegalCharacterError

    if max_rows < 2:
        raise SpreadsheetError(f"max_rows must leave room for the header, got {max_rows}")
    workbook = Workbook(write_only=True)
    written: dict[str, int] = {}
    taken: set[str] = set()
    per_sheet = max_rows - 1
    for name, header, rows in sheets:
        chunks = [rows[i : i + per_sheet] for i in range(0, len(rows), per_sheet)] or [[]]
        for part, chunk in enumerate(chunks, start=1):
            title = _sheet_name(name, part, taken)
            sheet = workbook.create_sheet(title)
            sheet.append([_cell(h) for h in header])
            for offset, row in enumerate(chunk):
                cells = []
                for column, value in zip(header, row, strict=True):
                    safe = _cell(value)
                    if isinstance(safe, str) and len(safe) > max_cell_chars:
                        raise SpreadsheetError(
                            f"{path.name}: sheet {title!r}, row {offset + 2}, column {column!r}: "
                            f"{len(safe):,} characters, more than Excel's {max_cell_chars:,} "
                            "per cell; deliver this dataset as csv or parquet instead"
                        )
                    try:
                        cell = WriteOnlyCell(sheet, value=safe)
                    except IllegalCharacterError as exc:
                        raise SpreadsheetError(
                            f"{path.name}: sheet {title!r}, row {offset + 2}, column "
                            f"{column!r}: a control character Excel cannot store"
                        ) from exc
                    if isinstance(safe, str):
                        cell.data_type = "s"  # text, never a formula
                    cells.append(cell)
                sheet.append(cells)
            written[title] = len(chunk)
    workbook.save(path)
    return written


def write_parquet(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [row[n] for row in rows] for n, name in enumerate(header)}
    arrays = {}
    for name, values in columns.items():
        clean = [
            (int(v) if v == v.to_integral_value() else float(v)) if isinstance(v, Decimal) else v
            for v in values
        ]
        try:
            arrays[name] = pa.array(clean)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ExtractError(f"{path.name}: column {name!r} has mixed types: {exc}") from exc
    pq.write_table(pa.table(arrays), path)
    return len(rows)


# --------------------------------------------------------------------------- dbt and lineage


def _manifest(settings: Settings) -> dict[str, Any]:
    path = settings.dbt_target_dir / "manifest.json"
    if not path.is_file():
        raise ExtractError(f"{path} is missing: run `dbt build` (build_warehouse) first")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def _dbt_node(manifest: dict[str, Any], mart: str) -> dict[str, Any]:
    key = f"model.observatorio.{mart}"
    if key not in manifest["nodes"]:
        raise ExtractError(f"mart {mart!r} is not a model of the dbt project")
    node: dict[str, Any] = manifest["nodes"][key]
    return node


def upstream_sources(manifest: dict[str, Any], node_id: str) -> list[str]:
    """The raw tables (`<source>__<entity>`) a model is built from, walking the DAG up."""
    seen: set[str] = set()
    stack = [node_id]
    sources: set[str] = set()
    while stack:
        current = stack.pop()
        for parent in manifest["parent_map"].get(current, []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                sources.add(manifest["sources"][parent]["name"])
            else:
                stack.append(parent)
    return sorted(sources)


INDICATOR_MART = "mart_indicators_monthly"
# Columns of `fct_indicator_contributions` a dataset filter on the indicator mart narrows.
CONTRIBUTION_KEYS = ("indicator_code", "municipality_code", "month", "sex", "age_group")


def upstream_facts(manifest: dict[str, Any], node_id: str) -> list[str]:
    """The `marts` models upstream of a mart (itself included) that keep each row's
    `batch_id`: the fact tables whose batches the mart's numbers reflect."""
    seen = {node_id}
    stack = [node_id]
    facts: set[str] = set()
    while stack:
        current = stack.pop()
        node = manifest["nodes"].get(current, {})
        in_marts = node.get("schema") == "marts" and current.startswith("model.")
        if in_marts and "batch_id" in node.get("columns", {}):
            facts.add(str(node.get("alias") or node["name"]))
        for parent in manifest["parent_map"].get(current, []):
            if parent not in seen and parent.startswith("model."):
                seen.add(parent)
                stack.append(parent)
    return sorted(facts)


def reflected_batch_ids(
    conn: psycopg.Connection,
    manifest: dict[str, Any],
    dataset: Dataset,
    period: str | None,
) -> tuple[set[str], str]:
    """The batches whose rows a dataset's numbers count, and where that was read.

    The indicator mart is narrowed to the delivered cells through
    `marts.fct_indicator_contributions` (period and filters); any other mart reflects every
    batch in the fact tables it is built from.
    """
    if dataset.mart == INDICATOR_MART:
        where: list[sql.Composable] = [sql.SQL("batch_id is not null")]
        params: list[Any] = []
        if period is not None:
            where.append(sql.SQL("month = %s"))
            params.append(period)
        for column, values in dataset.filters.items():
            if column in CONTRIBUTION_KEYS:
                where.append(sql.SQL("{} = any(%s)").format(sql.Identifier(column)))
                params.append(values)
        query = sql.SQL(
            "select distinct batch_id from marts.fct_indicator_contributions where {}"
        ).format(sql.SQL(" and ").join(where))
        found = {str(r[0]) for r in conn.execute(query, params).fetchall()}
        return found, "marts.fct_indicator_contributions"
    facts = upstream_facts(manifest, f"model.observatorio.{dataset.mart}")
    batch_ids: set[str] = set()
    for fact in facts:
        relation = sql.Identifier("marts", fact)
        query = sql.SQL("select distinct batch_id from {} where batch_id is not null").format(
            relation
        )
        batch_ids |= {str(r[0]) for r in conn.execute(query).fetchall()}
    return batch_ids, ", ".join(f"marts.{f}" for f in facts)


def lineage_summary(
    conn: psycopg.Connection,
    sources: list[str],
    generated_at: datetime,
    batch_ids: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The loaded batches behind the numbers (with their files' SHA-256) and the as-of date
    (when the latest of them was loaded). With `batch_ids`, exactly those batches; without,
    every loaded batch of the sources."""
    if batch_ids is None:
        where, params = "source = any(%s)", [sources]
    else:
        where, params = "batch_id = any(%s)", [sorted(set(batch_ids))]
    batches = conn.execute(
        "select batch_id, source, source_file, file_sha256, rows_loaded, finished_at"
        f" from ops.batch_ledger where status = 'loaded' and {where}"
        " order by finished_at, batch_id",
        params,
    ).fetchall()
    as_of = max((b[5] for b in batches if b[5] is not None), default=None)
    return {
        "as_of": as_of.isoformat() if as_of else None,
        "generated_at": generated_at.isoformat(),
        "sources": sources,
        "batches": [
            {
                "batch_id": b[0],
                "source": b[1],
                "source_file": b[2],
                "file_sha256": b[3],
                "rows_loaded": b[4],
                "loaded_at": b[5].isoformat() if b[5] else None,
            }
            for b in batches
        ],
    }


def openlineage_reference(marts: Sequence[str], settings: Settings) -> dict[str, Any]:
    """The OpenLineage namespace, and per mart the dbt run that last built it (when known)."""
    from observatorio.lineage.openlineage import lineage_namespace, producing_run

    return {
        "namespace": lineage_namespace(settings),
        "producing_runs": {f"marts.{m}": producing_run("marts", m, settings) for m in marts},
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


def _dictionary(
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


# --------------------------------------------------------------------------- data


def _query(dataset: Dataset, period: str | None) -> tuple[sql.Composed, list[Any]]:
    """All rows of the dataset for the period, before the recipient's filters (the universe)."""
    params: list[Any] = []
    where: sql.Composable = sql.SQL("")
    if period is not None:
        if dataset.period_column is None:
            raise ExtractError(f"dataset {dataset.name}: no period_column, cannot pick a period")
        where = sql.SQL(" where {} = %s").format(sql.Identifier(dataset.period_column))
        params.append(period)
    if dataset.grain:
        select = sql.SQL(", ").join(
            sql.Identifier(c.name)
            if c.name in dataset.grain
            else sql.SQL("sum({0})::bigint as {0}").format(sql.Identifier(c.name))
            for c in dataset.columns
        )
        group: sql.Composable = sql.SQL(" group by ") + sql.SQL(", ").join(
            map(sql.Identifier, dataset.grain)
        )
    else:
        select = sql.SQL(", ").join(sql.Identifier(c.name) for c in dataset.columns)
        group = sql.SQL("")
    query = sql.SQL("select {} from marts.{}{}{}").format(
        select, sql.Identifier(dataset.mart), where, group
    )
    return query, params


def _matches(row: Mapping[str, Any], filters: Mapping[str, list[str]]) -> bool:
    return all(str(row[column]) in values for column, values in filters.items())


def protected_rows(conn: psycopg.Connection, dataset: Dataset, period: str | None) -> ProtectedRows:
    """The recipient's rows with disclosure control applied.

    The universe (every row, whatever the recipient may see) is protected first, and its
    pattern seeds the protection of the recipient's subset: cells hidden from one ministry
    stay hidden from the others, and the subset's own totals cannot reveal them either.
    """
    query, params = _query(dataset, period)
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        names = [d.name for d in cursor.description or []]
        universe = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    rule = dataset.disclosure
    if not dataset.filters:
        protected, _ = protect_rows(universe, rule)
    else:
        _, keys = protect_rows(universe, rule)
        subset = [r for r in universe if _matches(r, dataset.filters)]
        protected, _ = protect_rows(subset, rule, seed=keys)
    order = dataset.order_by or tuple(c.name for c in dataset.columns)
    indexes = sorted(
        range(len(protected.rows)),
        key=lambda i: tuple(_order_key(protected.rows[i].get(c)) for c in order),
    )
    position = {old: new for new, old in enumerate(indexes)}
    return ProtectedRows(
        [protected.rows[i] for i in indexes],
        {c: {position[i] for i in s} for c, s in protected.suppressed.items()},
        protected.hidden_totals,
    )


def _order_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (2, "")
    if isinstance(value, int | float | Decimal):
        return (0, value)
    return (1, str(value))


def _rendered(
    spec: ExtractSpec, dataset: Dataset, protected: ProtectedRows
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows as they go out: suppressed cells as the marker, or null + a flag."""
    header = [c.header(spec.language) for c in dataset.columns]
    guarded = [c.name for c in dataset.columns if c.name in protected.suppressed]
    flags = spec.format == "parquet"
    if flags:
        header += [
            dataset.column(c).header(spec.language) + SUPPRESSED_SUFFIX[spec.language]
            for c in guarded
        ]
    rows: list[list[Any]] = []
    for index, row in enumerate(protected.rows):
        values: list[Any] = []
        for column in dataset.columns:
            if protected.is_suppressed(column.name, index):
                values.append(None if flags else dataset.disclosure.marker)
            else:
                values.append(row[column.name])
        if flags:
            values += [protected.is_suppressed(c, index) for c in guarded]
        rows.append(values)
    return header, rows


# --------------------------------------------------------------------------- delivery


@dataclass
class Delivery:
    """What one delivery produced; `folder` is kept in the outbox whatever the channel."""

    spec: ExtractSpec
    period: str | None
    folder: Path
    files: list[dict[str, Any]]
    rows: int
    suppressed_cells: int
    as_of: str | None
    archive: Path | None = None
    remote_location: str | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_entry(path: Path, rows: int) -> dict[str, Any]:
    return {
        "file": path.name,
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }


def _write_data(
    spec: ExtractSpec,
    folder: Path,
    label: str,
    rendered: list[tuple[Dataset, list[str], list[list[Any]]]],
) -> list[dict[str, Any]]:
    if spec.format == "xlsx":
        path = folder / f"{spec.recipient}_{label}.xlsx"
        written = write_xlsx(path, [(d.name, h, r) for d, h, r in rendered])
        return [_file_entry(path, sum(written.values())) | {"sheets": written}]
    entries = []
    for dataset, header, rows in rendered:
        stem = f"{spec.recipient}_{dataset.name}_{label}"
        if spec.format == "csv":
            path = folder / f"{stem}.csv"
            write_csv(path, header, rows)
        else:
            path = folder / f"{stem}.parquet"
            write_parquet(path, header, rows)
        entries.append(_file_entry(path, len(rows)))
    return entries


def build_delivery(
    spec: ExtractSpec, period: str | None, settings: Settings, conn: psycopg.Connection
) -> Delivery:
    """Write the delivery folder (data, dictionary, lineage, manifest) in the outbox."""
    if period is not None and not PERIOD.match(period):
        raise ExtractError(f"period {period!r} is not a month YYYY-MM")
    manifest = _manifest(settings)
    nodes = {mart: _dbt_node(manifest, mart) for mart in spec.marts}
    sources = sorted(
        {s for mart in spec.marts for s in upstream_sources(manifest, nodes[mart]["unique_id"])}
    )
    generated_at = datetime.now(UTC)
    label = period or "all"
    final = settings.outbox_dir / spec.recipient / f"{label}_{generated_at:%Y%m%dT%H%M%S%fZ}"
    folder = final.with_name(f".{final.name}.partial")
    folder.mkdir(parents=True, exist_ok=False)
    try:
        rendered = []
        dictionary: list[list[str]] = []
        datasets_summary: list[dict[str, Any]] = []
        suppressed = 0
        indicators = indicator_definitions(conn)
        reflected: set[str] = set()
        read_from: list[str] = []
        for dataset in spec.datasets:
            protected = protected_rows(conn, dataset, period)
            header, rows = _rendered(spec, dataset, protected)
            rendered.append((dataset, header, rows))
            headers = {c.name: c.header(spec.language) for c in dataset.columns}
            dataset_sources = upstream_sources(manifest, nodes[dataset.mart]["unique_id"])
            names = [c.name for c in dataset.columns]
            codes = (
                {str(r[names.index("indicator_code")]) for r in rows}
                if "indicator_code" in names
                else set()
            )
            dictionary += _dictionary(
                spec, dataset, nodes[dataset.mart], dataset_sources, headers, indicators, codes
            )
            batch_ids, where = reflected_batch_ids(conn, manifest, dataset, period)
            reflected |= batch_ids
            read_from.append(where)
            suppressed += protected.count()
            datasets_summary.append(
                {
                    "name": dataset.name,
                    "mart": f"marts.{dataset.mart}",
                    "rows": len(rows),
                    "filters": dataset.filters,
                    "grain": list(dataset.grain),
                    "suppressed_cells": protected.count(),
                }
            )
        files = _write_data(spec, folder, label, rendered)
        dictionary_path = folder / DICTIONARY_FILE[spec.language]
        write_csv(dictionary_path, DICTIONARY_HEADERS[spec.language], dictionary)
        files.append(_file_entry(dictionary_path, len(dictionary)))
        # No fact table keeps batch ids: every loaded batch of the sources, as before.
        known = reflected if any(read_from) else None
        lineage = lineage_summary(conn, sources, generated_at, known)
        lineage["marts"] = [f"marts.{m}" for m in spec.marts]
        lineage["batches_from"] = sorted({w for w in read_from if w})
        lineage["openlineage"] = openlineage_reference(spec.marts, settings)
        lineage_path = folder / "lineage.json"
        lineage_path.write_text(json.dumps(lineage, indent=2, ensure_ascii=False), "utf-8")
        files.append(_file_entry(lineage_path, len(lineage["batches"])))
        (folder / "manifest.json").write_text(
            json.dumps(
                {
                    "recipient": spec.recipient,
                    "spec": spec.path.name,
                    "description": spec.description,
                    "period": period,
                    "format": spec.format,
                    "language": spec.language,
                    "as_of": lineage["as_of"],
                    "generated_at": generated_at.isoformat(),
                    "disclosure": {
                        d.name: {"threshold": d.disclosure.threshold, "marker": d.disclosure.marker}
                        for d in spec.datasets
                    },
                    "datasets": datasets_summary,
                    "files": files,
                    # The same lineage as lineage.json: batches, files, as-of, OpenLineage run.
                    "lineage": lineage,
                },
                indent=2,
                ensure_ascii=False,
            ),
            "utf-8",
        )
        folder.rename(final)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Delivery(
        spec=spec,
        period=period,
        folder=final,
        files=files,
        rows=sum(int(str(d["rows"])) for d in datasets_summary),
        suppressed_cells=suppressed,
        as_of=lineage["as_of"],
    )


def zip_folder(folder: Path) -> Path:
    """The delivery folder as one zip beside it (what SFTP and email send)."""
    archive = folder.with_name(f"{folder.name}.zip")
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as handle:
        for path in sorted(folder.iterdir()):
            handle.write(path, arcname=f"{folder.name}/{path.name}")
    return archive


def send_sftp(archive: Path, channel: Channel) -> str:
    """Upload through Airflow's SFTP provider; written as `.part`, renamed when complete."""
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    hook = SFTPHook(ssh_conn_id=channel.conn_id)
    remote_dir = channel.remote_dir.rstrip("/") or "/"
    remote = f"{remote_dir}/{archive.name}"
    with hook.get_managed_conn() as client:
        try:
            client.stat(remote_dir)
        except OSError:
            client.mkdir(remote_dir)
        client.put(str(archive), f"{remote}.part", confirm=True)
        client.rename(f"{remote}.part", remote)
        size = client.stat(remote).st_size
    if size != archive.stat().st_size:
        raise ExtractError(f"sftp {remote}: {size} bytes arrived, {archive.stat().st_size} sent")
    return f"sftp://{hook.remote_host}:{hook.port}{'' if remote.startswith('/') else '/'}{remote}"


def send_email(archive: Path, spec: ExtractSpec, delivery: Delivery) -> str:
    """Mail the zip through Airflow's SMTP provider (the connection holds host and sender)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    channel = spec.channel
    size = archive.stat().st_size
    if size > channel.max_bytes:
        raise ExtractError(
            f"{archive.name} is {size:,} bytes, above the email channel's max_bytes "
            f"({channel.max_bytes:,}) in {spec.path.name}: use sftp for this recipient"
        )
    subject = channel.subject or f"Observatorio: {spec.recipient} {delivery.period or ''}".strip()
    body = (
        f"<p>{spec.description}</p><p>Periodo / period: {delivery.period or 'all'}; "
        f"as of {delivery.as_of}; {delivery.rows} rows.</p>"
        f"<p>SHA-256 of the attachment: {sha256_file(archive)}</p>"
    )
    with SmtpHook(smtp_conn_id=str(channel.conn_id)) as hook:
        hook.send_email_smtp(
            to=list(channel.to),
            subject=subject,
            html_content=body,
            files=[str(archive)],
            from_email=hook.from_email or "observatorio@localhost",
        )
    return "mailto:" + ",".join(channel.to)


def ensure_deliveries_columns(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_xact_lock(hashtext('observatorio.deliveries'))")
    conn.execute(DELIVERIES_SQL.read_text(encoding="utf-8").encode())


def _already_delivered(conn: psycopg.Connection, spec: ExtractSpec, period: str | None) -> bool:
    row = conn.execute(
        "select 1 from ops.deliveries where spec_name = %s and success"
        " and period is not distinct from %s limit 1",
        (spec.name, period),
    ).fetchone()
    return row is not None


def audit(
    conn: psycopg.Connection,
    *,
    recipient: str,
    spec_name: str,
    spec_file: str,
    period: str | None,
    channel: str,
    fmt: str,
    triggered_by: str,
    success: bool,
    delivery: Delivery | None = None,
    error: str | None = None,
    is_redelivery: bool = False,
) -> None:
    ensure_deliveries_columns(conn)
    archive = delivery.archive if delivery else None
    conn.execute(
        "insert into ops.deliveries (recipient, spec_file, spec_name, period, channel, format,"
        " location, remote_location, files, rows_delivered, suppressed_cells, archive_sha256,"
        " bytes_delivered, as_of, is_redelivery, triggered_by, success, error)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            recipient,
            spec_file,
            spec_name,
            period,
            channel,
            fmt,
            str(delivery.folder) if delivery else None,
            delivery.remote_location if delivery else None,
            json.dumps(delivery.files if delivery else []),
            delivery.rows if delivery else 0,
            delivery.suppressed_cells if delivery else None,
            sha256_file(archive) if archive else None,
            (archive.stat().st_size if archive else sum(f["bytes"] for f in delivery.files))
            if delivery
            else None,
            delivery.as_of if delivery else None,
            is_redelivery,
            triggered_by,
            success,
            error,
        ),
    )


def deliver(
    name: str,
    period: str | None = None,
    settings: Settings | None = None,
    *,
    specs_dir: Path | None = None,
    triggered_by: str = "manual",
) -> Delivery:
    """Build one delivery for the spec `name`, send it on its channel, audit it."""
    settings = settings or get_settings()
    spec = load_spec(name, specs_dir)
    with connect(settings) as conn:
        ensure_deliveries_columns(conn)
        conn.commit()
        redelivery = _already_delivered(conn, spec, period)
        try:
            delivery = build_delivery(spec, period, settings, conn)
            if spec.channel.type != "outbox":
                delivery.archive = zip_folder(delivery.folder)
                if spec.channel.type == "sftp":
                    delivery.remote_location = send_sftp(delivery.archive, spec.channel)
                else:
                    delivery.remote_location = send_email(delivery.archive, spec, delivery)
        except Exception as exc:
            conn.rollback()
            audit(
                conn,
                recipient=spec.recipient,
                spec_name=spec.name,
                spec_file=spec.path.name,
                period=period,
                channel=spec.channel.type,
                fmt=spec.format,
                triggered_by=triggered_by,
                success=False,
                error=f"{type(exc).__name__}: {exc}",
                is_redelivery=redelivery,
            )
            conn.commit()
            raise
        audit(
            conn,
            recipient=spec.recipient,
            spec_name=spec.name,
            spec_file=spec.path.name,
            period=period,
            channel=spec.channel.type,
            fmt=spec.format,
            triggered_by=triggered_by,
            success=True,
            delivery=delivery,
            is_redelivery=redelivery,
        )
        conn.commit()
    return delivery


def _window(schedule: str, moment: datetime) -> tuple[int, ...]:
    if schedule == "@daily":
        return (moment.year, moment.month, moment.day)
    if schedule == "@weekly":
        iso = moment.isocalendar()
        return (iso.year, iso.week)
    if schedule == "@monthly":
        return (moment.year, moment.month)
    if schedule == "@quarterly":
        return (moment.year, (moment.month - 1) // 3)
    return (moment.year,)


def is_due(
    spec_name: str, schedule: str, settings: Settings | None = None, now: datetime | None = None
) -> bool:
    """True unless a scheduled delivery already succeeded in the schedule's current window."""
    now = now or datetime.now(UTC)
    with connect(settings or get_settings()) as conn:
        ensure_deliveries_columns(conn)
        row = conn.execute(
            "select max(delivered_at) from ops.deliveries"
            " where spec_name = %s and success and triggered_by = 'schedule'",
            (spec_name,),
        ).fetchone()
        conn.commit()
    last = row[0] if row else None
    return last is None or _window(schedule, last.astimezone(UTC)) != _window(schedule, now)


def deliver_if_due(name: str, settings: Settings | None = None) -> str:
    """The DAG's task: deliver the spec unless its schedule says it was delivered already."""
    spec = load_spec(name)
    if not is_due(spec.name, spec.schedule, settings):
        return f"{name}: not due ({spec.schedule}, already delivered in this window)"
    return str(deliver(name, settings=settings, triggered_by="schedule").folder)
