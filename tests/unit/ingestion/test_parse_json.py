"""JSON-lines and JSON document extracts (what the SQL and REST connectors land)."""

import json

import pytest

from ingestion.cells import Record
from ingestion.contract import parse_contract
from ingestion.errors import BatchError
from ingestion.parse import parse_records

KEY = b"k" * 32


def contract(fmt: str, **extra):
    return parse_contract(
        {
            "source": "health",
            "entity": "deaths",
            "format": fmt,
            "unknown_columns": "drop",
            "columns": [
                {"name": "record_id", "source": "id", "type": "text", "required": True},
                {"name": "death_date", "source": "fecha.defuncion", "type": "date"},
                {"name": "age", "source": "edad", "type": "integer", "max": 110},
                {
                    "name": "victim_name",
                    "source": "nombre",
                    "type": "text",
                    "person": {"action": "pseudonymise", "kind": "name"},
                },
            ],
            **extra,
        }
    )


def parse(path, c):
    _, items = parse_records(path, c, "utf-8", KEY)
    return list(items)


def test_jsonl_records_are_typed_numbered_and_extra_keys_dropped(tmp_path):
    path = tmp_path / "deaths.jsonl"
    lines = [
        {"id": "F-1", "fecha": {"defuncion": "2024-03-01"}, "edad": 30, "nombre": "Ana Ruiz"},
        {"id": "F-2", "fecha": {"defuncion": "2024-03-02"}, "edad": 200, "nombre": None},
        {"id": "F-3", "edad": None, "nuevo_campo": [1, 2]},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\nnot json\n")
    plan, found = parse_records(path, contract("jsonl"), "utf-8", KEY)
    items = list(found)
    assert isinstance(items[0], Record) and items[0].values[0] == "F-1"
    assert str(items[0].values[1]) == "2024-03-01" and "Ana" not in str(items[0].values)
    assert items[1][0].column == "edad" and "maximum" in items[1][0].reason
    assert isinstance(items[2], Record) and "[1, 2]" not in str(items[2].values)
    assert plan.dropped == ["nuevo_campo"] and "'nuevo_campo'" in plan.warnings[0]
    assert items[3][0].row == 4 and "not a JSON object" in items[3][0].reason


def test_json_document_reads_the_list_at_records_path(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"meta": {}, "data": {"rows": [{"id": "A"}, {"id": "B"}]}}))
    items = parse(path, contract("json", records_path="data.rows"))
    assert [i.values[0] for i in items] == ["A", "B"]
    with pytest.raises(BatchError, match="expected a list of records at meta"):
        parse(path, contract("json", records_path="meta"))


def test_an_undeclared_key_rejects_the_file_by_default_naming_only_the_key(tmp_path):
    path = tmp_path / "deaths.jsonl"
    lines = [
        {"id": "F-1", "edad": 30},
        {"id": "F-2", "edad": 31, "direccion": "CANARY-9988776655 Calle Falsa 123"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    strict = contract("jsonl", unknown_columns="reject")
    with pytest.raises(BatchError) as caught:
        parse(path, strict)
    message = str(caught.value)
    assert "deaths.jsonl" in message and "'direccion'" in message and "CANARY" not in message


def test_keep_is_no_longer_a_drift_policy():
    with pytest.raises(ValueError, match="unknown_columns must be one of reject, drop"):
        contract("jsonl", unknown_columns="keep")
