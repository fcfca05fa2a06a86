"""The columnar reader gives what the row parser gives: values, pseudonyms, problems, rows."""

from __future__ import annotations

import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.ingest import write_police_file
from ingestion.cells import Problem, Record, detect_encoding
from ingestion.columnar import PYTHON_WHITESPACE, ColumnarUnsupported, read_batches
from ingestion.contract import load_contract
from ingestion.parse import parse_records
from ingestion.pseudonymise import _hmac_hex, hmac_hex_many
from tests.police_files import HEADER, report_row, write_reports

KEY = b"k" * 32
CONTRACT = load_contract("police__reports")

Parsed = tuple[int, dict[int, dict[str, Any]], list[Problem], list[str]]


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return "{" + ",".join(value) + "}"
    return str(value) if isinstance(value, Decimal) else value


def by_rows(path: Path, contract: Any = CONTRACT) -> Parsed:
    encoding = detect_encoding(path, contract.encodings)
    plan, items = parse_records(path, contract, encoding, KEY)
    names = [n for n, _ in contract.output_columns()]
    good: dict[int, dict[str, Any]] = {}
    problems: list[Problem] = []
    read = 0
    for item in items:
        read += 1
        if isinstance(item, Record):
            good[item.row] = dict(zip(names, map(_plain, item.values), strict=True))
        else:
            problems.extend(item)
    return read, good, problems, plan.warnings


def by_columns(path: Path, contract: Any = CONTRACT) -> Parsed:
    encoding = detect_encoding(path, contract.encodings)
    plan, batches = read_batches(path, contract, encoding, KEY)
    good: dict[int, dict[str, Any]] = {}
    problems: list[Problem] = []
    read = quarantined = 0
    for batch in batches:
        read += batch.rows_read
        quarantined += batch.rows_quarantined
        for row in batch.good.to_pylist():
            good[row.pop("_source_row")] = row
        problems.extend(batch.problems)
    assert read == len(good) + quarantined
    return read, good, problems, plan.warnings


def assert_same(path: Path, contract: Any = CONTRACT) -> Parsed:
    rows, columns = by_rows(path, contract), by_columns(path, contract)
    assert columns[0] == rows[0]
    assert columns[1] == rows[1]
    assert columns[2] == rows[2]
    assert columns[3] == rows[3]
    return columns


BAD_CELLS = [
    {"fecha_hecho": "31/02/2024"},
    {"edad_victima": "300", "sexo_victima": "X"},
    {"numero_denuncia": ""},
    {"codigo_delito": "HOMICIDIO"},
    {"fecha_nacimiento_victima": "99/99/1990"},
    {"fecha_registro": "29/02/2023 10:00", "victima_nro": "0"},
    {"fecha_registro": "05/01/2024 24:00", "victima_nro": "1_0"},
    {"edad_victima": "99999999999"},
    {"lugar": "x\x00y"},
    # Strict dates: a value shorter than its format's zero-padded form is quarantined.
    {"fecha_nacimiento_victima": "1/2/1990", "fecha_hecho": "4/1/2024", "hora_hecho": "7:05"},
]
ODD_BUT_GOOD = [
    {"fecha_nacimiento_victima": "29/02/2024", "sexo_victima": ""},
    {"cedula_victima": "12.345.678-9", "nombre_victima": "  O'Brien  ñandú "},
    {"cedula_victima": "123456789-0", "edad_victima": "+5"},
    {"cedula_victima": "", "nombre_victima": "", "hora_hecho": ""},
    {"lugar": 'casa "azul";\r\nsegundo piso', "arma": "\u3000cuchillo\x85"},
]


def test_good_odd_and_bad_cells_match_the_row_parser(tmp_path):
    rows = [report_row(i) for i in range(1, 60)]
    for i, overrides in enumerate([*BAD_CELLS, *ODD_BUT_GOOD], start=2):
        rows[i] = report_row(i + 1, **overrides)
    path = write_reports(tmp_path / "d.csv", rows, encoding="utf-8")
    read, good, problems, _ = assert_same(path)
    assert read == 59 and len(good) == 59 - len(BAD_CELLS)
    assert {p.row for p in problems} == set(range(3, 3 + len(BAD_CELLS)))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1252"])
