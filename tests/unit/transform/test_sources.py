"""The dbt sources generated from the contracts: current, complete, and a new contract is a
new source (with its interface mapping) with no other edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ingestion.contract import CATALOG_DIR, CONTRACTS_DIR, ContractError
from observatorio.transform.sources import (
    DBT_PROJECT,
    SOURCES_FILE,
    active_contract_paths,
    sources_document,
    sources_text,
)


def _tables(document: dict) -> dict[str, dict]:
    return {t["name"]: t for s in document["sources"] for t in s["tables"]}


def test_the_committed_sources_file_is_current():
    committed = (DBT_PROJECT / SOURCES_FILE).read_text(encoding="utf-8")
    assert committed == sources_text(), "run `make manifest` and commit the sources file"


def test_every_active_contract_is_a_source_table_with_its_columns_and_freshness():
    tables = _tables(sources_document())
    assert set(tables) == {p.stem for p in active_contract_paths()}
    reports = tables["police__reports"]
    columns = {c["name"]: c for c in reports["columns"]}
    assert columns["report_id"]["data_tests"] == ["not_null"]
    assert columns["report_id"]["description"].startswith("From `")
    assert {"_batch_id", "_source_file", "_source_row", "_file_sha256"} <= set(columns)
    assert reports["freshness"]["error_after"] == {"count": 7, "period": "day"}
    assert "police__reports" in reports["config"]["loaded_at_query"]
    # Hand-written sources stay only for what no contract describes (ops, the register, the
    # survey's estimates) or a profile chooses (the reference tables).
    hand_written = [
        p.name
        for p in (DBT_PROJECT / "models").rglob("_*__sources.yml")
        if p.name != SOURCES_FILE.name
    ]
    assert sorted(hand_written) == [
        "_ops__sources.yml",
        "_reconciliation__sources.yml",
        "_reference__sources.yml",
        "_survey__sources.yml",
    ]


def test_a_new_contract_is_a_new_source_with_its_interface_mapping(tmp_path: Path):
    paths = [p for p in active_contract_paths() if p.stem != "sesnsp__municipal_incidence"]
    shutil.copy(CATALOG_DIR / "mexico" / "sesnsp__municipal_incidence.yaml", tmp_path)
    added = tmp_path / "sesnsp__municipal_incidence.yaml"
    tables = _tables(sources_document([*paths, added]))
    assert set(tables) == {p.stem for p in paths} | {"sesnsp__municipal_incidence"}
    mapping = tables["sesnsp__municipal_incidence"]["config"]["meta"]["interface"]["crime_counts"]
    assert mapping["source_system"] == "police:sesnsp"
    assert mapping["columns"]["national_offence_code"] == "offence_subtype"
    assert mapping["constants"] == {"counting_unit": "events"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": {"count": "no_such_column"}}, "has no column 'no_such_column'"),
        ({"columns": {"nonsense": "offences"}}, "'nonsense' is not a column of crime_counts"),
        ({"source_system": None}, "source_system"),
        ({"correspondence": None}, "correspondence"),
    ],
)
def test_a_wrong_mapping_is_refused_naming_the_file_and_key(tmp_path: Path, change, message):
    data = yaml.safe_load(
        (CATALOG_DIR / "mexico" / "sesnsp__municipal_incidence.yaml").read_text("utf-8")
    )
    mapping = data["interface"]["crime_counts"]
    for key, value in change.items():
        mapping[key] = {**mapping[key], **value} if isinstance(value, dict) else value
    path = tmp_path / "sesnsp__municipal_incidence.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ContractError, match=message) as raised:
        sources_document([path])
    assert str(path) in str(raised.value) and "interface.crime_counts" in str(raised.value)


def _eevv(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load(
        (CATALOG_DIR / "colombia" / "eevv__non_fetal_deaths.yaml").read_text("utf-8")
    )
    data["interface"]["violent_deaths"]["columns"].update(change)
    data["interface"]["violent_deaths"]["columns"] = {
        k: v for k, v in data["interface"]["violent_deaths"]["columns"].items() if v is not None
    }
    path = tmp_path / "eevv__non_fetal_deaths.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_code_in_parts_and_a_month_without_a_day_map_into_violent_deaths(tmp_path: Path):
    # DANE's EEVV: the department and the municipality within it; the year and month only.
    tables = _tables(sources_document([CATALOG_DIR / "colombia" / "eevv__non_fetal_deaths.yaml"]))
    mapping = tables["eevv__non_fetal_deaths"]["config"]["meta"]["interface"]["violent_deaths"]
    assert mapping["columns"]["municipality_code"] == [
        "department_code",
        "municipality_code_in_department",
    ]
    assert (mapping["columns"]["year"], mapping["columns"]["month"]) == (
        "death_year",
        "death_month",
    )
    with pytest.raises(ContractError, match="has no column 'no_such_part'"):
        sources_document(
            [_eevv(tmp_path, {"municipality_code": ["department_code", "no_such_part"]})]
        )
    with pytest.raises(ContractError, match="map a death_date, or a year and a month"):
        sources_document([_eevv(tmp_path, {"month": None})])


def test_every_catalog_mapping_is_valid():
    catalog = sorted(CATALOG_DIR.glob("*/*.yaml"))
    tables = _tables(sources_document(catalog))
    interfaces = {
        name: sorted(t["config"]["meta"]["interface"])
        for name, t in tables.items()
        if t["config"]["meta"].get("interface")
    }
    assert interfaces == {
        "eevv__non_fetal_deaths": ["violent_deaths"],
        "sim__deaths": ["violent_deaths"],
        "sim__deaths_dbf": ["violent_deaths"],
        "sesnsp__municipal_incidence": ["crime_counts"],
        "siedco__homicides": ["crime_counts"],
        "snic__departments": ["crime_counts"],
    }
    # dbt reads them whichever profile runs (their raw tables stay empty until one lands
    # files), beside every contract of the active folder; reference tables are the profiles'.
    active = active_contract_paths()
    assert CONTRACTS_DIR in [p.parent for p in active]
    assert set(interfaces) <= {p.stem for p in active}
