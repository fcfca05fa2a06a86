"""Named decoders: codings that need arithmetic, not a value map (`decoder:` in a contract).

Each takes the cell's text and returns the decoded text (or None for unknown), raising
ValueError for a code it cannot read. Add one only with a test built from a documented example.
Imported by `contract` (to check a contract names a known decoder) and `values` (to apply it).
"""

from __future__ import annotations

from collections.abc import Callable


def sim_age(code: str) -> str | None:
    """DATASUS SIM `IDADE`: a unit digit then two digits, as age in whole years.

    Unit 0 minutes, 1 hours, 2 days, 3 months (all under a year: 0), 4 years, 5 a
    hundred years and more (100 + the two digits). `000` and `999` mean unknown.
    """
    if len(code) != 3 or not code.isascii() or not code.isdigit():
        raise ValueError("expected three digits (unit and amount)")
    if code in ("000", "999"):
        return None
    unit, amount = int(code[0]), int(code[1:])
    if unit in (0, 1, 2, 3):
        return "0"
    if unit == 4:
        return str(amount)
    if unit == 5:
        return str(100 + amount)
    raise ValueError(f"unknown age unit {unit} (expected 0 to 5)")


DECODERS: dict[str, Callable[[str], str | None]] = {"sim_age": sim_age}