def test_encodings_match_the_row_parser(tmp_path, encoding):
    rows = [report_row(i, lugar="vía pública ñ") for i in range(1, 20)]
    assert_same(write_reports(tmp_path / "d.csv", rows, encoding=encoding))


def test_gzip_and_dropped_columns_match_the_row_parser(tmp_path):
    header = [*HEADER, 'a"; drop table x;--', "c" * 70]
    rows = [[*report_row(i), 'v"1\\', "CANARY\x01" if i % 2 else ""] for i in range(1, 12)]
    dropping = replace(CONTRACT, unknown_columns="drop")
    path = write_reports(tmp_path / "d.csv.gz", rows, header=header)
    _, good, _, warnings = assert_same(path, dropping)
    assert set(good[1]) == {n for n, _ in CONTRACT.output_columns()}
    assert not any("CANARY" in str(v) for row in good.values() for v in row.values())
    assert 'a"; drop table x;--' in warnings[0] and "CANARY" not in warnings[0]


def test_simulated_police_file_matches_the_row_parser(tmp_path):
    path = tmp_path / "denuncias_bench.csv"
    write_police_file(path, 5_000, seed=3)
    read, good, problems, _ = assert_same(path)
    assert read == len(good) == 5_000 and not problems


@pytest.mark.parametrize(
    "tail",
    [
        b"DEN-2024-0000099;1;05/01/2024 10:00;04/0",  # trailing partial line
        b'"DEN-2024-0000099;1\r\n',  # unterminated quote
        b"a;b;c\r\n",  # ragged row
    ],
)
def test_files_the_reader_cannot_split_like_csv_are_left_to_the_row_parser(tmp_path, tail):
    path = write_reports(tmp_path / "d.csv", [report_row(i) for i in range(1, 5)])
    with path.open("ab") as handle:
        handle.write(tail)
    _plan, batches = read_batches(path, CONTRACT, detect_encoding(path, CONTRACT.encodings), KEY)
    with pytest.raises(ColumnarUnsupported) as caught:
        list(batches)
    # The loader logs this message: Arrow's own names the row's text, this one never does.
    assert tail.decode().strip('"\r\n')[:5] not in str(caught.value)


def test_json_contracts_are_left_to_the_row_parser(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    with pytest.raises(ColumnarUnsupported):
        read_batches(path, load_contract("justice__cases"), "utf-8", KEY)


def test_whitespace_is_what_str_strip_strips():
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
    assert sorted(PYTHON_WHITESPACE) == sorted(every)


def test_hmac_many_gives_the_same_pseudonyms():
    values = ["123456789K", "JOSE", "", "ñandú " * 20]
    assert hmac_hex_many(KEY, "name", values) == [_hmac_hex(KEY, "name", v) for v in values]
    long_key = b"x" * 100
    assert hmac_hex_many(long_key, "value", ["a"]) == [_hmac_hex(long_key, "value", "a")]


CELL = st.text(
    alphabet=st.sampled_from([*list("0123456789/: -.KkxÁñ\"'"), "\x00", "\u3000", "\t"]),
    max_size=20,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cells=st.lists(st.tuples(st.sampled_from(HEADER), CELL), min_size=1, max_size=8))
def test_any_cell_values_match_the_row_parser(tmp_path_factory, cells):
    rows = [report_row(i) for i in range(1, 4)]
    for i, (column, value) in enumerate(cells):
        position = HEADER.index(column)
        rows[i % 3][position] = value
    path = write_reports(tmp_path_factory.mktemp("h") / "d.csv", rows, encoding="utf-8")
    try:
        columns = by_columns(path)
    except ColumnarUnsupported:
        return  # the loader reads such a file row by row
    assert columns == by_rows(path)
