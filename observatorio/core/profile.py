"""The country profile: what is country-specific, as configuration rather than code.

`OBSERVATORIO_PROFILE` (default `demo`) selects a profile: a name under `profiles/` of the
project (`profiles/<name>/profile.yaml`) or the path of a folder holding a `profile.yaml`.
`load_profile()` reads and checks it; the main job (`observatorio run`) calls it before it
starts anything, so a profile that names an unknown file or hook fails at start-up with one
line, never half-way through a run.

The format, one YAML mapping; every key but `name` is optional:

```yaml
name: demo                          # must match the folder's name
description: The simulated country  # one line, for people
prepare: simulator.demo:prepare     # hook run around the DAGs of the main job
```

`prepare` names a callable as `module:attribute` (dotted module path, colon, attribute). It
takes the `Settings` and returns a context manager: entered before the DAGs run, exited after.
What it does is up to the profile: the demo profile generates the simulated country, lands
its exports in the landing folders and serves its source systems for the duration. Without a
hook the main job runs on whatever is already landed or connected, as a deployment does.

Unknown keys are refused, so a typo never goes unnoticed. The format grows by adding keys
here, each with its own type: the active sources, the geography, the population, the code
maps and the extract recipients (see issue 16).

Imports `core.settings` only; the hook's module is imported by name, never statically, so
the product never depends on the demo.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from observatorio.core.settings import Settings, get_settings

PROFILE_FILE = "profile.yaml"
KNOWN_KEYS = ("name", "description", "prepare")
_HOOK = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

Preparation = Callable[[Settings], AbstractContextManager[object]]


class ProfileError(ValueError):
    """A profile that cannot be used; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Profile:
    """A country profile, as read from its `profile.yaml`."""

    name: str
    folder: Path
    description: str = ""
    prepare: str | None = None

    @property
    def path(self) -> Path:
        return self.folder / PROFILE_FILE

    def preparation(self) -> Preparation:
        """The `prepare` hook, imported now; without one, a hook that does nothing."""
        if self.prepare is None:
            return lambda settings: nullcontext()
        return load_hook(self.prepare, where=f"{self.path}: prepare")


def profiles_dir(settings: Settings) -> Path:
    return settings.project_dir / "profiles"


def known_profiles(settings: Settings) -> list[str]:
    folder = profiles_dir(settings)
    if not folder.is_dir():
        return []
    return sorted(p.parent.name for p in folder.glob(f"*/{PROFILE_FILE}"))


def profile_folder(selection: str, settings: Settings) -> Path:
    """The folder a selection names: a profile name under `profiles/`, or a path."""
    if "/" in selection or selection.startswith("."):
        return Path(selection).expanduser().resolve()
    return profiles_dir(settings) / selection


def load_profile(selection: str | None = None, settings: Settings | None = None) -> Profile:
    """Read and check the profile `selection` names (default: `settings.profile`)."""
    settings = settings or get_settings()
    selection = selection or settings.profile
    folder = profile_folder(selection, settings)
    path = folder / PROFILE_FILE
    if not path.is_file():
        known = ", ".join(known_profiles(settings)) or "none"
        raise ProfileError(
            f"profile {selection!r}: no {path} (OBSERVATORIO_PROFILE; known profiles: {known})"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problem = str(exc).replace("\n", " ")
        raise ProfileError(f"{path}: not valid YAML: {problem}") from exc
    return _profile(data, folder, path)


def _profile(data: Any, folder: Path, path: Path) -> Profile:
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping with keys {', '.join(KNOWN_KEYS)}")
    unknown = sorted(str(key) for key in data if key not in KNOWN_KEYS)
    if unknown:
        raise ProfileError(
            f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KNOWN_KEYS)}"
        )
    name = _text(data, "name", path, required=True)
    if name != folder.name:
        raise ProfileError(f"{path}: name {name!r} differs from its folder {folder.name!r}")
    prepare = _text(data, "prepare", path) or None
    if prepare is not None and not _HOOK.match(prepare):
        raise ProfileError(f"{path}: prepare {prepare!r} is not of the form module.path:function")
    return Profile(
        name=name,
        folder=folder,
        description=_text(data, "description", path),
        prepare=prepare,
    )


def _text(data: dict[Any, Any], key: str, path: Path, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise ProfileError(f"{path}: {key} is required")
        return ""
    if not isinstance(value, str):
        raise ProfileError(f"{path}: {key} must be text, got {type(value).__name__}")
    return value.strip()


def load_hook(dotted: str, *, where: str) -> Preparation:
    """Import `module:attribute` and return it; any failure is a one-line ProfileError."""
    module_name, _, attribute = dotted.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ProfileError(f"{where}: {dotted!r}: no module named {exc.name!r}") from exc
    except Exception as exc:
        raise ProfileError(f"{where}: {dotted!r}: importing {module_name} failed: {exc}") from exc
    hook = getattr(module, attribute, None)
    if hook is None:
        raise ProfileError(f"{where}: {dotted!r}: {module_name} has no {attribute!r}")
    if not callable(hook):
        raise ProfileError(f"{where}: {dotted!r} is not callable")
    return cast(Preparation, hook)
