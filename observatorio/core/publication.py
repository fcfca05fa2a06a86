"""Publication rules: what their keys are and what values they may have, and how layers
of them combine (`merge`).

The project's defaults are in `dbt_project/indicators/_publication.yml`; a country profile
may set its own under `publication:` (`observatorio.core.profile` checks them here); an
indicator's definition may set its own too. `observatorio.indicators.publication` says how
the three combine and who reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The units a value is published in (an indicator's `unit`; `decimals` are set by unit).
UNITS = ("count", "per 100k", "share", "ratio", "days")
# Each key a country may set, and what its value must be.
COUNT_KEYS = ("min_cell_size", "min_stable_numerator", "survey_min_base")
SHARE_KEYS = ("survey_cv_caution", "survey_cv_suppress")
KEYS = (*COUNT_KEYS, *SHARE_KEYS, "decimals")
MAX_DECIMALS = 6  # the warehouse keeps 6 decimals: a value cannot be published with more


class PublicationError(ValueError):
    """A publication rule with a value it cannot have; the message names file and key."""


def check_publication(raw: Any, where: str) -> dict[str, Any]:
    """`raw` (a profile's or `_publication.yml`'s rules) checked key by key; `where` names
    the file (and the mapping) for the one-line error."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PublicationError(f"{where}: expected a mapping of {', '.join(KEYS)}")
    unknown = sorted(str(k) for k in raw if k not in KEYS)
    if unknown:
        raise PublicationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    checked: dict[str, Any] = {}
    for key, value in raw.items():
        if key in COUNT_KEYS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PublicationError(
                    f"{where}: {key} must be a whole number of 1 or more, got {value!r}"
                )
            checked[key] = value
        elif key in SHARE_KEYS:
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise PublicationError(
                    f"{where}: {key} must be a number above 0 (0.30 is 30 %), got {value!r}"
                )
            checked[key] = float(value)
        else:
            checked[key] = _decimals(value, f"{where}: decimals")
    caution = checked.get("survey_cv_caution")
    suppress = checked.get("survey_cv_suppress")
    if caution is not None and suppress is not None and caution > suppress:
        raise PublicationError(
            f"{where}: survey_cv_caution ({caution}) is above survey_cv_suppress ({suppress})"
        )
    return checked


def _decimals(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise PublicationError(f"{where}: expected decimals by unit, e.g. {{per 100k: 1}}")
    found: dict[str, int] = {}
    for unit, places in value.items():
        if unit not in UNITS:
            raise PublicationError(f"{where}: unit {unit!r} is not one of {', '.join(UNITS)}")
        if (
            isinstance(places, bool)
            or not isinstance(places, int)
            or not 0 <= places <= MAX_DECIMALS
        ):
            raise PublicationError(
                f"{where}: {unit} must be 0 to {MAX_DECIMALS} decimals, got {places!r}"
            )
        found[str(unit)] = places
    return found


def merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """The rules of `layers`, later ones winning; `decimals` merged unit by unit."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "decimals" and isinstance(value, Mapping):
                merged[key] = {**(merged.get(key) or {}), **value}
            else:
                merged[key] = value
    return merged
