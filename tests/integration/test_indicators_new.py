"""Justice flow, survey dark figure, reporting coverage and citizen priorities, for real.

A tiny simulated country (fixed seed, a year so some cases reach a judgement) is ingested through
the real contracts, gates and connectors and built with dbt. Each new indicator of
`marts.mart_indicators_monthly` is then recomputed independently: funnel counts and median
delays from the fact tables in Python, the dark figure from the simulator's own survey
file, reporting gaps against the months the simulator silenced, and the priorities mart
from the consultation facts. The mart checkpoint must still pass with the new families.
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from observatorio.transform.dbt import run_dbt
from simulator.demo import Demo
from tests.conftest import forget_built_records
from tests.integration.demo_load import load_demo

DEMO = Demo(seed=3, scale="tiny", days=365)
# Building a simulated year takes minutes on a shared 2-core machine.
pytestmark = pytest.mark.timeout(1800)
SELECT = (
    "ref_indicators +mart_indicators_monthly +mart_justice_attrition +mart_consultation_priorities"
)
Cell = tuple[str, str]  # (municipality_code, month)
SIX = Decimal("0.000001")
ONE = Decimal("0.1")


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@pytest.fixture(scope="module")
def built(settings, warehouse_url):  # type: ignore[no-untyped-def]
    simulation = load_demo(settings, warehouse_url, DEMO)
    run_dbt(["build", "--select", SELECT, "--indirect-selection", "cautious"], settings)
    return simulation


@pytest.fixture(scope="module")
def conn(built, warehouse_url):  # type: ignore[no-untyped-def]
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        yield connection


def _indicator(conn: Any, code: str) -> dict[Cell, tuple[Decimal, Decimal | None, Decimal | None]]:
    rows = conn.execute(
        "select municipality_code, month, numerator, denominator, value"
        " from marts.mart_indicators_monthly"
        " where indicator_code = %s and sex = 'all' and age_group = 'all'",
        (code,),
    ).fetchall()
    return {(m, month): (n, d, v) for m, month, n, d, v in rows}


def _spine(conn: Any) -> set[Cell]:
    rows = conn.execute("select municipality_code, month from intermediate.int_indicator_spine")
    return {(m, month) for m, month in rows.fetchall()}


def _registered(conn: Any) -> dict[str, date]:
    """Each police report's first registration day, straight from the raw rows."""
    rows = conn.execute("select report_id, recorded_at from raw.police__reports").fetchall()
    first: dict[str, date] = {}
    for report, recorded in rows:
        day = recorded.date() if hasattr(recorded, "date") else recorded
        first[report] = min(day, first.get(report, day))
    return first


def test_funnel_counts_equal_the_facts_in_every_cell(conn):  # type: ignore[no-untyped-def]
    spine = _spine(conn)
    stages = ("reports", "cases", "indictments", "convictions")
    expected: dict[str, dict[Cell, int]] = {
        f"justice_funnel_{stage}": defaultdict(int) for stage in stages
    }
    cases = conn.execute(
        "select case_id, municipality_code, opened_date, is_indicted,"
        " coalesce(court_filed_date, decision_date) from marts.fct_prosecution_cases"
    ).fetchall()
    for _case, muni, opened, indicted, filed in cases:
        expected["justice_funnel_cases"][(muni, _month(opened))] += 1
        if indicted:
            expected["justice_funnel_indictments"][(muni, _month(filed))] += 1
    convicted: dict[str, tuple[str, date]] = {}
    for case_id, muni, day in conn.execute(
        "select case_id, municipality_code, judgement_date from marts.fct_court_judgements"
        " where is_conviction"
    ).fetchall():
        if case_id not in convicted or day < convicted[case_id][1]:
            convicted[case_id] = (muni, day)
    for muni, day in convicted.values():
        expected["justice_funnel_convictions"][(muni, _month(day))] += 1
    places = dict(
        conn.execute(
            "select report_id, min(municipality_code) from marts.fct_crime_reports group by 1"
        ).fetchall()
    )
    for report, day in _registered(conn).items():
        if report in places:
            expected["justice_funnel_reports"][(places[report], _month(day))] += 1
    for code, counts in expected.items():
        mart = _indicator(conn, code)
        assert set(mart) == spine, code
        wrong = {
            cell: (counts.get(cell, 0), mart[cell][0])
            for cell in spine
            if mart[cell][0] != counts.get(cell, 0)
        }
        assert not wrong, (code, list(wrong.items())[:5])
        assert all(v == n for n, _, v in mart.values())
    totals = {code: sum(n for n, _, _ in _indicator(conn, code).values()) for code in expected}
    # The period is long enough for every stage to have happened somewhere.
    assert totals["justice_funnel_reports"] > totals["justice_funnel_cases"] > 0
    assert totals["justice_funnel_cases"] > totals["justice_funnel_indictments"] > 0
    assert totals["justice_funnel_convictions"] > 0


