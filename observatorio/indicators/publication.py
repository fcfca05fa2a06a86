"""Publication rules: the project's defaults, a country's own, and how they combine.

`dbt_project/indicators/_publication.yml` holds the defaults every indicator starts from
(minimum cell size, the numerator below which a rate is unstable, the survey's CV thresholds
and minimum base, decimals by unit). A country profile may set its own under `publication:`
in its `profile.yaml`, with the same keys (`observatorio.core.profile` checks them with
`check_publication`). An indicator's definition may still set `publication:` (or its family
`publication_defaults:`) for itself, and that wins. From lowest to highest:

    _publication.yml defaults < the country profile's publication < the definition's own

`decimals` merge unit by unit: a country that sets `{per 100k: 2}` keeps the others.

Python reads the combination through `observatorio.indicators.definitions` (each
indicator's `publication`, and `publication_defaults()` for tables no indicator defines);
dbt through the generated macro `indicator_definitions()`, which holds the project's
defaults and each definition's own rules and merges in the profile's (macro
`resolve_publication`, from the environment variable `OBSERVATORIO_REFERENCE` that
`observatorio.transform.dbt` sets from the same profile). The numbers are written once each:
the project's in `_publication.yml`, a country's in its profile.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Each key a country may set, and what its value must be.
COUNT_KEYS = ("min_cell_size", "min_stable_numerator", "survey_min_base")
SHARE_KEYS = ("survey_cv_caution", "survey_cv_suppress")
KEYS = (*COUNT_KEYS, *SHARE_KEYS, "decimals")
MAX_DECIMALS = 6  # the warehouse keeps 6 decimals: a value cannot be published with more


class PublicationError(ValueError):
    """A publication rule with a value it cannot have; the message names file and key."""


def check_publication(raw: Any, where: str, units: tuple[str, ...]) -> dict[str, Any]:
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
            checked[key] = _decimals(value, f"{where}: decimals", units)
    caution = checked.get("survey_cv_caution")
    suppress = checked.get("survey_cv_suppress")
    if caution is not None and suppress is not None and caution > suppress:
        raise PublicationError(
            f"{where}: survey_cv_caution ({caution}) is above survey_cv_suppress ({suppress})"
        )
    return checked


def _decimals(value: Any, where: str, units: tuple[str, ...]) -> dict[str, int]:
    if not isinstance(value, dict):
        raise PublicationError(f"{where}: expected decimals by unit, e.g. {{per 100k: 1}}")
    found: dict[str, int] = {}
    for unit, places in value.items():
        if unit not in units:
            raise PublicationError(f"{where}: unit {unit!r} is not one of {', '.join(units)}")
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


def country_publication() -> dict[str, Any]:
    """The active country profile's publication rules (`OBSERVATORIO_PROFILE`): only the keys
    it sets; none for the demo run from a copy of the project without `profiles/`."""
    from observatorio.core.settings import get_settings

    settings = get_settings()
    return dict(json.loads(_profile_publication(settings.profile, settings.project_dir)))


@functools.cache
def _profile_publication(selection: str, project_dir: Path) -> str:
    import dataclasses

    from observatorio.core.profile import ProfileError, load_profile
    from observatorio.core.settings import get_settings

    settings = dataclasses.replace(get_settings(), profile=selection, project_dir=project_dir)
    try:
        profile = load_profile(settings=settings)
    except ProfileError:
        if selection != "demo":
            raise
        return "{}"
    return json.dumps(dict(profile.publication), sort_keys=True)
