"""The indicator definitions (dbt_project/indicators/*.yml) and what is generated from them.

The generated dbt macro and the `ref_indicators` seed must be what the definitions give
(regenerate with `make indicators`); a new indicator on an existing fact is a definition
only; a definition that names an unknown fact, kind or referenced indicator is refused
with the file and the code. The recomputation by kind follows each definition's precision.
"""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from observatorio.indicators import generate
from observatorio.indicators.definitions import (
    DEFINITIONS_DIR,
    DefinitionError,
    load_definitions,
)
from observatorio.lineage.recompute import FactRow, indicator_kind, recompute


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "indicators"
    shutil.copytree(DEFINITIONS_DIR, target)
    return target


def _row(weight: str, denominator: str | None = None, measure: str | None = None) -> FactRow:
    return FactRow(
        fact_model="fct_x",
        fact_key=weight,
        counted_id=None,
        weight=Decimal(weight),
        denominator_weight=None if denominator is None else Decimal(denominator),
        measure=None if measure is None else Decimal(measure),
        batch_id=None,
        source_file=None,
        source_row=None,
        file_sha256=None,
    )


def test_generated_macro_and_seed_are_up_to_date() -> None:
    assert generate.stale() == [], "run `make indicators` and commit the result"


def test_every_indicator_is_defined_once_with_names_and_rules() -> None:
    definitions = load_definitions()
    codes = definitions.codes
    assert len(codes) == len(set(codes)) >= 63
    for indicator in definitions.indicators:
        assert indicator.name_en and indicator.name_es and indicator.numerator.text
        assert indicator.publication.min_cell_size > 0
    seed = list(csv.DictReader(generate.SEED.open(encoding="utf-8")))
    assert [row["indicator_code"] for row in seed] == codes
    # Rates read a population; the survey and cohort shares list their denominator rows.
    assert not definitions.get("homicide_rate_police").lists_denominator
    assert definitions.get("dark_figure__robbery").lists_denominator
    assert indicator_kind(definitions.get("dark_figure__robbery")) == "listed_complement_share"
    assert definitions.input_models("homicide_police_health_ratio") == [
        "fct_crime_reports",
        "int_indicator_facts__violent_deaths",
    ]


def test_a_new_indicator_on_an_existing_fact_is_a_definition(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "health.yml"
    family = yaml.safe_load(path.read_text(encoding="utf-8"))
    family["indicators"].append(
        {
            "code": "legal_intervention_rate",
            "name": {"en": "Deaths by legal intervention per 100k", "es": "Tasa"},
            "unit": "per 100k",
            "kind": "per_100k",
            "numerator": {"indicator": "legal_intervention_deaths"},
            "denominator": {"population": "population", "text": "Population"},
        }
    )
    path.write_text(yaml.safe_dump(family, allow_unicode=True), encoding="utf-8")
    definitions = load_definitions(directory)
    added = definitions.get("legal_intervention_rate")
    assert added.numerator.where == "is_legal_intervention"
    assert added.numerator.fact == "violent_deaths"
    dbt = definitions.to_dbt()
    assert "legal_intervention_rate" in [i["code"] for i in dbt["indicators"]]
    assert "legal_intervention_rate" in generate.seed_text(definitions)
    assert "legal_intervention_rate" in generate.macro_text(definitions)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fact": "no_such_fact"}, "not in _facts.yml"),
        ({"indicator": "defined_nowhere"}, "not defined before it"),
    ],
)
def test_a_broken_definition_is_refused_naming_it(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    directory = _copy(tmp_path)
    path = directory / "police.yml"
    family = yaml.safe_load(path.read_text(encoding="utf-8"))
    family["indicators"][0]["numerator"] = {**change, "text": "broken"}
    path.write_text(yaml.safe_dump(family, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError, match=message) as raised:
        load_definitions(directory)
    assert "homicide_count_police" in str(raised.value)


def test_a_kind_outside_the_known_kinds_is_refused(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "reconciled.yml"
    family = yaml.safe_load(path.read_text(encoding="utf-8"))
    family["indicators"][0]["kind"] = "average"
    path.write_text(yaml.safe_dump(family, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"reconciled\.yml: indicator 'homicide_reconciled'"):
        load_definitions(directory)


def test_recompute_rounds_as_the_definition_says() -> None:
    rows = [_row("1", "3"), _row("0", "4")]
    share = recompute("listed_share", "2024-01", rows, None, precision=6)
    assert (share.numerator, share.denominator, share.value) == (
        Decimal(1),
        Decimal(7),
        Decimal("0.142857"),
    )
    assert recompute("listed_share", "2024-01", rows, None, precision=2).value == Decimal("0.14")
    rate = recompute("per_100k", "2024-01", [_row("3")], Decimal(7000))
    assert rate.value == Decimal("42.857143")
    days = [_row("0", "1", "3"), _row("0", "1", "4")]
    middle = recompute("median", "2024-01", days, None, precision=1)
    assert (middle.numerator, middle.denominator, middle.value) == (
        Decimal("3.5"),
        Decimal(2),
        Decimal("3.5"),
    )


def test_breakdowns_are_inherited_from_the_facts_unless_the_definition_says() -> None:
    definitions = load_definitions()
    # Police victims and forensic deaths record sex and age: their counts and rates inherit.
    assert definitions.get("homicide_rate_police").disaggregations == ("sex", "age_group")
    assert definitions.get("homicide_count_sdg").disaggregations == ("sex", "age_group")
    # A ratio of two facts that both record them; published counts record sex only.
    assert definitions.get("homicide_police_health_ratio").disaggregations == ("sex", "age_group")
    assert definitions.get("homicide_victims_counted").disaggregations == ("sex",)
    # Femicide is female by definition: by age group only.
    assert definitions.get("femicide_rate").disaggregations == ("age_group",)
    # A count of distinct reports (several victims each), a median, a fact without sex: none.
    assert definitions.get("robbery_reports").disaggregations == ()
    assert definitions.get("justice_median_days_report_to_case").disaggregations == ()
    assert definitions.get("use_of_force_incidents").disaggregations == ()
    # The survey records both, but is broken down only with its sampling error
    # (mart_survey_estimates), never as a municipality's weighted share.
    survey = definitions.interfaces["survey_victimisation"]
    assert survey.disaggregations == ("sex", "age_group")
    assert definitions.get("dark_figure__robbery").disaggregations == ()
    assert definitions.get("adjusted_incidence_rate__theft").disaggregations == ()


def test_a_breakdown_the_facts_do_not_record_is_refused(tmp_path: Path) -> None:
    directory = _copy(tmp_path)
    path = directory / "police.yml"
    family = yaml.safe_load(path.read_text(encoding="utf-8"))
    complaints = next(i for i in family["indicators"] if i["code"] == "police_complaints_count")
    complaints["disaggregations"] = ["sex"]
    path.write_text(yaml.safe_dump(family, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError, match="'police_complaints_count': disaggregations"):
        load_definitions(directory)
