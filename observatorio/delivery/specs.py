"""Extract specs: one YAML file per recipient under `extracts/`, read and validated.

A spec names the datasets that go out (mart, columns, filters, grain, disclosure rule), the
format (csv, xlsx, parquet) and, for CSV, its dialect (delimiter, decimal mark, encoding,
BOM), the header language (es/en), the recipient's disclosure level (`public`, `external` or
`owner`, see `observatorio.delivery.disclosure`), whether an empty delivery is acceptable
(`allow_empty`), the schedule and the channel (outbox, sftp, email). What a column *is* (its
description in each language, its unit, the indicator it counts, the code list that names its
values) is written once for every spec in `extracts/_columns.yaml` (`GLOSSARY`). Every error
names the file and the key path. `extracts.deliver` and the `deliver_extracts` DAG load specs
through `load_spec`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from observatorio.core.settings import PROJECT_DIR
from observatorio.delivery.disclosure import (
    DEFAULT_MARKER,
    LEVELS,
    DisclosureRule,
    publication_rules,
)
from observatorio.delivery.errors import ExtractError

SPECS_DIR = PROJECT_DIR / "extracts"
GLOSSARY = "_columns.yaml"

FORMATS = ("csv", "xlsx", "parquet")
LANGUAGES = ("es", "en")
CHANNELS = ("outbox", "sftp", "email")
SCHEDULES = ("@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ENCODINGS = ("utf-8", "cp1252", "iso-8859-1")
DELIMITERS = (",", ";", "\t", "|")
DECIMALS = (".", ",")


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written: `;` and a decimal comma open in a Spanish-locale Excel."""

    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"
    bom: bool = True


@dataclass(frozen=True)
class ExtractColumn:
    """A delivered column: its mart column (or, with `names_of`, the names of another
    column's codes), its headers, and what the glossary says it is."""

    name: str
    labels: dict[str, str]
    descriptions: dict[str, str] = field(default_factory=dict)
    unit: str | None = None
    indicator: str | None = None
    codes: str | None = None
    named_by: str | None = None
    names_of: str | None = None

    def header(self, language: str) -> str:
        return self.labels.get(language, self.name)

    @property
    def from_mart(self) -> bool:
        return self.names_of is None


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

    @property
    def mart_columns(self) -> tuple[ExtractColumn, ...]:
        return tuple(c for c in self.columns if c.from_mart)


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
    level: str = "external"
    csv: CsvDialect = field(default_factory=CsvDialect)
    allow_empty: bool = False
    glossary: Glossary | None = None

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


@dataclass(frozen=True)
class Glossary:
    """`extracts/_columns.yaml`: what each mart column an extract delivers is, once for every
    spec (description in each language, unit, indicator, code list), and the labels of the
    code lists no other relation names (`code_lists`)."""

    columns: Mapping[str, Mapping[str, Any]]
    code_lists: Mapping[str, Mapping[str, Mapping[str, str]]]


CODE_LISTS_BUILT_IN = ("municipality", "source_system", "indicator")


def load_glossary(specs_dir: Path | None = None) -> Glossary:
    from observatorio.indicators.definitions import UNITS

    path = (specs_dir or SPECS_DIR) / GLOSSARY
    if not path.is_file():  # a spec kept elsewhere uses the repository's glossary
        path = SPECS_DIR / GLOSSARY
    if not path.is_file():
        raise ExtractError(f"{path}: the column glossary of the extracts is missing")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExtractError(f"{path}: not valid YAML: {exc}") from exc
    top = _Reader(path, raw)
    top.only({"columns", "code_lists"})
    columns: dict[str, Mapping[str, Any]] = {}
    code_lists = {str(k): v for k, v in top.get("code_lists", dict, {}).items()}
    for name, entry in top.get("columns", dict).items():
        c = top.child(f"columns.{name}", entry)
        c.only({"description", "unit", "indicator", "codes", "named_by"})
        unit = c.get("unit", str, None)
        if unit is not None and unit not in UNITS:
            raise c.error(f"{unit!r} is not one of {', '.join(UNITS)}", "unit")
        lists = {key: c.get(key, str, None) for key in ("codes", "named_by")}
        for key, listed in lists.items():
            if listed is not None and listed not in (*CODE_LISTS_BUILT_IN, *code_lists):
                known = ", ".join((*CODE_LISTS_BUILT_IN, *sorted(code_lists)))
                raise c.error(f"no code list {listed!r} (known: {known})", key)
        descriptions = c.get("description", dict, {})
        if not c.raw.get("indicator") and not all(descriptions.get(lang) for lang in LANGUAGES):
            raise c.error("describe the column in es and en, or name its indicator", "description")
        columns[str(name)] = {
            "description": {str(k): str(v) for k, v in descriptions.items()},
            "unit": unit,
            "indicator": c.get("indicator", str, None),
            **lists,
        }
    return Glossary(columns=columns, code_lists=code_lists)


