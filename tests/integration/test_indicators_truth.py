"""The warehouse's indicators against the simulator's ground truth, on a fixed seed.

Every indicator code the definitions name (dbt_project/indicators/*.yml) is checked in
every municipality-month the mart publishes, against `truth/indicators.csv` (what really
happened, written by the simulator while it generated the exports):

- counts and register-based rates, shares and medians: the mart's numerator and denominator
  equal the truth's exactly (zeros included), and its value is the definition's formula
  applied, here, to the truth's numbers;
- the reconciled counts, where record linkage may differ from the truth by design: the
  documented relationship (see `test_reconciled_homicides_wait_for_a_register_linkage_could_train`);
- the survey's indicators: the point estimate equals a recomputation from the respondents'
  file; where the mart publishes an interval, it covers the true population value in at least
  90 % of cells;
- the counts the truth has by sex and age group (`simulator.truth.BROKEN_DOWN`, file
  `truth/indicator_breakdowns.csv`) and their rates: every cell by sex, by age group and by
  both, exactly.

The list of codes comes from the definitions, so a new indicator without truth fails here.
"""

import csv
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from observatorio.indicators.definitions import Indicator, load_definitions
from observatorio.transform.dbt import build
from simulator.demo import Demo
from tests.integration.demo_load import load_demo

DEMO = Demo(seed=3, scale="tiny", days=90)
DEFINITIONS = load_definitions()
# Record linkage decides who is one victim: its counts are held to a documented relationship,
# not to equality.
LINKED_FACTS = {"homicide_victims"}
# The survey's indicators are estimates from a sample, not counts of what happened.
SURVEY_FACTS = {"survey_victimisation"}
# Published counts of an aggregated statistics source (SESNSP, SIEDCO, ...): the demo country
# has none, so these publish no cell here (the country-profile tests cover them).
AGGREGATED_FACTS = {"crime_counts"}

Cell = tuple[str, str, str]  # indicator code, municipality, month


def _number(text: str | None) -> Decimal | None:
    return None if text in (None, "") else Decimal(text)


def read_truth(simulation: Path) -> dict[Cell, dict[str, str]]:
    """`truth/indicators.csv` by cell."""
    with (simulation / "truth" / "indicators.csv").open(newline="") as handle:
        return {
            (row["indicator_code"], row["municipality_code"], row["month"]): row
            for row in csv.DictReader(handle)
        }


def read_mart(conn: Any) -> dict[Cell, dict[str, Any]]:
    """`mart_indicators_monthly` by cell (sex and age group `all`)."""
    rows = conn.execute(
        "select indicator_code, municipality_code, month, source, numerator, denominator,"
        " value, value_lower_95, value_upper_95"
        " from marts.mart_indicators_monthly where sex = 'all' and age_group = 'all'"
    ).fetchall()
    mart: dict[Cell, dict[str, Any]] = {}
    sources: dict[Cell, list[str]] = defaultdict(list)
    for code, muni, month, source, numerator, denominator, value, low, high in rows:
        sources[(code, muni, month)].append(source)
        mart[(code, muni, month)] = {
            "numerator": numerator,
            "denominator": denominator,
            "value": value,
            "lower": low,
            "upper": high,
        }
    # One source per cell in the demo (its one forensic institute for `by_source` indicators):
    # the truth has no source, so two would be two numbers for one true one.
    assert not {cell: s for cell, s in sources.items() if len(s) > 1}
    return mart


@pytest.fixture(scope="module")
def warehouse_and_truth(settings, warehouse_url):
    import psycopg

    simulation = load_demo(settings, warehouse_url, DEMO)
    build(settings)
    with psycopg.connect(warehouse_url) as conn:
        mart = read_mart(conn)
    return mart, read_truth(simulation), simulation


def _family(indicator: Indicator) -> str:
    facts = {indicator.numerator.fact} | {indicator.denominator and indicator.denominator.fact}
    if facts & LINKED_FACTS:
        return "linked"
    if facts & SURVEY_FACTS:
        return "survey"
    if facts & AGGREGATED_FACTS:
        return "aggregated"
    return "register"


