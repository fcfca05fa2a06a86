"""Per-cell rules of the contract language: normalisers, nulls, maps, decoders, styles, dates."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from ingestion.cells import _check, _compile, plan_header
from ingestion.contract import ContractError, parse_contract
from ingestion.decoders import sim_age
from ingestion.values import prepare, prepare_array


def _contract(*columns: dict[str, object], **extra: object):  # type: ignore[no-untyped-def]
    return parse_contract({"source": "t", "entity": "e", "columns": list(columns), **extra})


@pytest.mark.parametrize(
    ("code", "years"),
    [
        ("000", None),
        ("999", None),
        ("030", "0"),  # 30 minutes
        ("112", "0"),  # 12 hours
        ("215", "0"),  # 15 days
        ("311", "0"),  # 11 months
        ("400", "0"),  # 0 years
        ("432", "32"),
        ("499", "99"),
        ("500", "100"),
        ("512", "112"),
    ],
)
def test_sim_age_reads_the_unit_digit(code, years):
    assert sim_age(code) == years


@pytest.mark.parametrize("code", ["45", "4321", "6xx", "632", "a32"])
def test_sim_age_refuses_what_is_not_an_idade(code):
    with pytest.raises(ValueError):
        sim_age(code)


def test_normalisers_nulls_and_maps_in_order():
    contract = _contract(
        {"name": "code", "type": "text", "normalise": [{"strip_suffix": "000"}, {"pad_left": 5}]},
        {"name": "sex", "type": "text", "map": {"1": "M", "2": "F", "9": None}},
        {"name": "muni", "type": "text", "normalise": [{"substring": [0, 6]}]},
        {"name": "name", "type": "text", "normalise": ["upper", "strip_accents"]},
        {"name": "age", "type": "integer", "nulls": ["S/D", "NO REPORTADO"]},
        nulls=["sd"],
    )
    code, sex, muni, name, age = contract.columns
    assert prepare(code, "5001000") == ("05001", None)
    assert prepare(code, "05001000") == ("05001", None)
    assert prepare(sex, "1") == ("M", None) and prepare(sex, "9") == ("", None)
    assert prepare(sex, "3")[1] == "not one of the mapped codes ['1', '2', '9']"
    assert prepare(muni, "3550308") == ("355030", None) and prepare(muni, "355030")[0] == "355030"
    assert prepare(name, "Bogotá d.c.") == ("BOGOTA D.C.", None)
    assert prepare(age, "S/D") == ("", None) and prepare(age, "sd") == ("", None)
    assert prepare(age, "NO REPORTADO") == ("", None)


def test_prepare_array_matches_prepare():
    (column,) = _contract({"name": "sex", "type": "text", "map": {"1": "M", "2": "F"}}).columns
    values = pa.array(["1", "2", "1", "7", ""])
    prepared, reasons = prepare_array(column, values)
    assert prepared.to_pylist() == ["M", "F", "M", "", ""]
    assert reasons is not None
    assert reasons.to_pylist() == [None, None, None, prepare(column, "7")[1], None]


def _typed(column_spec: dict[str, object], text: str):  # type: ignore[no-untyped-def]
    contract = _contract(column_spec)
    plan = plan_header(__import__("pathlib").Path("f.csv"), [contract.columns[0].source], contract)
    (compiled,) = _compile(contract, plan)
    if compiled.rules:
        text, why = prepare(compiled.column, text)
        if why is not None:
            return None, why
    return _check(compiled, text)


def test_one_comma_two_three_four_is_never_one_point_two_three_four():
    # The misread this language exists to prevent: without a declared style, `1,234` is
    # not a number; under `1.234,5` it is ambiguous; only `1,234.5` reads it as 1234.
    plain = {"name": "v", "type": "numeric"}
    assert _typed(plain, "1,234")[0] is None
    assert _typed(plain, "1234.5") == (Decimal("1234.5"), None)
    comma = {"name": "v", "type": "numeric", "numeric": {"thousands": ".", "decimal": ","}}
    assert _typed(comma, "1,234")[0] is None
    assert "ambiguous" in str(_typed(comma, "1,234")[1])
    assert _typed(comma, "1.234,5") == (Decimal("1234.5"), None)
    two = {
        "name": "v",
        "type": "numeric",
        "numeric": {"thousands": ".", "decimal": ",", "decimals": 3},
    }
    assert _typed(two, "1,234") == (Decimal("1.234"), None)
    dot = {"name": "v", "type": "numeric", "numeric": {"thousands": ",", "decimal": "."}}
    assert _typed(dot, "1,234") == (Decimal("1234"), None)
    assert _typed(dot, "1.234")[0] is None
    assert _typed(dot, "12,34")[0] is None  # a thousands group has three digits
    assert _typed({"name": "v", "type": "integer"}, "1,234")[0] is None


def test_a_date_that_lost_its_leading_zero_is_not_read():
    spec = {"name": "d", "type": "date", "format": "%d%m%Y"}
    assert _typed(spec, "1012020") == (None, "expected a date in format %d%m%Y")
    assert str(_typed(spec, "01012020")[0]) == "2020-01-01"
    assert _typed(spec, "010120201")[0] is None


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"name": "a", "type": "text", "decoder": "nope"}, "decoder must be one of"),
        ({"name": "a", "type": "text", "normalise": ["lower"]}, "normalise step"),
        ({"name": "a", "type": "text", "numeric": {"decimal": ","}}, "numeric style is for"),
        ({"name": "a", "type": "text", "count": True}, "count column must be integer"),
    ],
)
def test_contract_mistakes_are_named(column, message):
    with pytest.raises(ContractError, match=message):
        _contract(column)


def test_a_primary_key_names_columns_of_the_table():
    # The raw table is indexed by the key's first column: a person's ID is not one of them
    # (it is stored as its pseudonym), nor is a column the contract does not have.
    person = {
        "name": "id",
        "type": "text",
        "person": {"action": "pseudonymise", "kind": "national_id"},
    }
    with pytest.raises(ContractError, match=r"primary_key names no column of the table: \['id'\]"):
        _contract(person, primary_key=["id"])
    with pytest.raises(ContractError, match="'nope'"):
        _contract({"name": "a", "type": "text"}, primary_key=["a", "nope"])
    assert _contract({"name": "a", "type": "text"}, primary_key=["a"]).primary_key == ("a",)


def test_fixed_width_needs_positions_and_zip_needs_a_member():
    with pytest.raises(ContractError, match="start and width"):
        _contract({"name": "a", "type": "text"}, format="fixed_width")
    with pytest.raises(ContractError, match="member pattern"):
        _contract({"name": "a", "type": "text"}, container="zip")


def test_the_readme_example_is_a_valid_contract_of_the_shipped_layout():
    from pathlib import Path

    import yaml

    from ingestion.contract import load_contract

    readme = (Path(__file__).parents[3] / "README.md").read_text("utf-8")
    block = readme.split("## Adding a source")[1].split("```yaml")[1].split("```")[0]
    example = parse_contract(yaml.safe_load(block))
    shipped = load_contract(example.name)
    assert (example.format, example.container, example.unpivot) == (
        shipped.format,
        shipped.container,
        shipped.unpivot,
    )
    by_name = {c.name: c for c in shipped.columns}
    for column in example.columns:
        assert column == by_name[column.name]