def test_median_days_and_conviction_share_recompute_from_the_facts(conn):  # type: ignore[no-untyped-def]
    registered = _registered(conn)
    cases = conn.execute(
        "select case_id, municipality_code, police_report_number, opened_date, is_indicted,"
        " coalesce(court_filed_date, decision_date) from marts.fct_prosecution_cases"
    ).fetchall()
    first_judgement: dict[str, date] = {}
    convicted: set[str] = set()
    for case_id, day, conviction in conn.execute(
        "select case_id, judgement_date, is_conviction from marts.fct_court_judgements"
    ).fetchall():
        first_judgement[case_id] = min(day, first_judgement.get(case_id, day))
        if conviction:
            convicted.add(case_id)
    delays: dict[str, dict[Cell, list[int]]] = defaultdict(lambda: defaultdict(list))
    cohort: dict[Cell, list[bool]] = defaultdict(list)
    for case_id, muni, report, opened, indicted, filed in cases:
        cohort[(muni, _month(opened))].append(case_id in convicted)
        if report in registered and (opened - registered[report]).days >= 0:
            delays["report_to_case"][(muni, _month(opened))].append(
                (opened - registered[report]).days
            )
        if indicted:
            delays["case_to_indictment"][(muni, _month(filed))].append((filed - opened).days)
            if case_id in first_judgement:
                judged = first_judgement[case_id]
                delays["indictment_to_judgement"][(muni, _month(judged))].append(
                    (judged - filed).days
                )
    measured = 0
    for stage, cells in delays.items():
        mart = _indicator(conn, f"justice_median_days_{stage}")
        for cell, (numerator, denominator, value) in mart.items():
            days = cells.get(cell, [])
            if days:
                median = Decimal(str(statistics.median(days))).quantize(ONE, ROUND_HALF_UP)
                assert (value, numerator, denominator) == (median, median, len(days)), (
                    stage,
                    cell,
                )
                measured += 1
            else:
                assert (value, numerator, denominator) == (None, 0, 0), (stage, cell)
    assert measured > 0
    share = _indicator(conn, "justice_conviction_share")
    for cell, (numerator, denominator, value) in share.items():
        flags = cohort.get(cell, [])
        assert (numerator, denominator) == (sum(flags), len(flags)), cell
        if flags:
            assert value == (Decimal(sum(flags)) / len(flags)).quantize(SIX, ROUND_HALF_UP)


def test_attrition_mart_adds_municipalities_up_and_takes_national_medians(conn):  # type: ignore[no-untyped-def]
    rows = conn.execute(
        "select month, area_level, sum(reports), sum(cases), sum(indictments),"
        " sum(convictions), sum(cohort_cases_convicted)"
        " from marts.mart_justice_attrition group by 1, 2"
    ).fetchall()
    by_level = {(month, level): tuple(values) for month, level, *values in rows}
    months = {month for month, _ in by_level}
    unknown = conn.execute(
        "select count(*) from marts.fct_prosecution_cases where municipality_code = '99999'"
    ).fetchone()[0]
    for month in months:
        national = by_level[(month, "national")]
        assert by_level[(month, "department")] == by_level[(month, "municipality")]
        if not unknown:
            assert national == by_level[(month, "municipality")]
    mart_cases = {
        month: n
        for month, n in conn.execute(
            "select month, cases from marts.mart_justice_attrition where area_level = 'national'"
        ).fetchall()
    }
    fact_cases = dict(
        conn.execute(
            "select to_char(opened_date, 'YYYY-MM'), count(*) from marts.fct_prosecution_cases"
            " group by 1"
        ).fetchall()
    )
    assert {m: n for m, n in mart_cases.items() if n} == {
        m: n for m, n in fact_cases.items() if m in mart_cases
    }
    filed = conn.execute(
        "select to_char(coalesce(court_filed_date, decision_date), 'YYYY-MM'),"
        " coalesce(court_filed_date, decision_date) - opened_date"
        " from marts.fct_prosecution_cases where is_indicted"
    ).fetchall()
    by_month: dict[str, list[int]] = defaultdict(list)
    for month, days in filed:
        by_month[month].append(days)
    national = dict(
        conn.execute(
            "select month, median_days_case_to_indictment from marts.mart_justice_attrition"
            " where area_level = 'national' and median_days_case_to_indictment is not null"
        ).fetchall()
    )
    assert national
    for month, median in national.items():
        assert median == Decimal(str(statistics.median(by_month[month]))).quantize(
            ONE, ROUND_HALF_UP
        )