def _read_disclosure(
    r: _Reader, defaults: Mapping[str, Any], columns: Mapping[str, ExtractColumn]
) -> DisclosureRule:
    r.only({"marker", "rows", "columns", "by", "counts", "part_of", "rates"})
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
            if name not in columns or not columns[name].from_mart:
                raise r.error(f"{name!r} is not a column of the dataset's mart", key)
    for part, whole in part_of.items():
        if part not in counts or whole not in counts:
            raise r.error(f"{part} and {whole} must both be listed in counts", "part_of")
    for rate, numerator in rates.items():
        if numerator not in counts:
            raise r.error(f"the numerator {numerator!r} of {rate!r} is not a count", "rates")
    # The minimum cell size comes from the definitions of what the counts count.
    counted = [columns[c].indicator for c in (*counts, *rates)]
    rules = publication_rules(code for code in counted if code)
    return DisclosureRule(
        counts=tuple(counts),
        rows=rows,
        columns=across,
        by=tuple(by),
        threshold=rules.min_cell_size,
        marker=str(r.get("marker", str, defaults.get("marker", DEFAULT_MARKER))),
        part_of=dict(part_of),
        rates=dict(rates),
    )


def _read_column(c: _Reader, language: str, glossary: Glossary) -> ExtractColumn:
    c.only({"name", "names_of", *LANGUAGES})
    name = c.get("name", str)
    labels = {lang: str(c.get(lang, str)) for lang in LANGUAGES if lang in c.raw}
    if language not in labels and language != "en":
        raise c.error(f"no {language!r} header for column {name!r}", language)
    names_of = c.get("names_of", str, None)
    entry = glossary.columns.get(name)
    if entry is None:
        raise c.error(f"{name!r} is not described in extracts/{GLOSSARY}", "name")
    return ExtractColumn(
        name=name,
        labels=labels,
        descriptions=dict(entry["description"]),
        unit=entry["unit"],
        indicator=entry["indicator"],
        codes=entry["codes"],
        named_by=entry["named_by"],
        names_of=names_of,
    )


def _read_dataset(
    r: _Reader, defaults: Mapping[str, Any], language: str, glossary: Glossary
) -> Dataset:
    r.only(
        {"name", "mart", "columns", "filters", "grain", "order_by", "period_column", "disclosure"}
    )
    mart = r.get("mart", str)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", mart):
        raise r.error(f"{mart!r} is not a model name", "mart")
    columns: list[ExtractColumn] = []
    for n, raw in enumerate(r.get("columns", list)):
        raw = {"name": raw} if isinstance(raw, str) else raw
        columns.append(_read_column(r.child(f"columns[{n}]", raw), language, glossary))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise r.error("a column is listed twice", "columns")
    by_name = {c.name: c for c in columns}
    for n, derived in enumerate(columns):
        if derived.names_of is None:
            continue
        source = by_name.get(derived.names_of)
        if source is None or not source.from_mart or source.codes is None:
            raise r.error(
                f"{derived.names_of!r} is not a column of the dataset with a code list",
                f"columns[{n}].names_of",
            )
    known = {c.name for c in columns if c.from_mart}
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
    disclosure = _read_disclosure(
        r.child("disclosure", r.get("disclosure", dict)), defaults, by_name
    )
    if grain:
        for column in (c.name for c in columns if c.from_mart):
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


def _read_csv(top: _Reader) -> CsvDialect:
    r = top.child("csv", top.get("csv", dict, {}))
    r.only({"delimiter", "decimal", "encoding", "bom"})
    delimiter = r.choice("delimiter", DELIMITERS, ",")
    decimal = r.choice("decimal", DECIMALS, ".")
    if decimal == delimiter:
        raise r.error("the decimal mark cannot be the delimiter", "decimal")
    encoding = r.choice("encoding", ENCODINGS, "utf-8")
    bom = bool(r.get("bom", bool, encoding == "utf-8"))
    if bom and encoding != "utf-8":
        raise r.error(f"a byte-order mark is for utf-8, not {encoding}", "bom")
    return CsvDialect(delimiter=delimiter, decimal=decimal, encoding=encoding, bom=bom)


def _read_level(top: _Reader) -> tuple[str, dict[str, Any]]:
    """`disclosure: owner`, or `disclosure: {level: owner, marker: "*"}`: the level is required."""
    raw = top.raw.get("disclosure")
    if isinstance(raw, str):
        raw = {"level": raw}
    r = top.child("disclosure", raw if raw is not None else {})
    r.only({"level", "marker"})
    if "level" not in r.raw:
        raise r.error(f"declare the recipient's disclosure level ({', '.join(LEVELS)})", "level")
    return r.choice("level", LEVELS, "external"), r.raw


# `<file>__<part>` names one recipient's spec of a file split with `split_by`.
PART_SEPARATOR = "__"


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ExtractError(f"{path}: not valid YAML: {exc}") from exc


