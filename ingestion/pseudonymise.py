"""Keyed pseudonyms for persons: the only way a person's identity enters the warehouse.

National IDs and names are normalised (accents stripped, case and spaces folded, the ID's
check digit verified) and replaced by HMAC-SHA256 pseudonyms under a secret key. The same
person gets the same pseudonym in every source, which is what record linkage needs, and
nobody without the key can go back. Called by the parser for every person column.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from functools import lru_cache

_NOT_NAME = re.compile(r"[^A-Z0-9 ]+")
_SPACES = re.compile(r"\s+")
_ID_SEPARATORS = re.compile(r"[\s.\-]+")

# Token pseudonyms are shortened: 64 bits keep collisions negligible at national scale
# while halving the size of the linkage keys.
TOKEN_HEX_CHARS = 16


def strip_accents(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise_name(value: str) -> str:
    """`  José  MARÍA  o'Brien ` -> `JOSE MARIA OBRIEN`."""
    folded = strip_accents(value).upper().replace("'", "")
    return _SPACES.sub(" ", _NOT_NAME.sub(" ", folded)).strip()


def normalise_national_id(value: str) -> str:
    """Drop separators and fold case: `12.345.678-k` -> `12345678K`."""
    return _ID_SEPARATORS.sub("", value).upper()


def national_id_check_digit(body: str) -> str:
    """Mod-11 check digit over the ID's digits, weights 2..7 from the right; 10 is `K`."""
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(body)))
    digit = 11 - total % 11
    return {11: "0", 10: "K"}.get(digit, str(digit))


# The national ID is nine digits and a check character (`123456789-K`).
NATIONAL_ID_DIGITS = 9


def is_valid_national_id(normalised: str) -> bool:
    body = normalised[:-1]
    if len(body) != NATIONAL_ID_DIGITS or not body.isdigit():
        return False
    return national_id_check_digit(normalised[:-1]) == normalised[-1]


def _hmac_hex(key: bytes, domain: str, value: str) -> str:
    # The domain keeps an ID and a name that happen to share text from sharing a pseudonym.
    return hmac.new(key, f"{domain}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def pseudonymise_national_id(key: bytes, raw: str) -> tuple[str | None, str]:
    """(pseudonym, status) where status is `valid`, `invalid_check_digit` or `missing`."""
    normalised = normalise_national_id(raw)
    if not normalised:
        return None, "missing"
    if not is_valid_national_id(normalised):
        # A mistyped ID would link the wrong people: keep no pseudonym for it.
        return None, "invalid_check_digit"
    return _hmac_hex(key, "national_id", normalised), "valid"


def pseudonymise_name(key: bytes, raw: str) -> tuple[str | None, list[str]]:
    """(pseudonym of the whole normalised name, sorted pseudonyms of its tokens)."""
    normalised = normalise_name(raw)
    if not normalised:
        return None, []
    tokens = sorted({_token_pseudonym(key, t) for t in normalised.split()})
    return _hmac_hex(key, "name", normalised), tokens


@lru_cache(maxsize=1 << 16)
def _token_pseudonym(key: bytes, token: str) -> str:
    # Name tokens repeat endlessly (María, Pérez): hash each once per process and key.
    return _hmac_hex(key, "name_token", token)[:TOKEN_HEX_CHARS]


def pseudonymise_value(key: bytes, raw: str) -> str:
    """A pseudonym for any other identifying value (used for quarantined person cells)."""
    return _hmac_hex(key, "value", raw.strip())
