"""Properties of the streaming parser (`ingestion.parse`), checked by hypothesis on files it
writes: any table written with csv quoting comes back cell for cell in every allowed
encoding; every record of a file is accounted for exactly once, loaded or quarantined; and
no bytes whatsoever make it fail with anything but a `BatchError` that names the file, or a
quarantine entry that names the row (and the column, when the cell is known)."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import string
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingestion.cells import Problem, Record, detect_encoding
from ingestion.contract import Contract, parse_contract
from ingestion.errors import BatchError
from ingestion.parse import parse_records

KEY = b"k" * 32
FILE_NAME = "denuncias_prop.csv"
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# In cp1252, the bytes 0x80-0xBF are UTF-8 continuation bytes, so text mixing them with
# accented letters can be valid UTF-8 by accident ("á¿¡" is U+1FE1 in UTF-8): no detector
# can tell those files apart. The cp1252 tables use ASCII plus the letters at 0xC0-0xFF,
# which never form UTF-8, so detection is decidable and the property is exact.
CP1252_TEXT = string.printable + "".join(chr(c) for c in range(0xC0, 0x100))
# UTF-8 tables: anything but NUL (quarantined on purpose, see below) and lone surrogates.
UTF8_TEXT = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
DELIMITERS = (";", ",", "\t", "|")


def text_contract(width: int, delimiter: str, **overrides: Any) -> Contract:
    """A contract of `width` optional text columns `año_0`.. (the ñ makes every file hold a
    non-ASCII byte, so its encoding is detectable)."""
    return parse_contract(
        {
            "source": "prop",
            "entity": "table",
            "format": "csv",
            "delimiter": delimiter,
            "unknown_columns": "drop",
            "columns": [
                {"name": f"c{i}", "source": f"año_{i}", "type": "text"} for i in range(width)
            ],
            **overrides,
        }
    )


def write_table(
    path: Path, header: list[str], rows: list[list[str]], delimiter: str, encoding: str
) -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)


def parse_all(path: Path, contract: Contract) -> tuple[list[Record], list[list[Problem]]]:
    encoding = detect_encoding(path, contract.encodings)
    _, items = parse_records(path, contract, encoding, KEY)
    records: list[Record] = []
    problems: list[list[Problem]] = []
    for item in items:
        if isinstance(item, Record):
            records.append(item)
        else:
            problems.append(item)
    return records, problems


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, str, list[int], list[list[str]]]:
    """(encoding, delimiter, column order in the file, rows of cells)."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    alphabet = st.sampled_from(CP1252_TEXT) if encoding == "cp1252" else UTF8_TEXT
    # Cells lean on the characters that break naive parsers.
    tricky = st.sampled_from(['"', "\r\n", "\n", "\r", ";", ",", "\t", "|", " ", "ñ", "É"])
    cell = st.lists(st.one_of(alphabet, tricky), max_size=10).map("".join)
    width = draw(st.integers(1, 5))
    order = draw(st.permutations(range(width)))
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=25))
    return encoding, draw(st.sampled_from(DELIMITERS)), list(order), rows


@PROPERTIES
@given(tables())
def test_any_quoted_table_round_trips_in_every_encoding(
    table: tuple[str, str, list[int], list[list[str]]],
) -> None:
    encoding, delimiter, order, rows = table
    contract = text_contract(len(order), delimiter)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FILE_NAME
        # The file's columns come in any order: the header, not the position, maps them.
        write_table(
            path,
            [f"año_{i}" for i in order],
            [[row[i] for i in order] for row in rows],
            delimiter,
            encoding,
        )
        assert detect_encoding(path, contract.encodings) == encoding
        records, problems = parse_all(path, contract)
    assert problems == []
    # A record that is a single empty cell is written as `""`, never as a blank line, so
    # every row comes back, numbered from 1 in order, with each cell trimmed (or None).
    assert [r.row for r in records] == list(range(1, len(rows) + 1))
    expected = [[cell.strip() or None for cell in row] for row in rows]
    assert [r.values for r in records] == expected


@st.composite
def messy_files(draw: st.DrawFn) -> tuple[list[list[str]], set[int], set[int]]:
    """Rows of a 3-column (id integer required, date, text) file, some of them ragged or
    with a bad cell; returns (rows, ragged row numbers, bad-cell row numbers)."""
    good_id = st.integers(-(2**31), 2**31 - 1).map(str)
    good_date = st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(lambda d: d.strftime("%d/%m/%Y"))
    text = st.text(alphabet=string.ascii_letters + ' ;"\r\n', max_size=8)
    rows: list[list[str]] = []
    ragged: set[int] = set()
    bad: set[int] = set()
    for number in range(1, draw(st.integers(0, 30)) + 1):
        kind = draw(st.sampled_from(["good", "good", "good", "ragged", "bad_id", "bad_date"]))
        row = [draw(good_id), draw(good_date), draw(text)]
        if kind == "ragged":
            extra = draw(st.lists(text, min_size=1, max_size=3))
            row = row[: draw(st.integers(1, 2))] if draw(st.booleans()) else row + extra
            ragged.add(number)
        elif kind == "bad_id":
            row[0] = draw(st.sampled_from(["", "1.5", "x1", "99999999999", "--3"]))
            bad.add(number)
        elif kind == "bad_date":
            row[1] = draw(st.sampled_from(["31/02/2024", "2024-01-01", "1/13/2024", "ayer"]))
            bad.add(number)
        rows.append(row)
    return rows, ragged, bad


