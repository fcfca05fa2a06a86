"""The parser against real files with the bad inputs police exports really contain."""

import gzip
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.cells import Problem, Record, detect_encoding
from ingestion.contract import load_contract
from ingestion.errors import BatchError
from ingestion.parse import parse_records
from tests.police_files import HEADER, report_row, write_reports

KEY = b"k" * 32
CONTRACT = load_contract("police__reports")


def parse(path: Path) -> tuple[list[Record], list[list[Problem]], list[str]]:
    encoding = detect_encoding(path, CONTRACT.encodings)
    plan, items = parse_records(path, CONTRACT, encoding, KEY)
    records, problems = [], []
    for item in items:
        (records if isinstance(item, Record) else problems).append(item)
    return records, problems, plan.warnings


def test_good_cp1252_file_parses_typed_and_pseudonymised(tmp_path):
    path = write_reports(tmp_path / "denuncias_1.csv", [report_row(i) for i in range(1, 6)])
    assert detect_encoding(path, CONTRACT.encodings) == "cp1252"
    records, problems, _ = parse(path)
    assert not problems and [r.row for r in records] == [1, 2, 3, 4, 5]
    names = [n for n, _ in CONTRACT.output_columns()]
    first = dict(zip(names, records[0].values, strict=True))
    assert first["report_id"] == "DEN-2024-0000001"
    assert str(first["incident_date"]) == "2024-01-04"
    assert first["victim_national_id_status"] == "valid"
    assert "Núñez" not in str(records[0].values) and "NUNEZ" not in str(records[0].values)
    assert "place" in first and first["place"] == "vía pública"


def test_utf8_bom_is_detected_and_accents_survive(tmp_path):
    path = write_reports(tmp_path / "d.csv", [report_row(1)], encoding="utf-8-sig")
    assert detect_encoding(path, CONTRACT.encodings) == "utf-8-sig"
    records, problems, _ = parse(path)
    assert not problems and "vía pública" in records[0].values


def test_utf8_without_bom_is_utf8_where_the_contract_names_utf8_sig(tmp_path):
    """A contract of `[utf-8-sig, latin-1]` (a BOM or not, else latin-1): a UTF-8 file
    without a BOM is read as UTF-8, never as latin-1, which decodes any byte silently."""
    path = tmp_path / "municipios.csv"
    path.write_text("codigo;nombre\n01002;Jesús María\n", encoding="utf-8")
    assert detect_encoding(path, ("utf-8-sig", "latin-1")) == "utf-8"
    path.write_text("codigo;nombre\n01002;Jesús María\n", encoding="latin-1")
    assert detect_encoding(path, ("utf-8-sig", "latin-1")) == "latin-1"


@given(
    # Often the bytes that cp1252 or cp1250 leave undefined, several in one file.
    data=st.lists(
        st.sampled_from([0x41, 0x0A, 0xE9, 0x81, 0x83, 0x88, 0x8D, 0x8F, 0x90, 0x98, 0x9D])
        | st.integers(0, 0xFF),
        max_size=300,
    ).map(bytes),
    encoding=st.sampled_from(["cp1252", "cp1250", "cp1251", "iso8859-15", "cp850"]),
    small_chunks=st.booleans(),
)
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_table_encoding_fails_where_its_codec_fails(tmp_path, data, encoding, small_chunks):
    """The bytes a single-byte encoding maps to nothing are searched for, not decoded: the
    first one's offset is where Python's codec stops, in a plain and in a gzip file, across
    chunk boundaries too."""
    import ingestion.cells as cells

    try:
        data.decode(encoding)
        expected = None
    except UnicodeDecodeError as exc:
        expected = exc.start
    assert cells._undecodable_bytes(encoding) is not None
    plain, packed = tmp_path / "f.csv", tmp_path / "f.csv.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    chunk = cells.CHUNK
    cells.CHUNK = 7 if small_chunks else chunk
    try:
        assert cells._first_undecodable(plain, encoding) == expected
        assert cells._first_undecodable(packed, encoding) == expected
    finally:
        cells.CHUNK = chunk


