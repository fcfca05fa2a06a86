"""Suites generated from contracts: what they expect is what the loader stages, and a contract
with no suite module is gated by its contract alone, inside PostgreSQL."""

from __future__ import annotations

import re
from datetime import date

import great_expectations as gx
from psycopg import sql

from expectations.context import SuiteContext
from expectations.gate import GateTarget, validate_tables
from expectations.generated import GX_TYPES, build_contract_suite, build_suite, staged_columns
from ingestion.contract import available_contracts, load_contract, parse_contract
from ingestion.loader import ensure_raw_tables
from ingestion.provenance import PROVENANCE_NAMES
from observatorio.core.settings import PROJECT_DIR

TODAY = date(2026, 1, 15)
# A source the project has never seen, in a contract only (no module under expectations/suites).
WIDGETS = parse_contract(
    {
        "source": "test",
        "entity": "widgets",
        "format": "csv",
        "primary_key": ["widget_id", "recorded_at"],
        "columns": [
            {"name": "widget_id", "type": "text", "required": True, "pattern": "^W-[0-9]{3}$"},
            {"name": "recorded_at", "type": "timestamp", "required": True},
            {"name": "made_on", "type": "date"},
            {"name": "colour", "type": "text", "allowed": ["red", "blue"]},
            {"name": "weight", "type": "numeric", "min": 0, "max": 10},
            {"name": "is_spare", "type": "boolean", "allowed": ["S", "N"]},
            {
                "name": "owner_id",
                "type": "text",
                "person": {"action": "pseudonymise", "kind": "national_id"},
            },
            {"name": "owner_birth_date", "type": "date", "person": {"action": "year"}},
        ],
    }
)
GOOD_ROW = ("W-001", "2026-01-10 10:00", "2026-01-09", "red", 5, True, "h1", "valid", 1980)


def _expectations(suite: gx.ExpectationSuite) -> set[tuple[str, str | None]]:
    configs = [e.configuration for e in suite.expectations]
    return {(c.type, c.kwargs.get("column")) for c in configs}


def test_each_contract_expects_exactly_the_columns_and_types_the_loader_creates(
    clean_warehouse, settings
):
    ensure_raw_tables(settings)
    for name in available_contracts():
        created = clean_warehouse.execute(
            "select column_name, format_type(atttypid, atttypmod) from information_schema.columns"
            " join pg_attribute on attrelid = %s::regclass and attname = column_name"
            " where table_schema = 'raw' and table_name = %s order by ordinal_position",
            (f"raw.{name}", name),
        ).fetchall()
        expected = [(c.name, c.sql_type) for c in staged_columns(load_contract(name))]
        declared = [(n, t.replace("timestamp with time zone", "timestamptz")) for n, t in created]
        declared = [(n, t.replace("timestamp without time zone", "timestamp")) for n, t in declared]
        declared = [(n, t.replace("time without time zone", "time")) for n, t in declared]
        assert declared == expected, name
        assert all(c.sql_type in GX_TYPES for c in staged_columns(load_contract(name)))


def test_generated_suites_keep_what_only_a_module_knows():
    gx.get_context(mode="ephemeral")
    context = SuiteContext(suite_name="justice__hearings", today=TODAY)
    hearings = build_suite(context)
    future = {
        e.configuration.kwargs["column"]
        for e in hearings.expectations
        if e.configuration.type == "expect_column_values_to_be_between"
        and "max_value" in e.configuration.kwargs
    }
    # A hearing may be scheduled ahead; its record timestamps may not.
    assert future == {"created_at", "updated_at"}
    assert ("expect_column_values_to_be_in_set", "hearing_type") in _expectations(hearings)

    survey = _expectations(build_suite(SuiteContext(suite_name="survey__responses", today=TODAY)))
    # `allowed: ['0', '1']` spells a boolean in the export: no code check on the staged value.
    assert ("expect_column_values_to_be_in_set", "victim_theft") not in survey
    assert ("expect_column_values_to_not_be_null", "victim_theft") in survey
    assert ("expect_column_values_to_match_regex", "respondent_id") in survey

    reports = _expectations(build_suite(SuiteContext(suite_name="police__reports", today=TODAY)))
    # The person actions' outputs, from the contract: pseudonyms, tokens, status, year.
    for column in ("victim_name_tokens", "victim_national_id_status", "victim_birth_year"):
        assert ("expect_column_values_to_be_of_type", column) in reports
    assert ("expect_column_values_to_be_between", "victim_birth_year") not in reports