MESSY_CONTRACT = parse_contract(
    {
        "source": "prop",
        "entity": "messy",
        "format": "csv",
        "delimiter": ";",
        "columns": [
            {"name": "id", "source": "id", "type": "integer", "required": True},
            {"name": "day", "source": "dia", "type": "date", "format": "%d/%m/%Y"},
            {"name": "note", "source": "nota", "type": "text"},
        ],
    }
)


@PROPERTIES
@given(messy_files())
def test_every_record_is_loaded_or_quarantined_exactly_once(
    messy: tuple[list[list[str]], set[int], set[int]],
) -> None:
    rows, ragged, bad = messy
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FILE_NAME
        write_table(path, ["id", "dia", "nota"], rows, ";", "utf-8")
        records, problems = parse_all(path, MESSY_CONTRACT)
    loaded = [r.row for r in records]
    quarantined = [group[0].row for group in problems]
    # rows read = loaded + quarantined, and each record is one or the other, never both.
    assert len(records) + len(problems) == len(rows)
    assert sorted(loaded + quarantined) == list(range(1, len(rows) + 1))
    assert set(quarantined) == ragged | bad
    for group in problems:
        assert len({p.row for p in group}) == 1
        if group[0].row in ragged:
            assert group[0].column is None and "field count" in group[0].reason
        else:
            assert {p.column for p in group} <= {"id", "dia"}


def _check_outcome(path: Path, contract: Contract) -> None:
    """Parse `path` to the end: the only exception allowed is a BatchError naming the file,
    and every quarantine entry names a row in order (and a contract column, if any)."""
    columns = {c.source for c in contract.columns}
    try:
        records, problems = parse_all(path, contract)
    except BatchError as exc:
        assert path.name in str(exc)
        return
    rows = sorted([r.row for r in records] + [g[0].row for g in problems])
    assert rows == list(range(1, len(rows) + 1))
    for group in problems:
        for problem in group:
            assert problem.row >= 1 and problem.reason
            assert problem.column is None or problem.column in columns


@PROPERTIES
@given(
    header=st.sampled_from(
        [b"", b"id;dia;nota\r\n", b"\xef\xbb\xbfid;dia;nota\n", b'"id";dia;"nota\r\n']
    ),
    junk=st.binary(max_size=400),
    encodings=st.sampled_from([("utf-8-sig", "utf-8", "cp1252"), ("utf-8",), ("cp1252",)]),
)
def test_junk_bytes_end_in_a_batch_error_or_quarantine(
    header: bytes, junk: bytes, encodings: tuple[str, ...]
) -> None:
    contract = parse_contract(
        {
            "source": "prop",
            "entity": "messy",
            "format": "csv",
            "delimiter": ";",
            "encodings": list(encodings),
            "unknown_columns": "drop",
            "columns": [
                {
                    "name": c.name,
                    "source": c.source,
                    "type": c.type,
                    "required": c.required,
                    "format": c.format,
                }
                for c in MESSY_CONTRACT.columns
            ],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FILE_NAME
        path.write_bytes(header + junk)
        _check_outcome(path, contract)
        gz = Path(folder) / f"{FILE_NAME}.gz"
        gz.write_bytes(header + junk)  # not gzip at all
        _check_outcome(gz, contract)


@PROPERTIES
@given(messy_files(), st.data())
def test_any_cut_of_a_gzip_export_is_a_clear_error_or_the_whole_file(
    messy: tuple[list[list[str]], set[int], set[int]], data: st.DataObject
) -> None:
    rows, _, _ = messy
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["id", "dia", "nota"])
    writer.writerows(rows)
    packed = gzip.compress(buffer.getvalue().encode("utf-8"))
    cut = data.draw(st.integers(0, len(packed)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{FILE_NAME}.gz"
        path.write_bytes(packed[:cut])
        if cut == len(packed):
            records, problems = parse_all(path, MESSY_CONTRACT)
            assert len(records) + len(problems) == len(rows)
        else:
            try:
                parse_all(path, MESSY_CONTRACT)
            except BatchError as exc:
                assert path.name in str(exc)
            else:  # pragma: no cover - a truncated stream must never pass as complete
                raise AssertionError(f"a gzip cut at {cut} of {len(packed)} bytes was accepted")


@PROPERTIES
@given(st.text(alphabet=CP1252_TEXT, min_size=1, max_size=40))
def test_a_bom_is_never_part_of_the_first_column(value: str) -> None:
    assume(value.strip())
    contract = text_contract(1, ";")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / FILE_NAME
        path.write_bytes(
            codecs.BOM_UTF8 + f'año_0\r\n"{value.replace(chr(34), 2 * chr(34))}"\r\n'.encode()
        )
        records, problems = parse_all(path, contract)
    assert not problems and records[0].values == [value.strip()]


# Found by test_junk_bytes_end_in_a_batch_error_or_quarantine: a UTF-8 BOM followed by
# invalid UTF-8, and a byte cp1252 leaves undefined, used to escape as a bare
# UnicodeDecodeError; encoding detection now checks the whole file.
def test_a_bom_file_with_invalid_utf8_is_a_batch_error(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(codecs.BOM_UTF8 + b"id;dia;nota\r\n1;01/01/2024;Nu\xf1ez\r\n")
    with pytest.raises(BatchError, match=FILE_NAME):
        parse_all(path, MESSY_CONTRACT)


def test_a_byte_undefined_in_cp1252_is_a_batch_error(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(b"id;dia;nota\r\n1;01/01/2024;Nu\xf1ez \x9d\r\n")
    with pytest.raises(BatchError, match=FILE_NAME):
        parse_all(path, MESSY_CONTRACT)