def test_dark_figure_and_adjusted_incidence_equal_the_weighted_survey_file(conn, built):  # type: ignore[no-untyped-def]
    survey_files = sorted((Path(built) / "exports" / "survey").glob("*.csv"))
    assert survey_files
    weights: dict[tuple[int, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0), Decimal(0)]
    )
    crime_types: set[str] = set()
    for path in survey_files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                weight = Decimal(row["factor_expansion"])
                for column in row:
                    if not column.startswith("victima_"):
                        continue
                    crime = column.removeprefix("victima_")
                    crime_types.add(crime)
                    totals = weights[(int(row["anio"]), crime)]
                    totals[0] += weight
                    if row[column] == "1":
                        totals[1] += weight
                        if row[f"denuncio_{crime}"] == "1":
                            totals[2] += weight
    assert {"robbery", "theft", "extortion"} <= crime_types
    months = sorted({month for _, month in _spine(conn)})
    for crime in sorted(crime_types):
        dark = _indicator(conn, f"dark_figure__{crime}")
        incidence = _indicator(conn, f"adjusted_incidence_rate__{crime}")
        for month in months:
            respondents, victims, reported = weights[(int(month[:4]), crime)]
            cells = [v for (_, m), v in dark.items() if m == month]
            assert sum(n for n, _, _ in cells) == reported, (crime, month)
            assert sum(d for _, d, _ in cells) == victims, (crime, month)
            cells = [v for (_, m), v in incidence.items() if m == month]
            assert sum(n for n, _, _ in cells) == victims, (crime, month)
            assert sum(d for _, d, _ in cells) == respondents, (crime, month)
        for numerator, denominator, value in dark.values():
            if denominator:
                assert value == 1 - (numerator / denominator).quantize(SIX, ROUND_HALF_UP)
            else:
                assert value is None
    # The survey was answered (at the tiny scale nobody may be a victim: the dark figure's
    # arithmetic is covered by its dbt unit test), and every dark figure is a share.
    assert sum(totals[0] for totals in weights.values()) > 0
    for crime in crime_types:
        values = [v for _, _, v in _indicator(conn, f"dark_figure__{crime}").values()]
        assert all(v is None or 0 <= v <= 1 for v in values), crime


def test_reporting_gaps_are_the_silenced_months_of_usual_reporters(conn, built):  # type: ignore[no-untyped-def]
    summary = json.loads((Path(built) / "truth" / "summary.json").read_text())
    silenced = {tuple(item.split(":")) for item in summary["silenced_municipality_months"]}
    months = sorted({month for _, month in _spine(conn)})
    places = dict(
        conn.execute(
            "select report_id, min(municipality_code) from marts.fct_crime_reports group by 1"
        ).fetchall()
    )
    reported: dict[Cell, int] = defaultdict(int)
    for report, day in _registered(conn).items():
        if report in places:
            reported[(places[report], _month(day))] += 1
    # Usual: records in at least 4 of the previous 6 months, 5 a month on average.
    expected: set[Cell] = set()
    for muni in {muni for muni, _ in _spine(conn)}:
        for i, month in enumerate(months):
            window = months[max(0, i - 6) : i]
            active = sum(reported[(muni, m)] > 0 for m in window)
            usual = active >= 4 and sum(reported[(muni, m)] for m in window) >= 30
            if usual and not reported[(muni, month)]:
                expected.add((muni, month))
    gaps = {
        cell for cell, (n, _, _) in _indicator(conn, "reporting_gap__police_reports").items() if n
    }
    assert gaps == expected
    # Every police gap the mart flags is a month the simulator silenced (at the tiny scale
    # only the largest municipality reports enough for a silence to show: maybe none).
    assert gaps <= silenced
    coverage = _indicator(conn, "reporting_coverage_share")
    for cell in gaps:
        numerator, denominator, value = coverage[cell]
        assert denominator >= 1 and numerator < denominator and value is not None and value < 1


