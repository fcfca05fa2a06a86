"""Publication rules: the project's defaults, a country's own, and how they combine.

`dbt_project/indicators/_publication.yml` holds the defaults every indicator starts from
(minimum cell size, the numerator below which a rate is unstable, the survey's CV thresholds
and minimum base, decimals by unit). A country profile may set its own under `publication:`
in its `profile.yaml`, with the same keys (`observatorio.core.profile` checks them with
`observatorio.core.publication.check_publication`). An indicator's definition may still set
`publication:` (or its family `publication_defaults:`) for itself, and that wins. From
lowest to highest:

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
from pathlib import Path
from typing import Any


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
