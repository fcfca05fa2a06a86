"""Country profiles: the demo profile resolves its hook; a bad profile stops `observatorio run`
at start-up with one line, before the warehouse or Airflow is touched."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from observatorio.core.profile import ProfileError, load_profile

POPULATION_FILE = "DANE_PPO_GQEdad_Mpio_2022_2023.csv"
OFFENCE_FILE = "correspondencia_delitos_iccs.csv"


def _profile(folder: Path, text: str) -> str:
    folder.mkdir(parents=True)
    (folder / "profile.yaml").write_text(text, encoding="utf-8")
    return str(folder)


def test_the_demo_profile_names_the_simulator_hook():
    from simulator.demo import prepare

    profile = load_profile("demo")
    assert profile.name == "demo" and profile.prepare == "simulator.demo:prepare"
    assert profile.preparation() is prepare


def test_a_profile_without_hook_prepares_nothing(tmp_path):
    profile = load_profile(_profile(tmp_path / "bare", "name: bare\n"))
    with profile.preparation()(None) as prepared:  # type: ignore[arg-type]
        assert prepared is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: broken\nprepare: simulator.nowhere:prepare\n",
            "no module named 'simulator.nowhere'",
        ),
        ("name: broken\nprepare: simulator.demo:nothing\n", "simulator.demo has no 'nothing'"),
        ("name: broken\nprepare: simulator.demo\n", "is not of the form module.path:function"),
        ("name: broken\nsourcez: [police__reports]\n", "unknown key(s) sourcez"),
        ("name: other\n", "name 'other' differs from its folder 'broken'"),
        ("- name\n", "expected a mapping"),
    ],
)
def test_a_bad_profile_is_one_line_naming_the_problem(tmp_path, text, message):
    profile_path = _profile(tmp_path / "broken", text)
    with pytest.raises(ProfileError) as raised:
        load_profile(profile_path).preparation()
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_unknown_profile_lists_the_known_ones():
    with pytest.raises(ProfileError, match=r"profile 'atlantis': no .*known profiles: .*demo"):
        load_profile("atlantis")


@pytest.mark.parametrize("selection", ["atlantis", "hook"])
def test_observatorio_run_stops_at_start_up_on_a_bad_profile(tmp_path, monkeypatch, selection):
    from observatorio.cli.app import app

    if selection == "hook":
        selection = _profile(tmp_path / "hook", "name: hook\nprepare: nowhere.at.all:prepare\n")
    monkeypatch.setenv("OBSERVATORIO_PROFILE", selection)
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 3, result.output  # a configuration error
    assert "Running the pipeline" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_profile_lists_every_active_contract_with_its_schedule_and_seeds():
    from ingestion.contract import available_contracts
    from observatorio.core.profile import REFERENCE_TABLES
    from observatorio.orchestration.reference import validated_profile

    profile = validated_profile()
    assert sorted(profile.active_contracts()) == available_contracts()
    assert all(s.schedule for s in profile.sources)
    assert profile.schedule("police__reports") == "@hourly"
    assert profile.reference_files() == []
    assert {t: profile.reference_table(t).seed for t in REFERENCE_TABLES} == REFERENCE_TABLES
    assert profile.unknown_municipality_codes == "resolve"
    specs = profile.recipient_specs(profile.folder.parents[1] / "extracts")
    assert [p.stem for p in specs] == [
        "gobernacion_central",
        "mesa_interinstitucional",
        "ministerio_seguridad",
        "unidad_analitica",
    ]


def test_the_fixture_profile_loads_its_reference_through_contracts():
    from observatorio.core.profile import reference_variable

    profile = load_profile("colombia_fixture")
    assert profile.active_contracts() == ["siedco__homicides", "eevv__non_fetal_deaths"]
    files = [(f.table, f.contract, f.path.name, f.valid_from) for f in profile.reference_files()]
    assert files == [
        ("geography", "dane__divipola", "DIVIPOLA_Municipios_2018.csv", date(2018, 1, 1)),
        ("geography", "dane__divipola", "DIVIPOLA_Municipios_2023.csv", date(2023, 1, 1)),
        ("aliases", "observatorio__municipality_aliases", "alias_municipios.csv", None),
        ("population", "dane__population_projections", POPULATION_FILE, None),
        ("offence_codes", "observatorio__national_offences", OFFENCE_FILE, None),
    ]
    assert profile.unknown_municipality_codes == "quarantine"
    assert '"country_name": "Colombia"' in reference_variable(profile)


def test_a_profile_naming_an_unknown_contract_fails_listing_the_known_ones(tmp_path):
    from ingestion.contract import available_contracts, catalog_contracts

    folder = _profile(
        tmp_path / "atlantis",
        "name: atlantis\nsources:\n  - {contract: police__reports}\n"
        "  - {contract: atlantis__crimes, schedule: '@daily'}\n",
    )
    known = available_contracts() + catalog_contracts()
    with pytest.raises(ProfileError) as raised:
        load_profile(folder, known_contracts=known)
    message = str(raised.value)
    assert "sources[1]: no contract named 'atlantis__crimes' (known: " in message
    assert all(
        name in message for name in ("police__reports", "siedco__homicides", "dane__divipola")
    )
    assert "\n" not in message


def test_observatorio_run_stops_at_start_up_on_an_unknown_contract(tmp_path, monkeypatch):
    from observatorio.cli.app import app

    folder = _profile(tmp_path / "atlantis", "name: atlantis\nsources: [atlantis__crimes]\n")
    monkeypatch.setenv("OBSERVATORIO_PROFILE", folder)
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 3, result.output
    assert "Running the pipeline" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no contract named 'atlantis__crimes' (known: " in lines[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "population: {seed: ref_population, contract: dane__divipola}\n",
            "either seed or contract",
        ),
        ("population: {contract: dane__population_projections}\n", "files must list at least one"),
        ("population: {contract: dane__population_projections, files: [nowhere.csv]}\n", "no file"),
        (
            "geography: {contract: dane__divipola, files: [a.csv, b.csv]}\n",
            "each needs a valid_from",
        ),
        (
            "geography:\n  contract: dane__divipola\n  files:\n"
            "    - {file: a.csv, valid_from: 2023-01-01}\n"
            "    - {file: b.csv, valid_from: 2018-01-01}\n",
            "oldest first",
        ),
        ("geography: {seed: ref_municipalities, levels: [municipality, country]}\n", "last level"),
        ("geography: {seed: ref_municipalities, unknown_codes: drop}\n", "unknown_codes must be"),
        ("sources: [police__reports, police__reports]\n", "police__reports listed twice"),
        ("recipients: [nobody_at_all]\n", "no extract spec 'nobody_at_all' (known: "),
        ("aliases: {seed: ref_municipality_aliases, valid: true}\n", "unknown key(s) valid"),
    ],
)
def test_a_bad_reference_table_is_one_line_naming_the_key(tmp_path, body, message):
    folder = tmp_path / "broken"
    folder.mkdir()
    for name in ("a.csv", "b.csv"):
        (folder / name).write_text("x\n", encoding="utf-8")
    (folder / "profile.yaml").write_text("name: broken\n" + body, encoding="utf-8")
    with pytest.raises(ProfileError) as raised:
        load_profile(str(folder))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_every_contract_a_shipped_profile_loads_is_a_dbt_source():
    import yaml

    from observatorio.core.profile import known_profiles
    from observatorio.core.settings import get_settings

    settings = get_settings()
    sources = yaml.safe_load(
        (
            settings.dbt_project_dir / "models/intermediate/reference/_reference__sources.yml"
        ).read_text(encoding="utf-8")
    )["sources"]
    declared = {t["name"] for s in sources for t in s["tables"]}
    used = {
        c for name in known_profiles(settings) for c in load_profile(name).reference_contracts()
    }
    assert used and used <= declared


def test_a_country_with_its_own_geography_and_no_aliases_has_none(tmp_path):
    """The demo's spellings name the demo's municipalities: a country with a geography of
    its own that gives no aliases gets the seed's columns and none of its rows."""
    text = (
        "name: bare\n"
        "geography: {contract: dane__divipola, files: [reference/divipola.csv]}\n"
        "population: {contract: dane__population_projections, files: [reference/pop.csv]}\n"
    )
    folder = _profile(tmp_path / "bare", text)
    (tmp_path / "bare" / "reference").mkdir()
    for name in ("divipola.csv", "pop.csv"):
        (tmp_path / "bare" / "reference" / name).write_text("", encoding="utf-8")
    bare = load_profile(folder)
    assert bare.reference_vars()["aliases"] == {"seed": "ref_municipality_aliases", "empty": True}
    assert load_profile("demo").reference_vars()["aliases"] == {"seed": "ref_municipality_aliases"}
