"""The country profile: what is country-specific, as configuration rather than code.

`OBSERVATORIO_PROFILE` (default `demo`) selects a profile: a name under `profiles/` of the
project (`profiles/<name>/profile.yaml`) or the path of a folder holding a `profile.yaml`.
`load_profile()` reads and checks it; the main job (`observatorio run`) calls it before it
starts anything, so a profile that names an unknown contract, file or hook fails at start-up
with one line, never half-way through a run.

The format, one YAML mapping; every key but `name` is optional:

```yaml
name: colombia_fixture              # must match the folder's name
description: One line, for people
prepare: observatorio.orchestration.reference:prepare_fixture_profile  # around the DAGs
sources:                            # the active source contracts and when each is pulled
  - {contract: siedco__homicides, schedule: "@yearly"}
geography:                          # a reference table (see below) plus its levels
  levels: [country, department, municipality]
  country: {code: CO, name: Colombia}
  unknown_codes: quarantine         # the gate quarantines rows with codes not in it (the
                                    # default for a loaded geography; `resolve` for a seed)
  contract: dane__divipola          # the statistics office's published layout
  files:                            # editions, oldest first: a municipality's validity
    - {file: reference/divipola_2018.csv, valid_from: 2018-01-01}   # runs from the first
    - {file: reference/divipola_2021.csv, valid_from: 2021-01-01}   # edition it is in
aliases: {contract: observatorio__municipality_aliases, files: [reference/aliases.csv]}
population: {contract: dane__population_projections, files: [reference/proyecciones.csv]}
offence_codes: {seed: ref_national_offences}   # national offence code → ICCS
icd10_groups: {seed: ref_icd10_external_cause_groups}
recipients: [ministerio_defensa]    # extract specs: <profile>/extracts/<name>.yaml or extracts/
publication:                        # the country's publication rules, over the project's
  min_cell_size: 5                  # (dbt_project/indicators/_publication.yml, same keys)
  min_stable_numerator: 30
```

`publication` sets the country's own statistical rules (`observatorio.core.publication`):
any of `min_cell_size`, `min_stable_numerator`, `survey_cv_caution`, `survey_cv_suppress`,
`survey_min_base` and `decimals` (by unit). A key it leaves out keeps `_publication.yml`'s
value; an indicator whose definition sets `publication:` keeps its own. dbt reads them in
`OBSERVATORIO_REFERENCE` too (`reference_vars()`), so the marts, BI, extracts, the bulletin
and the survey estimates all publish by the same rules.

A **reference table** (`geography`, `aliases`, `population`, `offence_codes`,
`icd10_groups`) is either `{seed: <dbt seed>}` (the demo's hand-written tables under
`dbt_project/seeds/`) or `{contract: <name>, files: [...]}`: files in a statistical
office's published layout, loaded through that contract by the normal loader (the gate
included) into `raw.<contract>`. A file is a path relative to the profile's folder, or
`{file: ..., valid_from: YYYY-MM-DD}` when editions of the table follow each other. A
table the profile leaves out is the demo's seed, except `aliases` beside a geography of the
profile's own: then there are none. The dbt reference models
(`dbt_project/models/intermediate/reference/`) read whichever the profile says, through
`reference_vars()`, which `transform.dbt` hands dbt as the variable `OBSERVATORIO_REFERENCE`.

What other code asks a profile: `active_contracts()` and `schedule(contract)` (the sources
and when each runs), `reference_files()` (what `orchestration.reference.load_reference`
ingests before a run), `reference_table(name)`, `reference_vars()` (for dbt),
`unknown_municipality_codes` (for the gate's geography check, `expectations/geography.py`)
and `recipient_specs(extracts_dir)`.

`prepare` names a callable as `module:attribute`. It takes the `Settings` and returns a
context manager: entered before the DAGs run, exited after. The demo profile's generates the
simulated country, lands its exports and serves its source systems for the duration.
Without a hook the main job runs on whatever is already landed or connected, as a
deployment does.

Unknown keys are refused, so a typo never goes unnoticed. Contract names are checked against
the contracts the caller knows (`load_profile(known_contracts=...)`): this module imports
`core.settings` only, so the list comes from `ingestion.contract` through the caller. The
hook's module is imported by name, never statically, so the product never depends on the demo.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

import yaml

from observatorio.core.publication import PublicationError, check_publication
from observatorio.core.settings import Settings, get_settings

PROFILE_FILE = "profile.yaml"
# The reference tables a profile may give, each with the demo's seed used when it does not.
REFERENCE_TABLES: dict[str, str] = {
    "geography": "ref_municipalities",
    "aliases": "ref_municipality_aliases",
    "population": "ref_population",
    "offence_codes": "ref_national_offences",
    "icd10_groups": "ref_icd10_external_cause_groups",
}
KNOWN_KEYS = (
    "name",
    "description",
    "prepare",
    "sources",
    "recipients",
    "publication",
    *REFERENCE_TABLES,
)
GEOGRAPHY_KEYS = ("seed", "contract", "files", "levels", "country", "unknown_codes")
UNKNOWN_CODES = ("quarantine", "resolve")
DEFAULT_LEVELS = ("country", "department", "municipality")
_HOOK = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_NAME = re.compile(r"^[A-Za-z0-9_]+$")

Preparation = Callable[[Settings], AbstractContextManager[object]]


class ProfileError(ValueError):
    """A profile that cannot be used; the message is one line naming the file and the key."""


@dataclass(frozen=True)
class Source:
    """An active source: a contract by name and the cron or preset it is pulled on."""

    contract: str
    schedule: str | None = None


@dataclass(frozen=True)
class ReferenceFile:
    """One file of a reference table: an edition valid from `valid_from` when given."""

    table: str
    contract: str
    path: Path
    valid_from: date | None = None


@dataclass(frozen=True)
class ReferenceTable:
    """Where a reference table comes from: a dbt seed, or files loaded through a contract."""

    table: str
    seed: str | None = None
    contract: str | None = None
    files: tuple[ReferenceFile, ...] = ()
    # The seed's columns with none of its rows (a country without that table).
    empty: bool = False

    def as_var(self) -> dict[str, Any]:
        if self.seed is not None:
            return {"seed": self.seed, "empty": True} if self.empty else {"seed": self.seed}
        return {
            "contract": self.contract,
            "editions": [
                {
                    "file": f.path.name,
                    "valid_from": f.valid_from.isoformat() if f.valid_from else None,
                }
                for f in self.files
            ],
        }


@dataclass(frozen=True)
class Geography:
    """The administrative levels, top down, and the country at the top."""

    levels: tuple[str, ...] = DEFAULT_LEVELS
    country_code: str = ""
    country_name: str = ""
    # What the gate does with a municipality code the geography lacks (None: the default).
    unknown_codes: str | None = None


@dataclass(frozen=True)
class Profile:
    """A country profile, as read from its `profile.yaml`."""

    name: str
    folder: Path
    description: str = ""
    prepare: str | None = None
    sources: tuple[Source, ...] = ()
    reference: dict[str, ReferenceTable] = field(default_factory=dict)
    geography: Geography = Geography()
    recipients: tuple[str, ...] = ()
    # The country's publication rules (only the keys its profile sets).
    publication: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / PROFILE_FILE

    def preparation(self) -> Preparation:
        """The `prepare` hook, imported now; without one, a hook that does nothing."""
        if self.prepare is None:
            return lambda settings: nullcontext()
        return load_hook(self.prepare, where=f"{self.path}: prepare")

    def active_contracts(self) -> list[str]:
        """The contracts of the profile's active sources, in the profile's order."""
        return [s.contract for s in self.sources]

    def schedule(self, contract: str) -> str | None:
        """The schedule the profile gives a source contract (None: not active, or on demand)."""
        return next((s.schedule for s in self.sources if s.contract == contract), None)

    def reference_table(self, table: str) -> ReferenceTable:
        """Where `table` (a key of REFERENCE_TABLES) comes from; the demo's seed by default,
        except the spellings of municipalities of a country with a geography of its own: the
        demo's name its municipalities, so such a country without any has none."""
        given = self.reference.get(table)
        if given is not None:
            return given
        own_geography = table == "aliases" and self.reference.get("geography") is not None
        return ReferenceTable(table, seed=REFERENCE_TABLES[table], empty=own_geography)

    @property
    def unknown_municipality_codes(self) -> str:
        """`quarantine` (the gate moves rows with codes the geography lacks to quarantine,
        the default for a geography loaded through a contract) or `resolve` (dbt resolves
        them to a name or the unknown member, the default for a seed geography)."""
        if self.geography.unknown_codes is not None:
            return self.geography.unknown_codes
        return "resolve" if self.reference_table("geography").seed else "quarantine"

    def reference_files(self) -> list[ReferenceFile]:
        """Every reference file to load through its contract, tables in dependency order."""
        return [f for t in REFERENCE_TABLES for f in self.reference_table(t).files]

    def reference_contracts(self) -> list[str]:
        return sorted({f.contract for f in self.reference_files()})

    def reference_vars(self) -> dict[str, Any]:
        """What the dbt reference models read: per table, its seed or its contract and
        editions; the geography's levels and country."""
        return {
            "profile": self.name,
            "country_code": self.geography.country_code,
            "country_name": self.geography.country_name,
            "levels": list(self.geography.levels),
            **{t: self.reference_table(t).as_var() for t in REFERENCE_TABLES},
            "publication": dict(self.publication),
        }

    def recipient_specs(self, project_extracts: Path) -> list[Path]:
        """The extract specs of the profile's recipients: `<profile>/extracts/<name>.yaml`,
        else `<project_extracts>/<name>.yaml`."""
        found = []
        for name in self.recipients:
            for folder in (self.folder / "extracts", project_extracts):
                if (folder / f"{name}.yaml").is_file():
                    found.append(folder / f"{name}.yaml")
                    break
            else:
                known = sorted(
                    {
                        p.stem
                        for d in (self.folder / "extracts", project_extracts)
                        for p in d.glob("*.yaml")
                    }
                )
                raise ProfileError(
                    f"{self.path}: recipients: no extract spec {name!r}"
                    f" (known: {', '.join(known) or 'none'})"
                )
        return found


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