def test_an_undefined_cp1252_byte_is_named_by_its_offset(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("codigo;nombre\n01;Peña\n".encode("cp1252") + b"02;A\x9dB\x81\n")
    with pytest.raises(BatchError, match=r"cp1252 fails at byte 26"):
        detect_encoding(path, ("cp1252",))


def test_bad_cells_are_reported_per_cell_with_row_and_column(tmp_path):
    rows = [
        report_row(1),
        report_row(2, fecha_hecho="31/02/2024"),
        report_row(3, edad_victima="300", sexo_victima="X"),
        report_row(4, numero_denuncia=""),
        report_row(5, codigo_delito="HOMICIDIO"),
    ]
    records, problems, _ = parse(write_reports(tmp_path / "d.csv", rows))
    assert [r.row for r in records] == [1]
    flat = {(p.row, p.column): p for group in problems for p in group}
    assert flat[(2, "fecha_hecho")].value == "31/02/2024"
    assert "dd" in flat[(2, "fecha_hecho")].reason or "%d" in flat[(2, "fecha_hecho")].reason
    assert "maximum" in flat[(3, "edad_victima")].reason
    assert "allowed" in flat[(3, "sexo_victima")].reason
    assert flat[(4, "numero_denuncia")].reason == "required value is missing"
    assert "pattern" in flat[(5, "codigo_delito")].reason


def test_person_values_in_quarantine_are_pseudonymised(tmp_path):
    rows = [report_row(1, fecha_nacimiento_victima="99/99/1990")]
    _, problems, _ = parse(write_reports(tmp_path / "d.csv", rows))
    (problem,) = problems[0]
    assert problem.column == "fecha_nacimiento_victima"
    assert problem.value is not None and problem.value.startswith("hmac:")
    assert "1990" not in problem.value


def test_ragged_rows_and_nul_bytes_are_quarantined(tmp_path):
    path = tmp_path / "d.csv"
    write_reports(path, [report_row(1), report_row(2)[:-3], report_row(3)])
    with path.open("ab") as handle:
        handle.write(";".join(report_row(4, lugar="otro\x00")).encode("cp1252") + b"\r\n")
    records, problems, _ = parse(path)
    assert [r.row for r in records] == [1, 3]
    reasons = {group[0].row: group[0].reason for group in problems}
    assert reasons[2] == "wrong field count: expected 17, got 14"
    assert "NUL" in reasons[4]


def test_quotes_and_crlf_inside_fields_keep_record_numbers(tmp_path):
    rows = [report_row(1, lugar='vivienda "la casa";\r\nsegundo piso'), report_row(2)]
    records, problems, _ = parse(write_reports(tmp_path / "d.csv", rows))
    assert not problems
    assert [r.row for r in records] == [1, 2]
    assert 'vivienda "la casa";\r\nsegundo piso' in records[0].values


def test_trailing_partial_line_is_quarantined_not_lost(tmp_path):
    path = write_reports(tmp_path / "d.csv", [report_row(1)])
    with path.open("ab") as handle:
        handle.write(b"DEN-2024-0000002;1;05/01/2024 10:00;04/0")
    records, problems, _ = parse(path)
    assert len(records) == 1
    assert problems[0][0].row == 2 and "field count" in problems[0][0].reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"numero_denuncia;numero_denuncia;victima_nro\r\n", "duplicate header"),
        (b"victima_nro;fecha_registro\r\n", "required column 'numero_denuncia' is missing"),
    ],
)
def test_unusable_headers_reject_the_file_naming_it(tmp_path, content, message):
    path = tmp_path / "denuncias_bad.csv"
    path.write_bytes(content)
    with pytest.raises(BatchError, match=message) as caught:
        parse(path)
    assert "denuncias_bad.csv" in str(caught.value)


def test_header_only_file_has_no_records(tmp_path):
    records, problems, _ = parse(write_reports(tmp_path / "d.csv", []))
    assert records == [] and problems == []


def test_an_undeclared_column_rejects_the_file_naming_it_and_never_its_values(tmp_path):
    # The police contracts keep the default, `unknown_columns: reject`.
    hostile = 'a"; drop table x;--'
    rows = [[*report_row(1), "CANARY-9988776655"]]
    with pytest.raises(BatchError) as caught:
        parse(write_reports(tmp_path / "d.csv", rows, header=[*HEADER, hostile]))
    message = str(caught.value)
    assert "d.csv" in message and repr(hostile) in message and "unknown_columns: reject" in message
    assert "CANARY" not in message


def test_dropped_columns_are_named_in_a_warning_and_their_values_never_read(tmp_path):
    hostile = 'a"; drop table x;--'
    long_name = "c" * 70
    header = [*HEADER, hostile, long_name]
    rows = [[*report_row(1), "CANARY-9988776655", "Juana Canaria Pérez"]]
    contract = replace(load_contract("police__reports"), unknown_columns="drop")
    path = write_reports(tmp_path / "d.csv", rows, header=header)
    plan, items = parse_records(path, contract, detect_encoding(path, contract.encodings), KEY)
    records = list(items)
    assert [type(r).__name__ for r in records] == ["Record"]
    assert not any("CANARY" in str(v) or "Canaria" in str(v) for v in records[0].values)
    assert plan.dropped == [hostile, long_name]
    # Names only, cut to 60 characters; never a value.
    assert repr(hostile) in plan.warnings[0] and repr("c" * 60) in plan.warnings[0]
    assert "CANARY" not in plan.warnings[0] and "Canaria" not in plan.warnings[0]


def test_truncated_gzip_is_a_clear_batch_error(tmp_path):
    path = write_reports(tmp_path / "d.csv.gz", [report_row(i) for i in range(1, 2000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BatchError, match="truncated or corrupt"):
        parse(path)


def test_gzip_file_parses_like_plain(tmp_path):
    path = write_reports(tmp_path / "d.csv.gz", [report_row(i) for i in range(1, 4)])
    with gzip.open(path, "rb") as handle:
        assert handle.read(15).startswith(b"numero_denuncia")
    records, problems, _ = parse(path)
    assert len(records) == 3 and not problems
