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
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from observatorio.core.keychain import encode_key_chain, key_chain

__all__ = ["encode_key_chain", "key_chain"]  # with the pseudonyms they make

try:  # CPython's own SHA-256: copying its state is cheaper than OpenSSL's for short values.
    from _sha256 import sha256 as _builtin_sha256

    _sha256_new: Callable[[bytes], Any] = _builtin_sha256
except ImportError:  # pragma: no cover - other interpreters
    _sha256_new = hashlib.sha256

_NOT_NAME = re.compile(r"[^A-Z0-9 ]+")
_SPACES = re.compile(r"\s+")
_ID_SEPARATORS = re.compile(r"[\s.\-]+")

# Token pseudonyms are shortened: 64 bits keep collisions negligible at national scale
# while halving the size of the linkage keys.
TOKEN_HEX_CHARS = 16
# Victim ids (`VIC-` and 16 hex characters) are labels for a cluster, not linkage keys.
VICTIM_ID_HEX_CHARS = 16


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


# Each purpose has its own key, derived from the master key with a fixed label, so a value
# pseudonymised for one purpose never equals the same input under another: linkage's ID and
# name pseudonyms, name tokens, quarantined person cells and the register's victim ids can
# neither be joined to each other nor one used to look up the other.
PURPOSES = ("national_id", "name", "name_token", "value", "victim_id")
PURPOSE_LABEL = "observatorio/v1/{purpose}"


@lru_cache(maxsize=256)
def purpose_key(master: bytes, purpose: str) -> bytes:
    """The key for one purpose: HMAC(master, "observatorio/v1/<purpose>"), HKDF's expand step."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown pseudonym purpose {purpose!r}; expected one of {PURPOSES}")
    label = PURPOSE_LABEL.format(purpose=purpose).encode()
    return hmac.new(master, label, hashlib.sha256).digest()


def rekey_step(master: bytes, purpose: str, stored: str, width: int | None = None) -> str:
    """One link of the chain: a stored pseudonym wrapped under one more key.

    Ingestion applies every key of the chain in turn; a rotation applies only the new one
    to what is stored. Both give HMAC(k_n, ... HMAC(k_1, value)), so a person pseudonymised
    before a rotation and one after still share a pseudonym.
    """
    return hmac.new(purpose_key(master, purpose), stored.encode(), hashlib.sha256).hexdigest()[
        :width
    ]


def _hmac_hex(key: bytes, purpose: str, value: str, width: int | None = None) -> str:
    keys = key_chain(key)
    hexed = rekey_step(keys[0], purpose, value, width)
    for later in keys[1:]:
        hexed = rekey_step(later, purpose, hexed, width)
    return hexed


def hmac_hex_many(key: bytes, purpose: str, values: Iterable[str]) -> list[str]:
    """`_hmac_hex` for many values: the same pseudonyms, a few times faster.

    HMAC's two keyed SHA-256 states are computed once and copied per value, instead of
    building a keyed HMAC object (and, with OpenSSL 3, fetching the algorithm) each time.
    """
    keys = key_chain(key)
    hexed = _hmac_hex_many_one_key(purpose_key(keys[0], purpose), values)
    for later in keys[1:]:
        hexed = _hmac_hex_many_one_key(purpose_key(later, purpose), hexed)
    return hexed


def rekey_many(
    master: bytes, purpose: str, stored: Iterable[str], width: int | None = None
) -> list[str]:
    """`rekey_step` for many stored pseudonyms (a key rotation's one added link)."""
    return [h[:width] for h in _hmac_hex_many_one_key(purpose_key(master, purpose), stored)]


def _hmac_hex_many_one_key(key: bytes, values: Iterable[str]) -> list[str]:
    block = 64
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = _sha256_new(bytes(b ^ 0x36 for b in padded))
    outer = _sha256_new(bytes(b ^ 0x5C for b in padded))
    inner_copy, outer_copy = inner.copy, outer.copy
    hexed: list[str] = []
    append = hexed.append
    for value in values:
        h = inner_copy()
        h.update(value.encode())
        o = outer_copy()
        o.update(h.digest())
        append(o.hexdigest())
    return hexed


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
    return _hmac_hex(key, "name_token", token, TOKEN_HEX_CHARS)


def pseudonymise_value(key: bytes, raw: str) -> str:
    """A pseudonym for any other identifying value (used for quarantined person cells)."""
    return _hmac_hex(key, "value", raw.strip())


def victim_id_pseudonym(key: bytes, value: str) -> str:
    """The register's victim id for a cluster, keyed under its own purpose."""
    return _hmac_hex(key, "victim_id", value, VICTIM_ID_HEX_CHARS)