def load_profile(
    selection: str | None = None,
    settings: Settings | None = None,
    known_contracts: Iterable[str] | None = None,
) -> Profile:
    """Read and check the profile `selection` names (default: `settings.profile`).

    With `known_contracts`, every contract the profile names must be one of them.
    """
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
    profile = _profile(data, folder, path)
    if known_contracts is not None:
        check_contracts(profile, known_contracts)
    if profile.recipients:
        profile.recipient_specs(settings.project_dir / "extracts")
    return profile


def check_contracts(profile: Profile, known_contracts: Iterable[str]) -> None:
    """Every contract the profile names exists; else one line listing the known ones."""
    known = sorted(set(known_contracts))
    named = [(f"sources[{i}]", s.contract) for i, s in enumerate(profile.sources)]
    named += [
        (table, ref.contract)
        for table, ref in profile.reference.items()
        if ref.contract is not None
    ]
    for where, contract in named:
        if contract not in known:
            raise ProfileError(
                f"{profile.path}: {where}: no contract named {contract!r}"
                f" (known: {', '.join(known) or 'none'})"
            )


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
    reference = {
        table: _reference(table, data[table], folder, path)
        for table in REFERENCE_TABLES
        if data.get(table) is not None
    }
    return Profile(
        name=name,
        folder=folder,
        description=_text(data, "description", path),
        prepare=prepare,
        sources=_sources(data.get("sources"), path),
        reference=reference,
        geography=_geography(data.get("geography"), path),
        recipients=tuple(_names(data.get("recipients"), "recipients", path)),
        publication=_publication(data.get("publication"), path),
    )


