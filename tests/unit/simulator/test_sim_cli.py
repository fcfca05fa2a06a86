from __future__ import annotations

import json

from simulator.cli import main


def test_cli_generates_a_run(tmp_path, capsys):
    code = main(
        [
            "--seed",
            "5",
            "--scale",
            "tiny",
            "--start",
            "2024-01-01",
            "--days",
            "30",
            "--out",
            str(tmp_path),
            "--messiness",
            "0",
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[0])
    assert printed["events"] > 0
    assert (tmp_path / "truth" / "indicators.csv").is_file()
    assert len(list((tmp_path / "exports" / "police" / "reports").glob("*.csv"))) == 30


def test_observatorio_simulate_is_contributed_by_the_simulator(tmp_path):
    from typer.testing import CliRunner

    from observatorio.cli.app import app

    args = ["simulate", "--seed", "5", "--scale", "tiny", "--days", "3", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["events"] > 0
    assert len(list((tmp_path / "exports" / "police" / "reports").glob("*.csv"))) == 3
    usage = CliRunner().invoke(app, ["simulate", "--help"])
    assert usage.exit_code == 0 and "--scale" in usage.stdout
