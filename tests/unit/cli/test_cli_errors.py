"""The `observatorio` command as a person meets it (issue 21): one line, the valid choices,
distinct exit codes (1 usage or missing input, 3 configuration), the key checked before any
work, no traceback and no warning about our own environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from observatorio.cli.errors import EXIT_CONFIG, EXIT_USAGE

COMMAND = shutil.which("observatorio", path=str(Path(os.sys.executable).parent))


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    environment.update(env)
    assert COMMAND, "the console script is installed with the project"
    return subprocess.run(
        [COMMAND, *args], capture_output=True, text=True, env=environment, timeout=120
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_an_unknown_source_lists_the_known_ones() -> None:
    result = _run("ingest", "police__report", "x.csv")
    assert result.returncode == EXIT_USAGE
    line = _one_error_line(result)
    assert "police__reports" in line and "health__forensic_deaths" in line


def test_a_missing_file_is_a_usage_error_not_a_rejection(tmp_path: Path) -> None:
    result = _run("ingest", "police__reports", str(tmp_path / "denuncias_nowhere.csv"))
    assert result.returncode == EXIT_USAGE
    assert "no such file" in _one_error_line(result)


def test_a_missing_key_fails_at_once_before_any_work(tmp_path: Path) -> None:
    landed = tmp_path / "denuncias_20240105.csv"
    landed.write_text("numero_denuncia\n", encoding="utf-8")
    started = time.monotonic()
    result = _run(
        "ingest",
        "police__reports",
        str(landed),
        OBSERVATORIO_DEMO="0",
        OBSERVATORIO_PSEUDONYM_KEY="",
        OBSERVATORIO_HOME=str(tmp_path / "home"),
    )
    assert result.returncode == EXIT_CONFIG
    assert "OBSERVATORIO_PSEUDONYM_KEY" in _one_error_line(result)
    assert time.monotonic() - started < 30
    # Nothing was started: no warehouse under the home it would have used.
    assert not (tmp_path / "home" / "warehouse").exists()


def test_run_checks_the_key_before_building_anything(tmp_path: Path) -> None:
    result = _run(
        "run",
        OBSERVATORIO_DEMO="0",
        OBSERVATORIO_PSEUDONYM_KEY="short",
        OBSERVATORIO_HOME=str(tmp_path / "home"),
    )
    assert result.returncode == EXIT_CONFIG
    assert "at least 32" in _one_error_line(result)
    assert "Running the pipeline" not in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("bogus",), "No such command 'bogus'"),
        (("ingest",), "Missing argument"),
        (("explain", "foo"), "usage: observatorio explain"),
    ],
)
def test_usage_errors_are_one_line_with_exit_1(args: tuple[str, ...], expected: str) -> None:
    result = _run(*args)
    assert result.returncode == EXIT_USAGE
    assert expected in _one_error_line(result)


def test_no_warning_about_our_own_environment(tmp_path: Path) -> None:
    # No XDG_RUNTIME_DIR (cron, containers): nothing of it on stderr.
    result = _run("warehouse", "status", OBSERVATORIO_HOME=str(tmp_path / "home"))
    assert "Warning" not in result.stderr and "XDG_RUNTIME_DIR" not in result.stderr