def _publication(raw: Any, path: Path) -> dict[str, Any]:
    try:
        return check_publication(raw, f"{path}: publication")
    except PublicationError as error:
        raise ProfileError(str(error)) from None


def _text(data: dict[Any, Any], key: str, path: Path, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None:
        if required:
            raise ProfileError(f"{path}: {key} is required")
        return ""
    if not isinstance(value, str):
        raise ProfileError(f"{path}: {key} must be text, got {type(value).__name__}")
    return value.strip()


def _names(raw: Any, key: str, path: Path) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(n, str) and _NAME.match(n) for n in raw):
        raise ProfileError(f"{path}: {key} must be a list of names (letters, digits, _)")
    return list(raw)


def _sources(raw: Any, path: Path) -> tuple[Source, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProfileError(f"{path}: sources must be a list of {{contract, schedule}}")
    sources = []
    for i, item in enumerate(raw):
        where = f"{path}: sources[{i}]"
        if isinstance(item, str):
            item = {"contract": item}
        if not isinstance(item, dict) or set(item) - {"contract", "schedule"}:
            raise ProfileError(f"{where}: expected {{contract: <name>, schedule: <cron>}}")
        contract, schedule = item.get("contract"), item.get("schedule")
        if not isinstance(contract, str) or not _NAME.match(contract):
            raise ProfileError(f"{where}: contract must be a contract name")
        if schedule is not None and not isinstance(schedule, str):
            raise ProfileError(f"{where}: schedule must be text (a cron or @preset)")
        sources.append(Source(contract, schedule))
    names = [s.contract for s in sources]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ProfileError(f"{path}: sources: {', '.join(duplicated)} listed twice")
    return tuple(sources)


def _geography(raw: Any, path: Path) -> Geography:
    if raw is None:
        return Geography()
    levels = raw.get("levels", list(DEFAULT_LEVELS))
    if (
        not isinstance(levels, list)
        or len(levels) < 2
        or not all(isinstance(level, str) for level in levels)
    ):
        raise ProfileError(f"{path}: geography: levels must list at least two level names")
    if levels[-1] != "municipality":
        raise ProfileError(f"{path}: geography: the last level must be municipality")
    country = raw.get("country") or {}
    if not isinstance(country, dict) or set(country) - {"code", "name"}:
        raise ProfileError(f"{path}: geography: country must be {{code: .., name: ..}}")
    unknown_codes = raw.get("unknown_codes")
    if unknown_codes is not None and unknown_codes not in UNKNOWN_CODES:
        raise ProfileError(
            f"{path}: geography: unknown_codes must be one of {', '.join(UNKNOWN_CODES)}"
        )
    return Geography(
        levels=tuple(levels),
        country_code=str(country.get("code", "")),
        country_name=str(country.get("name", "")),
        unknown_codes=unknown_codes,
    )


def _reference(table: str, raw: Any, folder: Path, path: Path) -> ReferenceTable:
    where = f"{path}: {table}"
    allowed = GEOGRAPHY_KEYS if table == "geography" else ("seed", "contract", "files")
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: expected {{seed: <name>}} or {{contract: .., files: [..]}}")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(unknown)}")
    seed, contract = raw.get("seed"), raw.get("contract")
    if (seed is None) == (contract is None):
        raise ProfileError(f"{where}: give either seed or contract (with files)")
    if seed is not None:
        if not isinstance(seed, str) or not _NAME.match(seed) or raw.get("files"):
            raise ProfileError(f"{where}: seed must be a dbt seed's name, without files")
        return ReferenceTable(table, seed=seed)
    if not isinstance(contract, str) or not _NAME.match(contract):
        raise ProfileError(f"{where}: contract must be a contract name")
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        raise ProfileError(f"{where}: files must list at least one file")
    loaded = tuple(
        _reference_file(table, contract, f, folder, f"{where}: files[{i}]")
        for i, f in enumerate(files)
    )
    dated = [f.valid_from for f in loaded]
    if len(loaded) > 1 and (None in dated or dated != sorted(set(dated))):  # type: ignore[type-var]
        raise ProfileError(
            f"{where}: several files are editions: each needs a valid_from, oldest first"
        )
    names = [f.path.name for f in loaded]
    if len(set(names)) != len(names):
        raise ProfileError(f"{where}: two files share a name; editions are told apart by it")
    return ReferenceTable(table, contract=contract, files=loaded)


def _reference_file(table: str, contract: str, raw: Any, folder: Path, where: str) -> ReferenceFile:
    if isinstance(raw, str):
        raw = {"file": raw}
    if not isinstance(raw, dict) or set(raw) - {"file", "valid_from"} or "file" not in raw:
        raise ProfileError(f"{where}: expected a path or {{file: .., valid_from: YYYY-MM-DD}}")
    file_path = (folder / str(raw["file"])).resolve()
    if not file_path.is_file():
        raise ProfileError(f"{where}: no file {file_path}")
    valid_from = raw.get("valid_from")
    if isinstance(valid_from, str):
        try:
            valid_from = date.fromisoformat(valid_from)
        except ValueError:
            valid_from = "bad"
    if valid_from is not None and not isinstance(valid_from, date):
        raise ProfileError(f"{where}: valid_from must be a date YYYY-MM-DD")
    return ReferenceFile(table, contract, file_path, valid_from)


def reference_variable(profile: Profile) -> str:
    """The JSON dbt reads as `env_var('OBSERVATORIO_REFERENCE')` (see `reference_vars`)."""
    return json.dumps(profile.reference_vars(), sort_keys=True)


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
