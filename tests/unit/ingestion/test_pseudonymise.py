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


def test_each_purpose_has_its_own_derived_key():
    """The same input under two purposes never gives the same pseudonym (issue 17)."""
    from ingestion.pseudonymise import (
        PURPOSES,
        TOKEN_HEX_CHARS,
        _token_pseudonym,
        hmac_hex_many,
        pseudonymise_value,
        purpose_key,
        victim_id_pseudonym,
    )

    keys = {purpose_key(KEY, p) for p in PURPOSES}
    assert len(keys) == len(PURPOSES) and KEY not in keys
    text = "ANA"
    seen = {
        hmac_hex_many(KEY, "national_id", [text])[0],
        hmac_hex_many(KEY, "name", [text])[0],
        pseudonymise_value(KEY, text),
        victim_id_pseudonym(KEY, text),
    }
    token = _token_pseudonym(KEY, text)
    assert len(token) == TOKEN_HEX_CHARS
    assert len({s[:TOKEN_HEX_CHARS] for s in seen} | {token}) == 5
    # A name's token and the name itself ("ANA" has one token) stay apart too.
    whole, tokens = pseudonymise_name(KEY, "Ana")
    assert whole is not None and tokens[0] != whole[:TOKEN_HEX_CHARS]
    # The derivation is HMAC(master, label): anyone holding only a purpose key learns nothing
    # of the others, and the labels are fixed, so pseudonyms are stable across releases.
    import hashlib
    import hmac

    expected = hmac.new(KEY, b"observatorio/v1/name_token", hashlib.sha256).digest()
    assert purpose_key(KEY, "name_token") == expected


def test_victim_ids_are_keyed():
    from ingestion.pseudonymise import victim_id_pseudonym

    record = "police:PR-2024-000123"
    assert victim_id_pseudonym(KEY, record) != victim_id_pseudonym(b"o" * 32, record)
    import hashlib

    assert victim_id_pseudonym(KEY, record) != hashlib.sha256(record.encode()).hexdigest()[:16]


def test_a_key_chain_equals_re_keying_what_was_stored():
    """Rotation soundness: HMAC(k2, stored under k1) is what ingestion makes under (k1, k2)."""
    from ingestion.pseudonymise import (
        TOKEN_HEX_CHARS,
        encode_key_chain,
        hmac_hex_many,
        rekey_many,
    )

    new = b"n" * 32
    chain = encode_key_chain([KEY, new])
    valid = f"123456789-{national_id_check_digit('123456789')}"
    stored, _ = pseudonymise_national_id(KEY, valid)
    assert stored is not None
    chained, status = pseudonymise_national_id(chain, valid)
    assert status == "valid" and chained == rekey_many(new, "national_id", [stored])[0]
    assert hmac_hex_many(chain, "value", ["x"]) == rekey_many(
        new, "value", hmac_hex_many(KEY, "value", ["x"])
    )
    name, tokens = pseudonymise_name(KEY, "Ana Rojas")
    chained_name, chained_tokens = pseudonymise_name(chain, "Ana Rojas")
    assert name is not None and chained_name == rekey_many(new, "name", [name])[0]
    assert chained_tokens == sorted(rekey_many(new, "name_token", tokens, TOKEN_HEX_CHARS))
    assert chained != stored
