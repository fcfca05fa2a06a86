import pytest

from ingestion.pseudonymise import (
    is_valid_national_id,
    national_id_check_digit,
    normalise_name,
    normalise_national_id,
    pseudonymise_name,
    pseudonymise_national_id,
)
from observatorio.core.settings import Settings, SettingsError, get_settings

KEY = b"k" * 32


def test_names_fold_accents_case_and_spaces():
    assert normalise_name("  José  MARÍA  o'Brien ") == "JOSE MARIA OBRIEN"
    assert normalise_name("Núñez-Ibáñez") == "NUNEZ IBANEZ"


def test_check_digit_is_verified_before_hashing():
    body = "123456789"
    valid = f"{body}-{national_id_check_digit(body)}"
    assert is_valid_national_id(normalise_national_id(valid))
    pseudonym, status = pseudonymise_national_id(KEY, valid)
    assert status == "valid" and pseudonym is not None and len(pseudonym) == 64
    wrong = f"{body}-{'1' if valid[-1] != '1' else '2'}"
    assert pseudonymise_national_id(KEY, wrong) == (None, "invalid_check_digit")
    assert pseudonymise_national_id(KEY, " ") == (None, "missing")


def test_same_person_same_pseudonym_across_spellings_and_key_matters():
    a, tokens_a = pseudonymise_name(KEY, "José Pérez")
    b, tokens_b = pseudonymise_name(KEY, "JOSE  perez")
    assert a == b and tokens_a == tokens_b
    c, _ = pseudonymise_name(b"another-key-another-key-another!", "José Pérez")
    assert c != a
    assert "JOSE" not in "".join(tokens_a)


def test_tokens_survive_word_order():
    _, forward = pseudonymise_name(KEY, "Ana María Rojas")
    _, backward = pseudonymise_name(KEY, "Rojas Ana María")
    assert forward == backward


def test_key_is_required_outside_the_demo(monkeypatch):
    monkeypatch.delenv("OBSERVATORIO_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("OBSERVATORIO_DEMO", "0")
    with pytest.raises(SettingsError, match="OBSERVATORIO_PSEUDONYM_KEY"):
        get_settings().pseudonym_key()
    monkeypatch.setenv("OBSERVATORIO_PSEUDONYM_KEY", "s" * 40)
    assert get_settings().pseudonym_key() == b"s" * 40


def test_demo_key_only_in_demo_mode():
    settings = get_settings()
    assert isinstance(settings, Settings)
    assert settings.demo  # the test session runs on synthetic data
    assert settings.pseudonym_key()