def _expected_value(indicator: Indicator, numerator: Decimal, denominator: Decimal | None):
    """The definition's formula (FORMULAS), rounded to its precision as published."""
    places = Decimal(1).scaleb(-indicator.precision)

    def rounded(x: Decimal) -> Decimal:
        return x.quantize(places, rounding=ROUND_HALF_UP)

    if indicator.kind in {"count", "gap"}:
        return numerator
    if denominator is None or denominator == 0:
        return None
    if indicator.kind == "median":
        return numerator
    if indicator.kind == "per_100k":
        return rounded(numerator * 100_000 / denominator)
    if indicator.kind in {"share", "coverage_share"}:
        return rounded(numerator / denominator)
    assert indicator.kind == "complement_share", indicator.kind
    return 1 - rounded(numerator / denominator)


def test_every_defined_indicator_has_truth(warehouse_and_truth):
    mart, truth, _ = warehouse_and_truth
    in_truth = {cell[0] for cell in truth}
    in_mart = {cell[0] for cell in mart}
    without_truth = [code for code in DEFINITIONS.codes if code not in in_truth]
    # Only the aggregated statistics have no truth, and the demo publishes none of them.
    assert {_family(DEFINITIONS.get(code)) for code in without_truth} <= {"aggregated"}
    assert not set(without_truth) & in_mart
    assert in_mart <= in_truth
    # Every code with truth is published in every municipality-month the truth has.
    cells_by_code: dict[str, set[Cell]] = defaultdict(set)
    for cell in truth:
        cells_by_code[cell[0]].add(cell)
    for code in set(DEFINITIONS.codes) & in_truth:
        missing = cells_by_code[code] - set(mart)
        assert not missing, (code, sorted(missing)[:3])
    # ...and nowhere else (no month or place the truth does not know).
    extra = {cell for cell in mart if cell[0] in in_truth} - set(truth)
    assert not extra, sorted(extra)[:3]
    assert len(in_mart) >= 80 and len(truth) >= len(in_mart) * 60 * 3


def register_mismatches(
    mart: dict[Cell, dict[str, Any]], truth: dict[Cell, dict[str, str]]
) -> tuple[dict[str, list[tuple[object, ...]]], set[str]]:
    """Every cell of every register-based indicator whose numerator, denominator or value
    differs from the truth's (the value from the definition's formula over the truth's
    numbers), and the codes checked."""
    mismatches: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    checked: set[str] = set()
    for cell, row in truth.items():
        code = cell[0]
        if code not in DEFINITIONS.codes or _family(DEFINITIONS.get(code)) != "register":
            continue
        indicator = DEFINITIONS.get(code)
        checked.add(code)
        numerator = _number(row["numerator"])
        denominator = _number(row["denominator"])
        if indicator.kind == "median" and numerator is None:
            numerator = Decimal(0)  # the mart's numerator of a cell where no case was measured
        assert numerator is not None, cell
        expected = {
            "numerator": numerator,
            "denominator": denominator,
            "value": _expected_value(indicator, numerator, denominator),
        }
        published = mart[cell]
        for part, value in expected.items():
            if published[part] != value:
                mismatches[code].append((cell[1:], part, value, published[part]))
    return mismatches, checked


def test_every_register_based_indicator_equals_the_truth_in_every_cell(warehouse_and_truth):
    mart, truth, _ = warehouse_and_truth
    mismatches, checked = register_mismatches(mart, truth)
    assert not mismatches, {code: cells[:3] for code, cells in mismatches.items()}
    registered = {c for c in DEFINITIONS.codes if _family(DEFINITIONS.get(c)) == "register"}
    assert checked == registered and len(checked) >= 55
    # Not only zeros: these have cases in 90 tiny days (persons killed by the police,
    # convictions and reporting gaps have none so soon; test_indicators_new checks a year).
    for code in (
        "homicide_rate_police",
        "femicide_rate",
        "undetermined_intent_share",
        "homicide_police_health_ratio",
        "justice_funnel_indictments",
        "justice_median_days_case_to_indictment",
        "justice_median_days_report_to_case",
    ):
        assert any(_number(r["numerator"]) for c, r in truth.items() if c[0] == code), code


