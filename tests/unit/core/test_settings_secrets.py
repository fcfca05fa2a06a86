"""The pseudonym key is guarded and no secret leaks through the settings object (issue 17)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from observatorio.core.settings import (
    DEMO_PSEUDONYM_KEY,
    MIN_KEY_CHARS,
    SettingsError,
    get_settings,
    mask_url,
)

REAL_KEY = "k" * MIN_KEY_CHARS


@pytest.fixture
def outside_demo(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("OBSERVATORIO_DEMO", "0")
    return monkeypatch


def test_a_short_key_is_refused_outside_the_demo(outside_demo: pytest.MonkeyPatch) -> None:
    outside_demo.setenv("OBSERVATORIO_PSEUDONYM_KEY", "x")
    with pytest.raises(SettingsError, match=f"needs at least {MIN_KEY_CHARS}"):
        get_settings().pseudonym_key()
    outside_demo.setenv("OBSERVATORIO_PSEUDONYM_KEY", "x" * (MIN_KEY_CHARS - 1))
    with pytest.raises(SettingsError):
        get_settings().pseudonym_key()


def test_the_public_demo_key_is_refused_outside_the_demo(outside_demo: pytest.MonkeyPatch) -> None:
    outside_demo.setenv("OBSERVATORIO_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY)
    with pytest.raises(SettingsError, match="public demo key"):
        get_settings().pseudonym_key()


def test_a_long_key_is_accepted_and_fingerprinted(outside_demo: pytest.MonkeyPatch) -> None:
    outside_demo.setenv("OBSERVATORIO_PSEUDONYM_KEY", REAL_KEY)
    first = get_settings()
    assert first.pseudonym_key() == REAL_KEY.encode()
    fingerprint = first.key_fingerprint()
    assert len(fingerprint) == 16 and REAL_KEY not in fingerprint
    outside_demo.setenv("OBSERVATORIO_PSEUDONYM_KEY", "m" * MIN_KEY_CHARS)
    assert get_settings().key_fingerprint() != fingerprint


def test_repr_hides_the_key_and_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORIO_PSEUDONYM_KEY", REAL_KEY)
    monkeypatch.setenv("OBSERVATORIO_WAREHOUSE_URL", "postgresql://etl:s3cr3t-pw@db:5432/obs")
    shown = repr(get_settings()) + str(get_settings())
    assert REAL_KEY not in shown
    assert "s3cr3t-pw" not in shown
    assert "postgresql://etl:***@db:5432/obs" in shown


def test_mask_url_keeps_everything_but_the_password() -> None:
    assert mask_url("postgresql://a:b@h:1/d") == "postgresql://a:***@h:1/d"
    assert mask_url("postgresql://a@h/d") == "postgresql://a@h/d"


def test_the_cli_prints_the_warehouse_url_without_its_password() -> None:
    env = {"OBSERVATORIO_WAREHOUSE_URL": "postgresql://etl:s3cr3t-pw@db.invalid:5432/obs"}
    import os

    result = subprocess.run(
        [sys.executable, "-m", "observatorio.cli.app", "warehouse", "url"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    # The URL a component uses (its own role's), its password masked.
    assert ":***@db.invalid:5432/obs" in result.stdout


def test_dotenv_files_are_ignored_by_git() -> None:
    from observatorio.core.settings import PROJECT_DIR

    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=PROJECT_DIR, check=False
    ).returncode
    assert ignored == 0
