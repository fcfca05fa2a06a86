"""Publication rules as a country's setting: a profile's `publication:` over the project's
`_publication.yml`, an indicator's own definition over both, read the same way by the
definitions (bulletin, extracts, dictionary), the extracts' disclosure control, the survey
estimates and, through the generated macro, dbt; a bad value is one line naming file and key.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from observatorio.core.profile import ProfileError, load_profile
from observatorio.indicators import generate
from observatorio.indicators.definitions import (
    DEFINITIONS_DIR,
    load_definitions,
    publication_defaults,
)

PROJECT = publication_defaults(country={})


def _profile(tmp_path: Path, publication: object) -> Path:
    folder = tmp_path / "ruled"
    folder.mkdir(parents=True)
    (folder / "profile.yaml").write_text(
        yaml.safe_dump({"name": "ruled", "publication": publication}, allow_unicode=True),
        encoding="utf-8",
    )
    return folder


def test_a_country_sets_its_own_rules_and_keeps_the_project_s_for_the_rest(tmp_path):
    folder = _profile(
        tmp_path, {"min_cell_size": 5, "min_stable_numerator": 40, "decimals": {"per 100k": 2}}
    )
    country = load_profile(str(folder)).publication
    assert country == {"min_cell_size": 5, "min_stable_numerator": 40, "decimals": {"per 100k": 2}}
    definitions = load_definitions(country=country)
    rate = definitions.get("homicide_rate_police").publication
    assert (rate.min_cell_size, rate.min_stable_numerator, rate.decimals) == (5, 40, 2)
    # Decimals merge unit by unit; keys the country leaves out stay the project's.
    assert definitions.get("homicide_count_police").publication.decimals == 0
    merged = publication_defaults(country=country)
    assert merged["decimals"] == {**PROJECT["decimals"], "per 100k": 2}
    assert merged["survey_cv_suppress"] == PROJECT["survey_cv_suppress"]
    # The project's own rules are what the generated files hold.
    project_rate = load_definitions(country={}).get("homicide_rate_police").publication
    assert project_rate.min_stable_numerator == PROJECT["min_stable_numerator"] != 40


def test_an_indicator_s_own_definition_wins_over_the_country(tmp_path):
    directory = tmp_path / "indicators"
    shutil.copytree(DEFINITIONS_DIR, directory)
    path = directory / "police.yml"
    family = yaml.safe_load(path.read_text(encoding="utf-8"))
    for raw in family["indicators"]:
        if raw["code"] == "femicide_rate":
            raw["publication"] = {"min_stable_numerator": 12, "decimals": 3}
    path.write_text(yaml.safe_dump(family, allow_unicode=True), encoding="utf-8")
    country = {"min_cell_size": 5, "min_stable_numerator": 40}
    definitions = load_definitions(directory, country=country)
    own = definitions.get("femicide_rate").publication
    assert (own.min_cell_size, own.min_stable_numerator, own.decimals) == (5, 12, 3)
    assert definitions.get("homicide_rate_police").publication.min_stable_numerator == 40
    # dbt gets the project's defaults and the definition's own rules only; the macro
    # resolve_publication merges the profile's between them.
    payload = load_definitions(directory, country={}).to_dbt()
    listed = {i["code"]: i for i in payload["indicators"]}
    assert listed["femicide_rate"]["publication"] == {"decimals": 3, "min_stable_numerator": 12}
    assert listed["homicide_rate_police"]["publication"] == {}
    assert payload["publication"] == PROJECT


def test_the_generated_macro_holds_the_project_s_rules_and_resolves_the_profile_s():
    text = generate.MACRO.read_text(encoding="utf-8")
    payload = json.loads(text.split("{% raw %}")[1].split("{% endraw %}")[0])
    assert payload["publication"] == PROJECT
    assert "resolve_publication(fromjson(payload))" in text
    # No publication number is written anywhere else in the dbt project: the var that once
    # repeated min_cell_size is gone, and the seed has no rule columns.
    project = yaml.safe_load((DEFINITIONS_DIR.parent / "dbt_project.yml").read_text())
    assert "disclosure_threshold" not in project["vars"]
    header = generate.SEED.read_text(encoding="utf-8").splitlines()[0]
    assert not {"min_cell_size", "decimals", "min_stable_numerator"} & set(header.split(","))


def test_the_active_profile_s_rules_reach_extracts_survey_and_bulletin(tmp_path, monkeypatch):
    from observatorio.delivery.bulletin.methods import methods
    from observatorio.delivery.disclosure import publication_rules
    from observatorio.indicators.survey_design import load_rules

    folder = _profile(
        tmp_path,
        {"min_cell_size": 6, "min_stable_numerator": 25, "survey_cv_caution": 0.2,
         "survey_cv_suppress": 0.35, "survey_min_base": 50},
    )  # fmt: skip
    monkeypatch.setenv("OBSERVATORIO_PROFILE", str(folder))
    assert publication_rules().min_cell_size == 6
    assert publication_rules(["homicide_rate_police"]).min_cell_size == 6
    rules = load_rules()
    assert (rules.cv_caution, rules.cv_suppress, rules.min_base) == (0.2, 0.35, 50)
    text = " ".join(methods(publication_rules().min_cell_size).rules)
    assert "de 1 a 5 casos" in text and "menos de 25 casos" in text
    monkeypatch.setenv("OBSERVATORIO_PROFILE", "demo")
    assert publication_rules().min_cell_size == PROJECT["min_cell_size"]


@pytest.mark.parametrize(
    ("publication", "key"),
    [
        ({"min_cell_size": 0}, "min_cell_size"),
        ({"min_stable_numerator": "veinte"}, "min_stable_numerator"),
        ({"survey_min_base": 2.5}, "survey_min_base"),
        ({"survey_cv_caution": -0.1}, "survey_cv_caution"),
        ({"survey_cv_caution": 0.6, "survey_cv_suppress": 0.5}, "survey_cv_caution"),
        ({"decimals": {"per 100k": 9}}, "per 100k"),
        ({"decimals": {"percent": 1}}, "percent"),
        ({"decimals": 2}, "decimals"),
        ({"min_cell": 5}, "min_cell"),
        (["min_cell_size", 5], "publication"),
    ],
)
def test_a_bad_rule_is_one_line_naming_file_and_key(tmp_path, publication, key):
    folder = _profile(tmp_path, publication)
    with pytest.raises(ProfileError) as error:
        load_profile(str(folder))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{folder / 'profile.yaml'}: publication")
    assert re.search(rf"\b{re.escape(key)}\b", message), message


def test_a_changed_country_rule_makes_the_next_build_a_full_refresh(tmp_path, monkeypatch):
    """The incremental marts keep the cells earlier builds wrote under the earlier rules: a
    country profile whose rules (or reference tables) changed changes the build's fingerprint,
    which `plan_build` compares with the last build's to choose a full refresh."""
    from observatorio.core.settings import get_settings
    from observatorio.transform.builds import build_fingerprint

    monkeypatch.setenv("OBSERVATORIO_PROFILE", "demo")
    demo = build_fingerprint(get_settings())
    assert build_fingerprint(get_settings()) == demo
    fingerprints = {demo}
    for size in (6, 7):
        folder = _profile(tmp_path / str(size), {"min_cell_size": size})
        monkeypatch.setenv("OBSERVATORIO_PROFILE", str(folder))
        fingerprints.add(build_fingerprint(get_settings()))
    assert len(fingerprints) == 3