def test_cells_by_sex_and_age_group_equal_the_truth(warehouse_and_truth, warehouse_url):
    """Detentions, victims of intrafamily and of sexual violence and assault admissions, and
    their rates: the mart's cells by sex, by age group and by both (sparse: those with a
    count) are the truth's, numerator, denominator (the population of that sex and age group;
    none for `unknown`) and value."""
    import psycopg

    from simulator.truth import BROKEN_DOWN, RATES

    _, _, simulation = warehouse_and_truth
    codes = [*BROKEN_DOWN, *(rate for rate, count, _ in RATES if count in BROKEN_DOWN)]
    expected: dict[tuple[str, ...], tuple[Any, ...]] = {}
    with (simulation / "truth" / "indicator_breakdowns.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            numerator, denominator = Decimal(row["numerator"]), _number(row["denominator"])
            indicator = DEFINITIONS.get(row["indicator_code"])
            key = tuple(row[c] for c in ("indicator_code", "municipality_code", "month", "sex"))
            expected[(*key, row["age_group"])] = (
                numerator, denominator, _expected_value(indicator, numerator, denominator),
            )  # fmt: skip
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select indicator_code, municipality_code, month, sex, age_group, numerator,"
            " denominator, value from marts.mart_indicators_monthly"
            " where indicator_code = any(%s) and (sex <> 'all' or age_group <> 'all')"
            " and numerator > 0",
            (codes,),
        ).fetchall()
    published = {tuple(r[:5]): tuple(r[5:]) for r in rows}
    assert {k: v for k, v in published.items() if expected.get(k) != v} == {}
    assert published.keys() == expected.keys()
    # Not only a few cells: 90 tiny days have detainees and victims of intrafamily violence
    # of both sexes, and patients admitted for an assault (sexual violence may have none).
    for code in ("detentions_count", "intrafamily_violence_victims"):
        assert {k[3] for k in published if k[0] == code} >= {"M", "F"}, code
    assert any(k[0] == "assault_injury_admissions" for k in published)
    assert any(v[1] for k, v in published.items() if k[0] == "detentions_rate")


def test_police_never_count_more_homicides_than_happened(warehouse_and_truth):
    # Hidden homicides never reach the police, and a victim who dies after the period is
    # still an assault there: police counts are a lower bound of the true count.
    mart, truth, _ = warehouse_and_truth
    true_counts = {k[1:]: int(r["value"]) for k, r in truth.items() if k[0] == "homicide_true"}
    police = {k[1:]: c["numerator"] for k, c in mart.items() if k[0] == "homicide_count_police"}
    assert all(police.get(cell, 0) <= true for cell, true in true_counts.items())
    assert sum(true_counts.values()) >= sum(police.values()) > 0


