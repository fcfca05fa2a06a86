"""JSON exports (`format: jsonl`, one object a line, or `format: json`, a list at
`records_path`) read record by record against their contract.

Values are looked up by dotted source names, turned into the text the typed converters
read, and typed by the row parser's `_typed_record`, so JSON and delimited files share
every check. Called by `ingestion.parse.parse_records`.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingestion.cells import (
    Footer,
    HeaderPlan,
    Problem,
    Record,
    _compile,
    _text_stream,
    _typed_record,
    undeclared_columns,
)
from ingestion.contract import Contract, Unpivot
from ingestion.errors import BatchError


def _json_text(value: Any) -> str:
    """A JSON value as the text the typed converters read (they are shared with CSV)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _lookup(obj: dict[str, Any], dotted: str) -> Any:
    current: Any = obj
    for part in dotted.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current


def _long_fields(
    obj: dict[str, Any], row: int, sources: list[str], spec: Unpivot | None
) -> Iterator[tuple[str | None, list[str] | Problem]]:
    """The record's fields, or with `unpivot` one set per wide key (the key's name under
    `spec.key`, its value under `spec.value`); a wide key the record lacks is a problem of
    that long row, naming the key."""
    if spec is None:
        yield None, [_json_text(_lookup(obj, source)) for source in sources]
        return
    for name in spec.columns:
        if name not in obj:
            reason = f"the wide column {name!r} (one of unpivot.columns) is missing"
            yield name, Problem(row, name, reason, None)
            continue
        cell = _json_text(obj[name])
        fields = [
            name if s == spec.key else cell if s == spec.value else _json_text(_lookup(obj, s))
            for s in sources
        ]
        yield name, fields


def _json_objects(path: Path, contract: Contract, encoding: str) -> Iterator[Any]:
    """The records of a JSON file: one object a line (jsonl) or a list inside a document."""
    with _text_stream(path, encoding) as stream:
        if contract.format == "jsonl":
            for line in stream:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield exc
            return
        try:
            document = json.load(stream)
        except json.JSONDecodeError as exc:
            raise BatchError(f"{path.name}: not valid JSON ({exc})") from exc
    records = _lookup(document, contract.records_path) if contract.records_path else document
    if not isinstance(records, list):
        where = contract.records_path or "the top level"
        raise BatchError(f"{path.name}: expected a list of records at {where}")
    yield from records


def parse_json(
    path: Path, contract: Contract, encoding: str, key: bytes
) -> tuple[HeaderPlan, Iterator[Record | list[Problem] | Footer]]:
    sources = [c.source for c in contract.columns]
    plan = HeaderPlan(
        indices={c.name: i for i, c in enumerate(contract.columns)}, width=len(sources)
    )
    compiled = _compile(contract, plan)
    top_level = {s.split(".")[0] for s in sources}
    spec = contract.unpivot
    if spec is not None:
        top_level |= set(spec.columns)

    def records() -> Iterator[Record | list[Problem] | Footer]:
        try:
            for row, obj in enumerate(_json_objects(path, contract, encoding), start=1):
                if not isinstance(obj, dict):
                    reason = (
                        f"not a JSON object: {obj}"
                        if isinstance(obj, Exception)
                        else ("not a JSON object")
                    )
                    yield [Problem(row, None, reason, None)]
                    continue
                unknown = sorted(set(obj) - top_level)
                if unknown:
                    # Keys first seen at this record: rejected, or dropped with a warning.
                    undeclared_columns(path, contract, unknown, plan)
                for wide, fields in _long_fields(obj, row, sources, spec):
                    if isinstance(fields, Problem):
                        yield [fields]
                        continue
                    item = _typed_record(row, fields, plan, compiled, key)
                    if isinstance(item, list) and spec is not None and wide is not None:
                        # A bad wide value is named by its key, as a wide file's by its header.
                        item = [
                            Problem(p.row, wide, p.reason, p.value) if p.column == spec.value else p
                            for p in item
                        ]
                    yield item
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise BatchError(f"{path.name}: the gzip stream is truncated or corrupt") from exc

    return plan, records()