def test_consultation_priorities_carry_votes_mapped_indicators_and_trends(conn):  # type: ignore[no-untyped-def]
    facts = conn.execute(
        "select coalesce(indicator_code, crime_type), sum(votes), count(distinct consultation_id)"
        " from marts.fct_consultation_priorities group by 1"
    ).fetchall()
    mart = {
        row[0]: row[1:]
        for row in conn.execute(
            "select topic_code, votes, consultations, indicator_code, last_3_months_value,"
            " previous_3_months_value, trend, latest_month, priority_rank"
            " from marts.mart_consultation_priorities"
        ).fetchall()
    }
    assert facts and {code for code, _, _ in facts} == set(mart)
    for code, votes, consultations in facts:
        assert mart[code][:2] == (votes, consultations)
    top = min(mart.values(), key=lambda r: r[-1])
    assert top[0] == max(votes for _, votes, _ in facts)
    known = {c for (c,) in conn.execute("select indicator_code from reference.ref_indicators")}
    for code, row in mart.items():
        indicator = row[2]
        if code in known:
            assert indicator == code
        elif f"adjusted_incidence_rate__{code}" in known:
            assert indicator == f"adjusted_incidence_rate__{code}"
        else:
            assert indicator is None and row[5] == "unknown"
    counted = [(code, row) for code, row in mart.items() if row[2] == code]
    assert counted
    for code, row in counted:
        latest = row[6]
        year, month = map(int, latest.split("-"))
        window = [
            f"{(year * 12 + month - 1 - k) // 12:04d}-{(year * 12 + month - 1 - k) % 12 + 1:02d}"
            for k in range(6)
        ]
        sums = dict(
            conn.execute(
                "select month in (%s, %s, %s), sum(numerator) from marts.mart_indicators_monthly"
                " where indicator_code = %s and month = any(%s)"
                " and sex = 'all' and age_group = 'all' group by 1",
                (*window[:3], code, window),
            ).fetchall()
        )
        assert (row[3], row[4]) == (sums[True], sums[False]), code
        direction = (
            "up" if sums[True] > sums[False] else "down" if sums[True] < sums[False] else "flat"
        )
        assert row[5] == direction, code


def test_the_mart_checkpoint_passes_with_the_new_families(conn):  # type: ignore[no-untyped-def]
    from expectations.marts import check_marts

    assert all(not outcome.rejects for outcome in check_marts())
    families = {
        code.split("__")[0] if "__" in code else code
        for (code,) in conn.execute(
            "select distinct indicator_code from marts.mart_indicators_monthly"
        ).fetchall()
    }
    assert {
        "justice_funnel_cases",
        "justice_median_days_report_to_case",
        "dark_figure",
        "adjusted_incidence_rate",
        "reporting_gap",
        "reporting_coverage_share",
    } <= families


def test_a_year_of_every_indicator_equals_the_simulators_truth(conn, built):  # type: ignore[no-untyped-def]
    """The truth test's checks (test_indicators_truth.py) over this year, where cases reach a
    judgement and sources have the history that makes them usual reporters: every
    register-based indicator equals the truth in every cell, every survey cell its answers."""
    from tests.integration.test_indicators_truth import (
        read_mart,
        read_truth,
        register_mismatches,
        survey_mismatches,
    )

    mart, truth = read_mart(conn), read_truth(built)
    mismatches, checked = register_mismatches(mart, truth)
    assert not mismatches, {code: cells[:3] for code, cells in mismatches.items()}
    assert len(checked) >= 55
    wrong, estimated, with_interval, covered = survey_mismatches(mart, truth, built)
    assert not wrong, wrong[:3]
    assert estimated >= 100 and covered >= 0.9 * with_interval
    # What 90 days cannot show: convictions, judgements, sources usual enough to be watched.
    for code in (
        "justice_funnel_convictions",
        "justice_conviction_share",
        "justice_median_days_indictment_to_judgement",
        "reporting_coverage_share",
    ):
        assert any(r["numerator"] not in ("", "0") for c, r in truth.items() if c[0] == code)


def test_a_month_removed_from_the_raw_police_rows_becomes_a_gap(conn, settings):  # type: ignore[no-untyped-def]
    # Last in the module: it changes the warehouse. The busiest municipality goes silent in
    # August (its reports first registered then are deleted from raw), as a police station
    # that stops sending would; the rebuilt mart must flag exactly that month.
    muni = conn.execute(
        "select municipality_code from marts.fct_crime_reports group by 1 order by count(*) desc"
        " limit 1"
    ).fetchone()[0]
    assert (muni, "2024-08") not in {
        cell for cell, (n, _, _) in _indicator(conn, "reporting_gap__police_reports").items() if n
    }
    deleted = conn.execute(
        "delete from raw.police__reports where report_id in ("
        "  select report_id from raw.police__reports group by report_id"
        "  having min(recorded_at) >= '2024-08-01' and min(recorded_at) < '2024-09-01')"
        " and report_id in (select report_id from marts.fct_crime_reports"
        "  where municipality_code = %s)",
        (muni,),
    ).rowcount
    assert deleted > 0
    # Rows removed from raw outside a batch: the incremental models (the registered reports,
    # the police facts) are rebuilt from scratch, as a warehouse rebuilt from its files would
    # be; the whole selection, as replacing a table drops the views on it (cascade).
    forget_built_records(conn)
    run_dbt(["run", "--select", SELECT], settings)
    flags = _indicator(conn, "reporting_gap__police_reports")
    assert flags[(muni, "2024-08")][0] == 1
    assert flags[(muni, "2024-09")][0] == 0
    numerator, denominator, _ = _indicator(conn, "reporting_coverage_share")[(muni, "2024-08")]
    assert numerator < denominator
