"""Lineage on a tiny simulated country, ingested and built for real.

Every published indicator cell, of every indicator, expands into the rows behind it
(`explain`), those rows recompute the cell exactly (sums, weighted survey shares, cohort
shares, medians, reporting gaps), every batch they name is in the ledger with its file checksum,
and and OpenLineage events from an Airflow DAG run, the gate and a dbt build are counted and
validated against the spec (`test_openlineage_schema.event_errors`).
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from observatorio.indicators.definitions import load_definitions
from observatorio.lineage import explain as lineage
from observatorio.lineage import openlineage
from observatorio.lineage.recompute import FactRow, indicator_kind, recompute
from observatorio.orchestration import ingest as tasks
from observatorio.transform.dbt import run_dbt
from simulator.demo import Demo
from tests.integration.demo_load import load_demo
from tests.integration.test_openlineage_schema import event_errors, read_events

# A year, so cases reach judgements and sources have the 6 months of history gaps need.
DEMO = Demo(seed=3, scale="tiny", days=365)
# Building a simulated year takes minutes on a shared 2-core machine.
pytestmark = pytest.mark.timeout(1800)
# Indicators of each family (dbt_project/indicators/<family>.yml) whose rows come from
# loaded files, with a non-zero numerator or denominator in the tiny country.
FAMILIES = {
    "police": [
        "homicide_rate_police",
        "intrafamily_violence_reports",
        "detentions_rate",
        "use_of_force_incidents",
    ],
    "health": ["homicide_count_health", "undetermined_intent_share"],
    "justice": [
        "justice_funnel_reports",
        "justice_funnel_cases",
        "justice_conviction_share",
        "justice_median_days_report_to_case",
    ],
    "survey": [
        "adjusted_incidence_rate__assault",
        "adjusted_incidence_rate__theft",
    ],
}


def _ingest(name: str) -> None:
    tasks.report(tasks.publish(tasks.gate(tasks.stage(name, tasks.claim(name)))))


@pytest.fixture(scope="module")
def built(settings, warehouse_url):  # type: ignore[no-untyped-def]
    # Only this module's OpenLineage events, so they can be counted.
    shutil.rmtree(openlineage.lineage_dir(settings), ignore_errors=True)
    load_demo(settings, warehouse_url, DEMO, _ingest)
    # Only what the indicators need; tests that also read unselected models are left out.
    select = "ref_indicators +mart_indicators_monthly +fct_indicator_contributions"
    # dbt's unit tests are the models' own business (tests/integration/test_dbt_build.py).
    run_dbt(
        [
            "build",
            "--select",
            select,
            "--indirect-selection",
            "cautious",
            "--exclude-resource-type",
            "unit_test",
        ],
        settings,
    )
    return settings


def test_contributions_sum_to_every_published_numerator(built, db):  # type: ignore[no-untyped-def]
    # Every indicator but the medians: the weights of a cell's rows sum to its numerator;
    # where a family lists its denominator, the denominator weights sum to the denominator.
    codes = [c for (c,) in db.execute("select indicator_code from reference.ref_indicators")]
    definitions = load_definitions()
    assert sorted(codes) == sorted(definitions.codes)
    listed = [i.code for i in definitions.indicators if i.lists_denominator]
    checked = db.execute(
        # A row carries its own sex and age group: a cell of `all` sums every row, a cell of
        # a sex or age group the rows of that sex or age group.
        "with contributions as ("
        "  select mart.indicator_code, mart.numerator, mart.denominator,"
        "  sum(c.weight) as counted, sum(c.denominator_weight) as listed"
        "  from marts.mart_indicators_monthly as mart"
        "  left join marts.fct_indicator_contributions as c"
        "  on mart.indicator_code = c.indicator_code"
        "  and mart.municipality_code = c.municipality_code and mart.month = c.month"
        "  and mart.source = c.source"
        "  and (mart.sex = 'all' or mart.sex = c.sex)"
        "  and (mart.age_group = 'all' or mart.age_group = c.age_group)"
        "  where mart.indicator_code not like 'justice\\_median\\_days\\_%%'"
        "  group by mart.indicator_code, mart.municipality_code, mart.month, mart.sex,"
        "  mart.age_group, mart.source, mart.numerator, mart.denominator)"
        " select indicator_code, count(*),"
        " count(*) filter (where numerator <> coalesce(counted, 0)),"
        " count(*) filter (where indicator_code = any(%s)"
        "   and denominator <> coalesce(listed, 0)),"
        " sum(coalesce(counted, 0))"
        " from contributions"
        " group by 1",
        (listed,),
    ).fetchall()
    medians = db.execute(
        "with measured as ("
        "  select indicator_code, municipality_code, month, count(*) as cases,"
        "  round(cast(percentile_cont(0.5) within group (order by measure) as numeric), 1)"
        "  as median_days from marts.fct_indicator_contributions"
        "  where indicator_code like 'justice\\_median\\_days\\_%' group by 1, 2, 3)"
        " select mart.indicator_code, count(*),"
        " count(*) filter (where mart.numerator <> coalesce(m.median_days, 0)"
        "   or mart.denominator <> coalesce(m.cases, 0)),"
        " 0, sum(coalesce(m.cases, 0))"
        " from marts.mart_indicators_monthly as mart"
        " left join measured as m using (indicator_code, municipality_code, month)"
        " where mart.indicator_code like 'justice\\_median\\_days\\_%' group by 1"
    ).fetchall()
    by_code = {code: rest for code, *rest in checked + medians}
    # Every indicator of ref_indicators is published and checked, cell by cell; but one per
    # source (`by_source`) whose facts have no rows here (the demo publishes no counts).
    silent = {
        i.code
        for i in definitions.indicators
        if i.by_source
        and not db.execute(
            "select 1 from marts.fct_indicator_contributions where indicator_code = %s limit 1",
            (i.code,),
        ).fetchone()
    }
    assert silent == {
        "homicide_victims_counted",
        "homicide_events_counted",
        "homicide_victims_counted_rate",
        "homicide_victims_counted_yearly",
        "homicide_victims_counted_yearly_rate",
    }
    assert sorted(by_code) == sorted(set(codes) - silent) and len(codes) >= 63
    bad = {c: r for c, r in by_code.items() if r[1] or r[2]}
    assert bad == {}, bad
    assert sum(r[0] for r in by_code.values()) > 10000
    # Rows behind every indicator that has a non-zero cell.
    nonzero = {
        c
        for (c,) in db.execute(
            "select distinct indicator_code from marts.mart_indicators_monthly where numerator <> 0"
        )
    }
    assert {c for c, r in by_code.items() if r[3]} >= nonzero - {
        c for c in codes if c.startswith("justice_median_days_")
    }
    orphans = db.execute(
        "select count(*) from marts.fct_indicator_contributions as c"
        " left join marts.mart_indicators_monthly as mart"
        " using (indicator_code, municipality_code, month, sex, age_group)"
        " where mart.indicator_code is null"
    ).fetchone()[0]
    assert orphans == 0


def test_every_cell_of_every_indicator_recomputes_from_its_rows(built, db):  # type: ignore[no-untyped-def]
    """`lineage.recompute` (what verify runs) on every cell: numerator, denominator, value."""
    from collections import defaultdict
    from decimal import Decimal

    definitions = load_definitions()
    rows: dict[tuple[str, str, str], list[FactRow]] = defaultdict(list)
    for code, municipality, month, model, key, weight, denominator, measure in db.execute(
        "select indicator_code, municipality_code, month, fact_model, fact_key, weight,"
        " denominator_weight, measure from marts.fct_indicator_contributions"
    ):
        rows[(code, municipality, month)].append(
            FactRow(
                fact_model=model,
                fact_key=key,
                counted_id=None,
                weight=Decimal(weight),
                denominator_weight=None if denominator is None else Decimal(denominator),
                measure=None if measure is None else Decimal(measure),
                batch_id=None,
                source_file=None,
                source_row=None,
                file_sha256=None,
            )
        )
    cells = 0
    kinds: dict[str, set[str]] = defaultdict(set)
    wrong = []
    for code, municipality, month, numerator, denominator, value in db.execute(
        "select indicator_code, municipality_code, month, numerator, denominator, value"
        " from marts.mart_indicators_monthly where sex = 'all' and age_group = 'all'"
    ):
        indicator = definitions.get(code)
        kind = indicator_kind(indicator)
        found = recompute(
            kind, month, rows[(code, municipality, month)], denominator, indicator.precision
        )
        cells += 1
        if numerator or denominator:
            kinds[kind].add(code)
        if (found.numerator, found.denominator, found.value) != (numerator, denominator, value):
            wrong.append((code, municipality, month, numerator, denominator, value, found))
    assert wrong == [], wrong[:5]
    assert cells > 10000
    print({kind: len(codes) for kind, codes in sorted(kinds.items())})
    # Cells with a non-zero numerator or denominator of every kind were recomputed, so none
    # passes by being all zeros (at the tiny scale survey victims may be none: their rows
    # still recompute the weighted respondents).
    assert set(kinds) >= {
        "count",
        "per_100k",
        "listed_share",
        "listed_per_100k",
        "median",
        "coverage_share",
    }


def test_rates_carry_their_exact_poisson_interval_and_unstable_flag(built, db):  # type: ignore[no-untyped-def]
    """Every rate of counted events over a population has the Garwood interval of its
    numerator scaled like the value (scipy's chi-square quantiles), holding the value, and
    is unstable exactly when the numerator is below its definition's threshold; other
    indicators carry neither."""
    from decimal import Decimal

    from observatorio.indicators.poisson import exact_bounds

    definitions = load_definitions()
    rates = {i.code for i in definitions.indicators if i.has_poisson_interval}
    assert {"homicide_rate_police", "femicide_rate", "homicide_rate_health"} <= rates
    assert "adjusted_incidence_rate__robbery" not in rates
    cells = db.execute(
        "select indicator_code, numerator, denominator, value, value_lower_95,"
        " value_upper_95, is_unstable from marts.mart_indicators_monthly"
    ).fetchall()
    checked = 0
    for code, numerator, denominator, value, lower, upper, unstable in cells:
        if code not in rates:
            assert (lower, upper, unstable) == (None, None, None), code
            continue
        threshold = definitions.get(code).publication.min_stable_numerator
        assert unstable == (numerator < threshold), code
        if not denominator:
            assert lower is None and upper is None
            continue
        exact_lower, exact_upper = exact_bounds(int(numerator))
        places = Decimal("0.000001")
        assert abs(lower - Decimal(exact_lower) * 100000 / denominator) <= places, code
        assert abs(upper - Decimal(exact_upper) * 100000 / denominator) <= places, code
        assert lower <= value <= upper
        checked += 1
    assert checked > 1000


def _rows(db, code: str, municipality: str, month: str) -> list[FactRow]:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    return [
        FactRow(
            fact_model=model,
            fact_key=key,
            counted_id=counted,
            weight=Decimal(weight),
            denominator_weight=None if denominator is None else Decimal(denominator),
            measure=None if measure is None else Decimal(measure),
            batch_id=None,
            source_file=None,
            source_row=None,
            file_sha256=None,
        )
        for model, key, counted, weight, denominator, measure in db.execute(
            "select fact_model, fact_key, counted_id, weight, denominator_weight, measure"
            " from marts.fct_indicator_contributions"
            " where indicator_code = %s and municipality_code = %s and month = %s",
            (code, municipality, month),
        )
    ]


def test_a_silenced_usual_source_recomputes_as_a_gap(built, db):  # type: ignore[no-untyped-def]
    """The tiny year may have no gap; a usual source's real window with its month emptied is
    one (and the coverage share drops by it), so gaps recompute from the same rows."""
    import dataclasses
    from decimal import Decimal

    municipality, month = db.execute(
        "select municipality_code, month from marts.mart_indicators_monthly"
        " where indicator_code = 'reporting_coverage_share' and numerator > 0"
        " order by numerator desc, municipality_code, month limit 1"
    ).fetchone()
    rows = _rows(db, "reporting_coverage_share", municipality, month)
    source = next(r.fact_model for r in rows if r.fact_key == month and r.weight == 1)
    window = [r for r in rows if r.fact_model == source]
    assert 5 <= len(window) <= 7 and recompute("gap", month, window, None).numerator == 0
    silenced = [
        dataclasses.replace(r, measure=Decimal(0)) if r.fact_key == month else r for r in window
    ]
    assert recompute("gap", month, silenced, None).value == 1
    # Not usual any more when fewer than 4 of the 6 months before had records.
    quiet = [
        dataclasses.replace(r, measure=Decimal(0)) if r.fact_key < month else r for r in silenced
    ]
    assert recompute("gap", month, quiet, None).value == 0
    share = recompute("coverage_share", month, rows, None)
    others = [r for r in rows if r.fact_model != source]
    dropped = recompute("coverage_share", month, others + silenced, None)
    assert dropped.numerator == share.numerator - 1 and dropped.denominator == share.denominator


def test_dark_figure_recomputes_from_weighted_victims(built, db):  # type: ignore[no-untyped-def]
    """At the tiny scale no respondent may be a victim; real expansion factors, two of them
    victims and one of those reported, give 1 - reported ÷ victims to 6 places, in Decimal."""
    import dataclasses
    from decimal import ROUND_HALF_UP, Decimal

    municipality, month = db.execute(
        "select municipality_code, month from marts.mart_indicators_monthly"
        " where indicator_code = 'adjusted_incidence_rate__assault' and denominator > 0"
        " order by denominator desc, municipality_code, month limit 1"
    ).fetchone()
    respondents = _rows(db, "adjusted_incidence_rate__assault", municipality, month)
    assert len(respondents) >= 2 and all(r.denominator_weight for r in respondents)
    victims = [
        dataclasses.replace(r, weight=r.denominator_weight if i == 0 else Decimal(0))
        for i, r in enumerate(respondents[:2])
    ]
    found = recompute("listed_complement_share", month, victims, None)
    reported, weighted = (
        victims[0].denominator_weight,
        sum(r.denominator_weight for r in victims if r.denominator_weight),
    )
    assert found.numerator == reported and found.denominator == weighted
    assert found.value == 1 - (reported / weighted).quantize(Decimal("0.000001"), ROUND_HALF_UP)
    assert recompute("listed_complement_share", month, [], None).value is None


def test_explain_verifies_a_cell_of_every_indicator(built, db):  # type: ignore[no-untyped-def]
    """explain on the largest cell of each indicator (a zero one if it has none) recomputes."""
    manifest = lineage.load_manifest(built)
    cells = db.execute(
        "select distinct on (indicator_code) indicator_code, municipality_code, month"
        " from marts.mart_indicators_monthly"
        " order by indicator_code, numerator desc, municipality_code, month"
    ).fetchall()
    assert len(cells) >= 63
    failed = []
    for code, municipality, month in cells:
        found = lineage.explain(code, municipality, month, settings=built, manifest=manifest)
        if not found.matches:
            failed.append((code, municipality, month, found.numerator, found.recomputed))
        assert found.models and found.models[0].relation.endswith(lineage.MART)
    assert failed == []


def test_verify_random_recomputes_twenty_cells_exactly(built):  # type: ignore[no-untyped-def]
    results = lineage.verify_random(20, seed=9)
    assert len(results) == 20
    assert len({(r.indicator_code, r.municipality_code, r.month) for r in results}) == 20
    assert all(r.numerator > 0 and r.rows > 0 for r in results)
    assert [r for r in results if not r.matches] == []


def test_a_tampered_cell_does_not_recompute(built, warehouse_url):  # type: ignore[no-untyped-def]
    import psycopg

    # One transaction, rolled back: the published numerator is off by one, explain's rows
    # are not, so the cell no longer recomputes.
    with psycopg.connect(warehouse_url) as conn:
        code, municipality, month = conn.execute(
            "select indicator_code, municipality_code, month from marts.mart_indicators_monthly"
            " where indicator_code = 'homicide_rate_police' and numerator > 0"
            " order by municipality_code, month limit 1"
        ).fetchone()
        conn.execute(
            "update marts.mart_indicators_monthly set numerator = numerator + 1"
            " where indicator_code = %s and municipality_code = %s and month = %s",
            (code, municipality, month),
        )
        found = lineage.explain(code, municipality, month, settings=built, conn=conn)
        conn.rollback()
    assert found.recomputed_numerator == found.numerator - 1


def test_every_batch_id_leads_to_a_ledger_entry_with_the_file_checksum(built, db):  # type: ignore[no-untyped-def]
    rows = db.execute(
        "select c.batch_id, c.file_sha256, l.batch_id, l.file_sha256, l.status, l.source_file"
        " from (select distinct batch_id, file_sha256 from marts.fct_indicator_contributions"
        " where batch_id is not null)"
        " as c left join ops.batch_ledger as l on c.batch_id = l.batch_id"
    ).fetchall()
    assert len(rows) > 5
    for batch_id, sha, ledger_id, ledger_sha, status, source_file in rows:
        assert ledger_id == batch_id, f"batch {batch_id} is not in ops.batch_ledger"
        assert re.fullmatch(r"[0-9a-f]{64}", ledger_sha or ""), batch_id
        assert sha == ledger_sha and status == "loaded" and source_file
    summary = lineage.explain_lineage_summary([r[0] for r in rows], settings=built)
    assert len(summary) == len(rows) and all(s["expectations"] > 0 for s in summary)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_explain_lists_rows_batches_checks_and_models_for_each_family(built, db, family):  # type: ignore[no-untyped-def]
    for code in FAMILIES[family]:
        cell = db.execute(
            "select municipality_code, month from marts.mart_indicators_monthly"
            " where indicator_code = %s and (numerator > 0 or denominator > 0)"
            " order by numerator desc, denominator desc nulls last, municipality_code, month"
            " limit 1",
            (code,),
        ).fetchone()
        assert cell, f"{code}: no non-zero cell in the tiny country"
        found = lineage.explain(code, *cell, settings=built)
        assert found.rows and found.batches and found.validations
        assert found.recomputed_numerator == found.numerator
        assert found.recomputed_value == found.value and found.matches
        assert found.formula and found.numerator_definition
        assert {r.batch_id for r in found.rows} == {b.batch_id for b in found.batches}
        assert all(b.file_sha256 and b.source_file for b in found.batches)
        assert all(r.attributes for r in found.rows)
        nodes = [m.unique_id.rsplit(".", 1)[-1] for m in found.models]
        assert nodes[0] == lineage.MART and "fct_indicator_contributions" in nodes
        assert load_definitions().get(code).family == family
        assert set(load_definitions().input_models(code)) <= set(nodes)
        assert {r.fact_model for r in found.rows} <= set(nodes)
        assert any(m.resource_type == "source" for m in found.models)
        # The SQL function BI calls returns the same rows.
        sql_rows = db.execute(
            "select fact_model, fact_key, batch_id, source_row"
            " from marts.explain_indicator(%s, %s, %s)",
            (code, *cell),
        ).fetchall()
        assert sql_rows == [
            (r.fact_model, r.fact_key, r.batch_id, r.source_row) for r in found.rows
        ]


def test_cli_random_verify_prints_five_of_five(built):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from observatorio.cli.app import app

    result = CliRunner().invoke(app, ["explain", "--random", "5", "--verify", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "5/5 recomputed exactly" in result.output
    bad = CliRunner().invoke(app, ["explain", "mart_x", "homicide_rate_police", "01001"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: usage: observatorio explain")
    unknown = CliRunner().invoke(
        app, ["explain", lineage.MART, "homicide_rate_x", "01001", "2024-02"]
    )
    assert unknown.exit_code == 1
    # One line that lists the indicators there are.
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "homicide_rate_police" in unknown.stderr and "femicide_rate" in unknown.stderr


def test_cli_explains_one_cell(built, db):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from observatorio.cli.app import app

    municipality, month = db.execute(
        "select municipality_code, month from marts.mart_indicators_monthly"
        " where indicator_code = 'homicide_rate_police' and numerator > 0 limit 1"
    ).fetchone()
    result = CliRunner().invoke(
        app, ["explain", lineage.MART, "homicide_rate_police", municipality, month]
    )
    assert result.exit_code == 0, result.output
    for heading in ("Fact rows counted", "Batches and files", "Validation results", "dbt models"):
        assert heading in result.output
    # A median: the cases measured, their days, and how the cell recomputes.
    municipality, month, median_days = db.execute(
        "select municipality_code, month, numerator from marts.mart_indicators_monthly"
        " where indicator_code = 'justice_median_days_report_to_case' and numerator > 0"
        " order by municipality_code, month limit 1"
    ).fetchone()
    result = CliRunner().invoke(
        app,
        ["explain", lineage.MART, "justice_median_days_report_to_case", municipality, month],
    )
    assert result.exit_code == 0, result.output
    assert "recomputed   as median" in result.output
    # Rich wraps long lines: compare without whitespace.
    assert f"value{median_days.normalize():f})" in "".join(result.output.split())


# --- OpenLineage -------------------------------------------------------------------------


def _events(settings, prefix: str = "") -> list[tuple[Path, dict]]:  # type: ignore[no-untyped-def,type-arg]
    found = read_events(openlineage.lineage_dir(settings))
    return [(p, e) for p, e in found if e["job"]["name"].startswith(prefix)]


def _assert_valid(found: list[tuple[Path, dict]], namespace: str) -> None:  # type: ignore[type-arg]
    assert found
    for path, event in found:
        errors = event_errors(event)
        assert not errors, f"{path.name}: {errors[:3]}"
        assert event["job"]["namespace"] == namespace, path.name


def test_openlineage_environment_defaults_to_files_and_switches_to_marquez(built, monkeypatch):  # type: ignore[no-untyped-def]
    from observatorio.core.settings import get_settings

    env = openlineage.openlineage_environment(built)
    transport = json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])
    assert transport["type"] == "file"
    assert transport["log_file_path"].startswith(str(built.home / "lineage"))
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "observatorio-local"
    monkeypatch.setenv("OBSERVATORIO_ENVIRONMENT", "Staging 2")
    monkeypatch.setenv("OBSERVATORIO_OPENLINEAGE_URL", "http://marquez:5000")
    env = openlineage.openlineage_environment(get_settings())
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == {
        "type": "http",
        "url": "http://marquez:5000",
        "endpoint": "api/v1/lineage",
    }
    assert env["OPENLINEAGE_URL"] == "http://marquez:5000"
    assert env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "observatorio-staging-2"
    assert env["OPENLINEAGE_NAMESPACE"] == "observatorio-staging-2"
    # OPENLINEAGE_URL alone (the client's own variable) also switches to HTTP.
    monkeypatch.delenv("OBSERVATORIO_OPENLINEAGE_URL")
    monkeypatch.setenv("OPENLINEAGE_URL", "http://other:5000")
    assert get_settings().openlineage_url == "http://other:5000"


def test_the_gate_attaches_each_batchs_results_as_a_data_quality_facet(built, db):  # type: ignore[no-untyped-def]
    found = _events(built, "gate.")
    _assert_valid(found, openlineage.lineage_namespace(built))
    results = db.execute(
        "select batch_id, count(*), count(*) filter (where success)"
        " from ops.validation_results where batch_id is not null group by 1"
    ).fetchall()
    validated = {batch: (n, passed) for batch, n, passed in results}
    # A START and a COMPLETE for every batch the gate validated in the fixture, no more.
    assert len(found) == 2 * len(validated) > 20
    database = db.execute("select current_database()").fetchone()[0]
    completes = [e for _, e in found if e["eventType"] == "COMPLETE"]
    assert len({e["run"]["runId"] for e in completes}) == len(validated)
    for event in completes:
        (dataset,) = event["inputs"]
        batch = dataset["facets"]["version"]["datasetVersion"]
        n, passed = validated[batch]
        source = event["job"]["name"].removeprefix("gate.")
        assert dataset["name"] == f"{database}.raw.{source}" and batch.startswith(source)
        assert dataset["namespace"].startswith("postgres://127.0.0.1:")
        assertions = dataset["inputFacets"]["dataQualityAssertions"]["assertions"]
        assert len(assertions) == n and sum(a["success"] for a in assertions) == passed
        assert {a["severity"] for a in assertions} <= {"critical", "warning", "info"}


def test_a_dbt_build_emits_a_run_per_node_under_one_parent(built, db):  # type: ignore[no-untyped-def]
    before = {p for p, _ in _events(built)}
    sent = openlineage.emit_dbt_events(built)
    found = [(p, e) for p, e in _events(built) if p not in before]
    assert sent == len(found)
    _assert_valid(found, openlineage.lineage_namespace(built))
    events = [e for _, e in found]
    wrap = [e for e in events if e["job"]["name"] == "dbt-run-observatorio"]
    assert [e["eventType"] for e in wrap] == ["START", "COMPLETE"]
    parent = wrap[0]["run"]["runId"]
    nodes = [e for e in events if e not in wrap]
    assert all(e["run"]["facets"]["parent"]["run"]["runId"] == parent for e in nodes)
    starts = {e["run"]["runId"] for e in nodes if e["eventType"] == "START"}
    ends = {e["run"]["runId"] for e in nodes if e["eventType"] in {"COMPLETE", "FAIL"}}
    assert starts == ends and len(starts) * 2 == len(nodes)
    # Every model and seed dbt ran has a run whose output is its relation.
    results = json.loads((built.dbt_target_dir / "run_results.json").read_text())
    manifest = lineage.load_manifest(built)
    database = db.execute("select current_database()").fetchone()[0]
    outputs = {o["name"] for e in nodes if e["eventType"] == "COMPLETE" for o in e["outputs"]}
    built_nodes = [
        manifest["nodes"][r["unique_id"]]
        for r in results["results"]
        if r["unique_id"].split(".")[0] in {"model", "seed"} and r["status"] == "success"
    ]
    expected = {f"{database}.{n['schema']}.{n.get('alias') or n['name']}" for n in built_nodes}
    assert len(expected) > 20 and expected <= outputs
    # Tests: one run per tested model, its assertions a data-quality facet of the model.
    tested = [e for e in nodes if e["job"]["name"].endswith(".test")]
    assert tested and all(
        i["inputFacets"]["dataQualityAssertions"]["assertions"] for e in tested for i in e["inputs"]
    )
    print("dbt events:", len(found), "for", len(starts), "node runs")
    # Extract manifests find the run that built a mart.
    mart = openlineage.producing_run("marts", lineage.MART, built)
    assert mart is not None and mart["parent_run_id"] == parent
    mart_run = [e for e in nodes if e["run"]["runId"] == mart["run_id"]]
    assert mart_run and mart_run[-1]["outputs"][0]["name"] == f"{database}.marts.{lineage.MART}"


def test_cosmos_callback_emits_the_build_it_ran_in_its_own_project_copy(built, tmp_path):  # type: ignore[no-untyped-def]
    """Cosmos calls a callback with its temporary copy of the project, whose target/ holds
    that build's artifacts (not the shared dbt target dir)."""
    (tmp_path / "target").mkdir()
    for name in ("manifest.json", "run_results.json"):
        shutil.copy(built.dbt_target_dir / name, tmp_path / "target" / name)
    before = len(_events(built))
    sent = openlineage.emit_dbt_events_from_project(str(tmp_path), context={})
    assert sent > 20 and len(_events(built)) == before + sent
    assert openlineage.emit_dbt_events_from_project(str(tmp_path / "nowhere")) == 0


def test_an_indicator_extract_documents_each_indicator_and_the_batches_behind_it(  # type: ignore[no-untyped-def]
    built, db, tmp_path
):
    import csv

    import yaml

    from observatorio.delivery.extracts import deliver

    openlineage.emit_dbt_events(built)
    month = db.execute(
        "select month from marts.mart_indicators_monthly where numerator > 0"
        " and indicator_code = 'homicide_count_police' order by month desc limit 1"
    ).fetchone()[0]
    codes = ["homicide_count_police", "homicide_rate_police", "detentions_rate"]
    spec = {
        "recipient": "indicadores_prueba",
        "description": "Indicator cells for a lineage test.",
        "format": "csv",
        "language": "es",
        "channel": {"type": "outbox"},
        "disclosure": "external",
        "datasets": [
            {
                "name": "indicadores",
                "mart": lineage.MART,
                "period_column": "month",
                "columns": [
                    {"name": c, "es": c}
                    for c in (
                        "indicator_code",
                        "municipality_code",
                        "month",
                        "sex",
                        "age_group",
                        "numerator",
                        "value",
                    )
                ],
                "filters": {"indicator_code": codes, "sex": ["all"], "age_group": ["all"]},
                "disclosure": {
                    "rows": "municipality_code",
                    "columns": "indicator_code",
                    # The mart's breakdowns are part of its grain: one table per sex and age.
                    "by": ["month", "sex", "age_group"],
                    "counts": ["numerator"],
                    "rates": {"value": "numerator"},
                },
            }
        ],
    }
    (tmp_path / "indicadores.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    delivery = deliver("indicadores", period=month, settings=built, specs_dir=tmp_path)
    manifest = json.loads((delivery.folder / "manifest.json").read_text())
    with (delivery.folder / "diccionario_de_datos.csv").open(encoding="utf-8-sig") as handle:
        dictionary = list(csv.DictReader(handle))
    # Each delivered indicator: its Spanish name, unit in words and formula from its
    # definition; the code only in the technical lineage column.
    from observatorio.delivery.dictionary import FORMULA_WORDS
    from observatorio.indicators.definitions import load_definitions

    for code in codes:
        definition = load_definitions().get(code)
        [row] = [r for r in dictionary if r["origen"].startswith(f"indicator_code = {code} ")]
        assert row["columna"] == definition.name_es
        assert row["formula"] == FORMULA_WORDS["es"][definition.kind]
        assert row["fuente"] and row["unidad"] and row["descripcion"]
    columns = {r["columna"]: r for r in dictionary}
    assert columns["numerator"]["tipo"] and columns["numerator"]["descripcion"]
    # The batches are exactly those behind the delivered cells, each with its file checksum.
    expected = {
        r[0]
        for r in db.execute(
            "select distinct batch_id from marts.fct_indicator_contributions"
            " where month = %s and indicator_code = any(%s) and batch_id is not null",
            (month, codes),
        ).fetchall()
    }
    batches = manifest["lineage"]["batches"]
    assert expected and {b["batch_id"] for b in batches} == expected
    ledger = dict(db.execute("select batch_id, file_sha256 from ops.batch_ledger").fetchall())
    assert all(b["file_sha256"] == ledger[b["batch_id"]] for b in batches)
    assert manifest["lineage"]["as_of"] == max(b["loaded_at"] for b in batches)
    ol = manifest["lineage"]["openlineage"]
    assert ol["namespace"] == openlineage.lineage_namespace(built)
    assert ol["producing_runs"][f"marts.{lineage.MART}"]["run_id"]
    assert json.loads((delivery.folder / "lineage.json").read_text()) == manifest["lineage"]


@pytest.mark.slow
def test_a_dag_run_emits_schema_valid_openlineage_events(built, airflow_db):  # type: ignore[no-untyped-def]
    import shutil

    from observatorio.orchestration.airflow_env import airflow_environment

    shutil.rmtree(openlineage.lineage_dir(built), ignore_errors=True)
    env = {**airflow_environment(built), **openlineage.openlineage_environment(built)}
    script = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(built.dags_dir / 'ingest_police_reports.py')!r})\n"
        "print(bag.dags['ingest_police_reports'].test().state)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "success" in done.stdout, done.stderr[-3000:]
    found = _events(built)
    events = [e for _, e in found]
    airflow = [e for e in events if e["job"]["name"].startswith("ingest_police_reports")]
    # Five tasks (claim, stage, gate, publish, report), a START and a COMPLETE each, and the
    # DAG run's COMPLETE (`dag.test()` sends no START for the DAG run itself).
    tasks_done = [e for e in airflow if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]]
    assert len(tasks_done) == 5 and len(airflow) == 11, sorted(
        (e["job"]["name"], e["eventType"]) for e in airflow
    )
    _assert_valid(found, env["AIRFLOW__OPENLINEAGE__NAMESPACE"])
    assert any("airflow" in e["run"].get("facets", {}) for e in airflow)
    print("ingest_police_reports run:", len(events), "events,", len(airflow), "from Airflow")