def test_the_dbt_macro_renames_the_provenance_columns_the_loader_adds():
    macro = (PROJECT_DIR / "dbt_project" / "macros" / "provenance_columns.sql").read_text()
    listed = re.search(r"set provenance = \[(.*?)\]", macro, re.S)
    assert listed is not None
    renamed = re.findall(r"'(_\w+)'", listed.group(1))
    assert renamed == list(PROVENANCE_NAMES)


def _stage(  # type: ignore[no-untyped-def]
    conn, table: str, rows: list[tuple[object, ...]], retype: dict[str, str] | None = None
) -> None:
    columns = staged_columns(WIDGETS)
    conn.execute(sql.SQL("drop table if exists ingest.{}").format(sql.Identifier(table)))
    conn.execute(
        sql.SQL("create table ingest.{} ({})").format(
            sql.Identifier(table),
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(
                    sql.Identifier(c.name),
                    sql.SQL((retype or {}).get(c.name, c.sql_type)),
                )
                for c in columns
            ),
        )
    )
    width = len(GOOD_ROW)
    provenance = ("batch", None, None, None, None, "2026-01-10 11:00+00")
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL("insert into ingest.{} values ({})").format(
                sql.Identifier(table), sql.SQL(", ").join([sql.Placeholder()] * len(columns))
            ),
            [(*row[:width], *provenance[:3], n, *provenance[4:]) for n, row in enumerate(rows, 1)],
        )


def _gate(settings, table: str):  # type: ignore[no-untyped-def]
    context = SuiteContext(suite_name=WIDGETS.name, today=TODAY)
    (outcome,) = validate_tables(
        [
            GateTarget(
                build_suite=lambda: build_contract_suite(WIDGETS, context),
                suite_name=WIDGETS.name,
                schema="ingest",
                table=table,
            )
        ],
        settings,
        store=False,
    )
    return outcome


def test_a_contract_without_a_suite_module_is_gated_by_the_contract_alone(
    clean_warehouse, loader_db, settings
):
    # Staged by the loader, as ingestion stages: the gate reads as the loader.
    db = loader_db
    _stage(db, "test__widgets_good", [GOOD_ROW, ("W-002", *GOOD_ROW[1:])])
    good = _gate(settings, "test__widgets_good")
    assert not good.rejects, good.summary()

    spoiled = [
        GOOD_ROW,
        ("W-1", *GOOD_ROW[1:]),  # pattern
        ("W-003", "2026-02-01 10:00", *GOOD_ROW[2:]),  # a timestamp in the future
        ("W-004", GOOD_ROW[1], "2026-03-01", *GOOD_ROW[3:]),  # a date in the future
        ("W-005", *GOOD_ROW[1:3], "green", *GOOD_ROW[4:]),  # not an allowed code
        ("W-006", *GOOD_ROW[1:4], 11, *GOOD_ROW[5:]),  # above the maximum
        (None, *GOOD_ROW[1:]),  # a required value missing
        GOOD_ROW,  # the key again
    ]
    _stage(db, "test__widgets_bad", spoiled)
    bad = _gate(settings, "test__widgets_bad")
    failed = {(r.expectation_type, r.column) for r in bad.failed("critical")}
    assert failed == {
        ("expect_column_values_to_match_regex", "widget_id"),
        ("expect_column_values_to_be_between", "recorded_at"),
        ("expect_column_values_to_be_between", "made_on"),
        ("expect_column_values_to_be_in_set", "colour"),
        ("expect_column_values_to_be_between", "weight"),
        ("expect_column_values_to_not_be_null", "widget_id"),
        ("expect_key_to_be_unique", "widget_id,recorded_at"),
    }
    assert "sample rows 1, 8" in bad.summary()

    _stage(db, "test__widgets_typed", [GOOD_ROW], retype={"weight": "integer"})
    typed = _gate(settings, "test__widgets_typed")
    assert {(r.expectation_type, r.column) for r in typed.failed("critical")} == {
        ("expect_column_values_to_be_of_type", "weight")
    }