def _survey_sums(simulation: Path) -> dict[tuple[str, str, int], tuple[Decimal, Decimal]]:
    """(code, municipality, year) -> (numerator, denominator), recomputed from the answers."""
    sums: dict[tuple[str, str, int], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
    for path in sorted((simulation / "exports" / "survey").glob("encuesta_victimizacion_*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            for answer in csv.DictReader(handle):
                weight = Decimal(answer["factor_expansion"])
                where = (answer["codigo_municipio"], int(answer["anio"]))
                for column in answer:
                    if not column.startswith("victima_"):
                        continue
                    crime = column.removeprefix("victima_")
                    victim = answer[column] == "1"
                    reported = answer[f"denuncio_{crime}"] == "1"
                    incidence = sums[(f"adjusted_incidence_rate__{crime}", *where)]
                    incidence[0] += weight if victim else 0
                    incidence[1] += weight
                    dark = sums[(f"dark_figure__{crime}", *where)]
                    dark[0] += weight if victim and reported else 0
                    dark[1] += weight if victim else 0
    return {key: (top, bottom) for key, (top, bottom) in sums.items()}


def survey_mismatches(
    mart: dict[Cell, dict[str, Any]], truth: dict[Cell, dict[str, str]], simulation: Path
) -> tuple[list[tuple[object, ...]], int, int, int]:
    """Survey cells whose numerator, denominator or value differ from a recomputation from
    the respondents' file; the cells with an estimate, with an interval, and with an interval
    that covers the true population value."""
    sums = _survey_sums(simulation)
    survey = {c for c in DEFINITIONS.codes if _family(DEFINITIONS.get(c)) == "survey"}
    mismatches: list[tuple[object, ...]] = []
    estimated = with_interval = covered = 0
    for cell, row in truth.items():
        if cell[0] not in survey:
            continue
        indicator, published = DEFINITIONS.get(cell[0]), mart[cell]
        top, bottom = sums.get((cell[0], cell[1], int(cell[2][:4])), (Decimal(0), Decimal(0)))
        expected = (top, bottom, _expected_value(indicator, top, bottom))
        if (published["numerator"], published["denominator"], published["value"]) != expected:
            mismatches.append((cell, expected, published))
        estimated += expected[2] is not None
        if published["lower"] is not None:
            with_interval += 1
            covered += published["lower"] <= Decimal(row["value"]) <= published["upper"]
    return mismatches, estimated, with_interval, covered


def test_survey_indicators_equal_the_answers_and_cover_the_truth(warehouse_and_truth):
    mart, truth, simulation = warehouse_and_truth
    survey = {c for c in DEFINITIONS.codes if _family(DEFINITIONS.get(c)) == "survey"}
    assert len(survey) == 26 and survey <= {c[0] for c in truth}
    mismatches, estimated, with_interval, covered = survey_mismatches(mart, truth, simulation)
    assert not mismatches, mismatches[:3]
    assert estimated >= 100
    # The monthly mart publishes intervals for Poisson rates only: survey cells get theirs
    # in mart_survey_estimates (tests/integration/sources/test_survey.py checks that they
    # cover the truth). Should the monthly mart carry them, they must cover it too.
    assert covered >= 0.9 * with_interval


def test_reconciled_homicides_wait_for_a_register_linkage_could_train(
    warehouse_and_truth, warehouse_url
):
    """The truth knows every homicide victim and which systems recorded them as a homicide
    (`homicide_reconciled`: at least one; `homicide_confirmed_by_two_sources`: two or more).
    The warehouse finds the same people by probabilistic record linkage, which by design
    cannot equal the truth cell by cell: an unidentified body (NN) or a case without a victim
    party has no identity to link by, so one victim can stay two, two can be merged, and a
    victim known only to forensic or hospital records is dated by the death, not the attack.
    Its agreement with the truth (pairwise precision and recall) is measured in
    tests/integration/test_linkage.py. Linkage is a step of its own after the dbt build
    (`update_register`), and it links nothing before it has MIN_TRAINING_RECORDS records to
    learn from: 90 tiny days have fewer, so the register is empty and the reconciled counts
    are 0 in every cell, never a number no linkage stands behind, while the truth has victims.
    The rate's denominator is still the true population."""
    import psycopg

    from observatorio.linkage.register import MIN_TRAINING_RECORDS

    mart, truth, _ = warehouse_and_truth
    with psycopg.connect(warehouse_url) as conn:
        records, victims = conn.execute(
            "select (select count(*) from intermediate.int_homicide_victim_records),"
            " (select count(*) from marts.fct_homicide_victims)"
        ).fetchone()
    assert 0 < records < MIN_TRAINING_RECORDS and victims == 0

    def true_count(code: str, cell: Cell) -> int:
        return int(truth[(code, *cell[1:])]["numerator"])

    recorded = 0
    for cell in truth:
        if cell[0] != "homicide_reconciled":
            continue
        # A victim two systems confirm is one some system recorded, who was killed.
        confirmed = true_count("homicide_confirmed_by_two_sources", cell)
        reconciled = true_count("homicide_reconciled", cell)
        assert confirmed <= reconciled <= true_count("homicide_true", cell), cell
        recorded += reconciled
        assert mart[cell]["numerator"] == 0
        assert mart[("homicide_confirmed_by_two_sources", *cell[1:])]["numerator"] == 0
        rate = DEFINITIONS.get("homicide_rate_reconciled")
        published = mart[(rate.code, *cell[1:])]
        population = Decimal(truth[(rate.code, *cell[1:])]["denominator"])
        assert published["denominator"] == population
        assert published["value"] == _expected_value(rate, Decimal(0), population) == 0
    assert recorded > 0


def test_the_demo_compares_police_and_health_homicides_by_linked_records(
    warehouse_and_truth, warehouse_url
):
    import psycopg

    # The demo's police reports and forensic deaths are both records the victim register
    # links: every cell with a homicide on either side is compared as linked records, with
    # each side's count as the indicator mart publishes it.
    mart, _, _ = warehouse_and_truth
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select municipality_code, month, police_source, health_source, method,"
            " police_homicide_victims, health_homicide_deaths"
            " from marts.mart_homicide_source_comparison"
        ).fetchall()
    police = {k[1:]: v["numerator"] for k, v in mart.items() if k[0] == "homicide_count_police"}
    health = {k[1:]: v["numerator"] for k, v in mart.items() if k[0] == "homicide_count_health"}
    expected = sorted(
        (*cell, "police", "health", "linked records", police[cell], health[cell])
        for cell in police
        if police[cell] or health[cell]
    )
    assert expected and sorted(tuple(r) for r in rows) == expected


def test_counts_add_up_across_areas_sexes_and_age_groups(warehouse_and_truth, warehouse_url):
    """For every count indicator: municipalities add up to their department, departments to
    the nation, the sexes to `all` and the age groups to `all` (and within each sex), in
    every cell of every level (a missing sparse cell is a 0)."""
    import psycopg

    from observatorio.indicators.definitions import load_definitions

    definitions = load_definitions()
    counts = [i for i in definitions.indicators if i.kind == "count"]
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select 'municipality', m.municipality_code, d.department_code, m.indicator_code,"
            " m.month, m.sex, m.age_group, m.source, m.numerator"
            " from marts.mart_indicators_monthly as m"
            " inner join marts.dim_municipality as d using (municipality_code)"
            " where m.indicator_code = any(%s)"
            " union all"
            " select area_level, area_code, area_code, indicator_code, month, sex, age_group,"
            " source, numerator from marts.mart_indicators_monthly_areas"
            " where indicator_code = any(%s)",
            ([i.code for i in counts], [i.code for i in counts]),
        ).fetchall()
    cells: dict[tuple[str, ...], int] = {}
    department_of: dict[str, str] = {}
    for level, area, department, code, month, sex, age, source, numerator in rows:
        cells[(level, area, code, month, sex, age, source)] = int(numerator)
        if level == "municipality":
            department_of[area] = department
    # Each level's sums over its parts: (parent level, parent) for every child cell.
    summed: dict[tuple[str, ...], int] = defaultdict(int)
    for (level, area, *cell), value in cells.items():
        if level == "municipality":
            summed[("department", department_of[area], *cell)] += value
        elif level == "department":
            summed[("national", "all", *cell)] += value
    parents = {k for k in cells if k[0] != "municipality"} | set(summed)
    assert {k: (cells.get(k, 0), summed[k]) for k in parents if cells.get(k, 0) != summed[k]} == {}
    # The breakdowns: parts of sex (for one age group) and of age group (for one sex).
    by_sex: dict[tuple[str, ...], int] = defaultdict(int)
    by_age: dict[tuple[str, ...], int] = defaultdict(int)
    for (level, area, code, month, sex, age, source), value in cells.items():
        if sex != "all":
            by_sex[(level, area, code, month, "all", age, source)] += value
        if age != "all":
            by_age[(level, area, code, month, sex, "all", source)] += value
    for parts in (by_sex, by_age):
        assert {k: (cells.get(k, 0), v) for k, v in parts.items() if cells.get(k, 0) != v} == {}
    # Every counted indicator whose facts record sex has its parts, and they are not trivial.
    counted = {k[2] for k, v in cells.items() if v > 0}
    broken_down = {i.code for i in counts if "sex" in i.disaggregations} & counted
    assert broken_down >= {
        "homicide_count_police",
        "firearm_homicides_police",
        "homicide_count_health",
        "homicide_count_sdg",
        "detentions_count",
        "intrafamily_violence_victims",
        "assault_injury_admissions",
    }
    assert broken_down <= {k[2] for k in by_sex}
    assert sum(1 for k in cells if k[4] in {"M", "F"} and k[5] not in {"all", "unknown"}) > 50


def test_mart_checkpoint_passes_then_catches_negative_missing_and_unreconciled(
    warehouse_and_truth, warehouse_url
):
    import psycopg

    from expectations.marts import MartCheckFailed, check_marts

    assert all(not o.rejects for o in check_marts())
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create table marts.indicators_backup as table marts.mart_indicators_monthly")
        try:
            conn.execute(
                "update marts.mart_indicators_monthly set numerator = numerator + 1, value = -1"
                " where ctid = (select ctid from marts.mart_indicators_monthly"
                " where indicator_code = 'homicide_count_police' and sex = 'all'"
                " and age_group = 'all' limit 1)"
            )
            conn.execute(
                "delete from marts.mart_indicators_monthly where ctid = (select ctid from"
                " marts.mart_indicators_monthly where indicator_code = 'femicide_rate'"
                " and sex = 'all' and age_group = 'all' limit 1)"
            )
            with pytest.raises(MartCheckFailed) as failure:
                check_marts()
            message = str(failure.value)
            assert "expect_column_min_to_be_between(value)" in message
            assert "marts__indicators__totals" in message
            assert "marts__indicators__completeness" in message
        finally:
            conn.execute("truncate marts.mart_indicators_monthly")
            conn.execute(
                "insert into marts.mart_indicators_monthly select * from marts.indicators_backup"
            )
            conn.execute("drop table marts.indicators_backup")


def test_the_bulletin_of_the_simulated_warehouse_speaks_spanish_and_maps(
    warehouse_and_truth, settings, warehouse_url
):
    """The bulletin printed from this real warehouse (simulated, ingested, built): no
    internal code or ISO date in its text, the period in words and the data cut-off on the
    cover, municipality names beside codes, the map drawn. Pages are saved as PNG under
    /tmp/bulletin_pages/ for the issue note."""
    import re
    import time

    import psycopg

    from observatorio.delivery.bulletin import publish_bulletin
    from observatorio.delivery.bulletin.labels import day_words, period_words
    from tests.integration.test_bulletin import PAGES, _codes_shown, _pages, save_pages

    started = time.monotonic()
    result = publish_bulletin(None, settings)
    seconds = time.monotonic() - started
    with psycopg.connect(warehouse_url) as conn:
        period, cut_off = conn.execute(
            "select (select max(month) from marts.mart_indicators_monthly),"
            " (select max(finished_at) from ops.batch_ledger where status = 'loaded')"
        ).fetchone()
    assert result.period == period
    assert result.panels["homicide_map"] == "drawn"
    assert result.panels["municipality_ranking"] == "drawn"
    pages = _pages(result.pdf)
    assert _codes_shown("\n".join(pages)) == []
    cover = " ".join(pages[0].split())
    assert period_words(period).capitalize() in cover
    assert f"Datos al {day_words(cut_off)}" in cover
    assert re.search(r"\b[A-ZÁÉÍÓÚ][\w ]+ \(\d{5}\)", "\n".join(pages))
    assert len(save_pages(result.pdf, PAGES, "simulated")) >= 4
    # Rendering the whole bulletin (charts, map, Chromium's print) stays quick.
    assert seconds < 120, f"the bulletin took {seconds:.0f} s"