def _split(top: _Reader) -> tuple[str, dict[str, str]] | None:
    """`split_by`: (column, {value: recipient}), or None for a file with one recipient.

    A split file is one spec per value of `column`, each delivered to that value's recipient
    and holding only the rows with that value (a filter added to every dataset), so rows
    meant for one recipient never reach another.
    """
    if "split_by" not in top.raw:
        return None
    split = top.child("split_by", top.get("split_by", dict))
    split.only({"column", "recipients"})
    recipients = split.get("recipients", dict)
    if not recipients or not all(
        re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", str(v)) and re.fullmatch(r"[a-z0-9_]+", str(r))
        for v, r in recipients.items()
    ):
        raise split.error("map each value (lower case) to a recipient name", "recipients")
    return str(split.get("column", str)), {str(v): str(r) for v, r in recipients.items()}


def parse_spec(path: Path, part: str | None = None) -> ExtractSpec:
    """Read and validate one spec file (one part of a split file); errors name file and key."""
    top = _Reader(path, _read_yaml(path))
    top.only(
        {
            "recipient",
            "split_by",
            "description",
            "format",
            "language",
            "schedule",
            "channel",
            "disclosure",
            "datasets",
            "csv",
            "allow_empty",
            "x-common",  # YAML anchors shared by the datasets; not read
        }
    )
    split = _split(top)
    if split is None and part is not None:
        raise top.error(f"has no split_by, so no part {part!r}", "split_by")
    if split is not None:
        if "recipient" in top.raw:
            raise top.error("a split file names its recipients under split_by", "recipient")
        if part not in split[1]:
            known = ", ".join(f"{path.stem}{PART_SEPARATOR}{v}" for v in split[1])
            raise top.error(f"deliver one part of it: {known}", "split_by")
        recipient = split[1][part]
    else:
        recipient = top.get("recipient", str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", recipient):
        raise top.error(f"{recipient!r}: use lower-case letters, digits and _", "recipient")
    language = top.choice("language", LANGUAGES, "es")
    level, defaults = _read_level(top)
    glossary = load_glossary(path.parent)
    datasets = [
        _read_dataset(top.child(f"datasets[{n}]", raw), defaults, language, glossary)
        for n, raw in enumerate(top.get("datasets", list))
    ]
    if not datasets:
        raise top.error("list at least one dataset", "datasets")
    if len({d.name for d in datasets}) != len(datasets):
        raise top.error("two datasets have the same name", "datasets")
    if split is not None and part is not None:
        datasets = [_only_part(top, d, split[0], part) for d in datasets]
    return ExtractSpec(
        name=path.stem if part is None else f"{path.stem}{PART_SEPARATOR}{part}",
        recipient=recipient,
        description=str(top.get("description", str, "")),
        datasets=tuple(datasets),
        path=path,
        format=top.choice("format", FORMATS, "csv"),
        language=language,
        schedule=top.choice("schedule", SCHEDULES, "@monthly"),
        channel=_read_channel(top),
        level=level,
        csv=_read_csv(top),
        allow_empty=bool(top.get("allow_empty", bool, False)),
        glossary=glossary,
    )


def _only_part(top: _Reader, dataset: Dataset, column: str, part: str) -> Dataset:
    if column not in {c.name for c in dataset.columns}:
        raise top.error(f"{column!r} is not a column of dataset {dataset.name!r}", "split_by")
    if column in dataset.filters:
        raise top.error(f"dataset {dataset.name!r} filters {column!r} itself", "split_by")
    return replace(dataset, filters={**dataset.filters, column: [part]})


def spec_paths(specs_dir: Path | None = None) -> list[Path]:
    """The spec files to deliver: those of `specs_dir` when given; else the recipients of the
    country profile in use (each from the profile's own `extracts/`, else the project's)."""
    if specs_dir is not None:
        return sorted(p for p in specs_dir.glob("*.yaml") if not p.name.startswith("_"))
    from observatorio.core.profile import load_profile

    profile = load_profile()
    if profile.recipients:
        return profile.recipient_specs(SPECS_DIR)
    return spec_paths(SPECS_DIR)


def load_spec(name: str, specs_dir: Path | None = None) -> ExtractSpec:
    stem, separator, part = name.partition(PART_SEPARATOR)
    path = next((p for p in spec_paths(specs_dir) if p.stem == stem), None)
    if path is None:
        known = ", ".join(available_specs(specs_dir))
        where = specs_dir or "the profile's recipients"
        raise ExtractError(f"no extract spec {name!r} in {where} (known: {known})")
    return parse_spec(path, part if separator else None)


def available_specs(specs_dir: Path | None = None) -> list[str]:
    """Every deliverable spec: a file's stem, or `<stem>__<value>` per part of a split file."""
    names: list[str] = []
    for path in spec_paths(specs_dir):
        raw = _read_yaml(path)
        split = _split(_Reader(path, raw)) if isinstance(raw, dict) else None
        if split is None:
            names.append(path.stem)
        else:
            names.extend(f"{path.stem}{PART_SEPARATOR}{value}" for value in split[1])
    return names
