"""The pseudonym key chain: one key, or after rotations every key used, oldest first.

A pseudonym is HMAC(k_n, ... HMAC(k_1, value)) over the chain (`ingestion.pseudonymise`);
a rotation (`ingestion.key_rotation`) adds one key. The chain travels as one bytes value so
every caller keeps passing `key: bytes`, and is named by a fingerprint that reveals no key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache

# What a key fingerprint is the HMAC of: it identifies the key without revealing it.
FINGERPRINT_LABEL = b"observatorio/key-fingerprint/v1"

# A key chain (after a rotation: every key ever used, oldest first) travels as one bytes
# value so every caller keeps passing `key: bytes`. A NUL cannot occur in an environment
# variable, so no single key can be mistaken for a chain.
_CHAIN_MAGIC = b"\0observatorio-key-chain\0"


def encode_key_chain(keys: Sequence[bytes]) -> bytes:
    """One key stays itself; several become a length-prefixed chain, oldest first."""
    if not keys:
        raise ValueError("a key chain needs at least one key")
    if len(keys) == 1:
        return keys[0]
    return _CHAIN_MAGIC + b"".join(len(k).to_bytes(4, "big") + k for k in keys)


@lru_cache(maxsize=64)
def key_chain(key: bytes) -> tuple[bytes, ...]:
    """The keys a pseudonym key stands for, oldest first (one key is a chain of one)."""
    if not key.startswith(_CHAIN_MAGIC):
        return (key,)
    keys: list[bytes] = []
    rest = key[len(_CHAIN_MAGIC) :]
    while rest:
        size = int.from_bytes(rest[:4], "big")
        keys.append(rest[4 : 4 + size])
        rest = rest[4 + size :]
    return tuple(keys)


def key_chain_fingerprint(key: bytes) -> str:
    """HMAC(k_1, label), then each later key's HMAC over the label and the previous one."""
    fingerprint = ""
    for index, link in enumerate(key_chain(key)):
        label = FINGERPRINT_LABEL if index == 0 else FINGERPRINT_LABEL + b"/" + fingerprint.encode()
        fingerprint = hmac.new(link, label, hashlib.sha256).hexdigest()[:16]
    return fingerprint
