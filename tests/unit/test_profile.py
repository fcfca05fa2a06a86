"""Country profiles: the demo profile resolves its hook; a bad profile stops `observatorio run`
at start-up with one line, before the warehouse or Airflow is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from observatorio.core.profile import ProfileError, load_profile


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
