"""The facts indicators count, as `_facts.yml` declares them (see its header), and the error
every definition check raises; `observatorio.indicators.definitions` reads the indicators
over them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The breakdowns a cell may have besides `all` (the mart's `sex` and `age_group` columns),
# each recorded by a fact interface's column (`_facts.yml`: `sex`; `age` in completed years
# or `age_group` already in the profile's population groups).
DISAGGREGATIONS = ("sex", "age_group")


class DefinitionError(ValueError):
    """An indicator definition that is incomplete or contradicts itself."""


@dataclass(frozen=True)
class Interface:
    """A fact the numerators count, in one shape (see `_facts.yml`)."""

    name: str
    model: str
    key: str | None = None
    counted_by: str | None = None
    month_of: str | None = None
    year_of: str | None = None
    rows: str | None = None
    # The columns that give a row's breakdowns, when the fact records them.
    sex: str | None = None
    age: str | None = None
    age_group: str | None = None
    # For an incremental build (macros/indicators/indicator_changes.sql): the model holding
    # every version of a plain fact's rows, by batch (a unit changes when any version comes),
    # and, for a derived fact, which of its rows (`fact_model`) change only with a unit of
    # another interface (`interface`, the same counted id); its other rows every build.
    versions: str | None = None
    units_of: Mapping[str, str] | None = None

    @property
    def disaggregations(self) -> tuple[str, ...]:
        """The breakdowns this fact's rows record (see DISAGGREGATIONS)."""
        recorded = {"sex": self.sex is not None, "age_group": bool(self.age or self.age_group)}
        return tuple(name for name in DISAGGREGATIONS if recorded[name])


@dataclass(frozen=True)
class FactTable:
    """A fact table's key and the columns `explain` shows of one of its rows."""

    name: str
    key: str
    shows: tuple[str, ...]


def read_interfaces(facts: dict[str, Any], path: Path) -> dict[str, Interface]:
    """The `interfaces` of `_facts.yml` (read from `path`), checked."""
    found: dict[str, Interface] = {}
    for name, raw in (facts.get("interfaces") or {}).items():
        interface = Interface(name=name, **raw)
        if interface.age and interface.age_group:
            raise DefinitionError(f"{path}: interface {name!r} names both age and age_group")
        if interface.key and not (interface.month_of or interface.year_of):
            raise DefinitionError(f"{path}: interface {name!r} has no month_of or year_of")
        found[name] = interface
    for name, interface in found.items():
        units = dict(interface.units_of or {})
        if not units:
            continue
        plain = found.get(str(units.get("interface")))
        if set(units) != {"interface", "fact_model"} or plain is None or not plain.month_of:
            raise DefinitionError(
                f"{path}: interface {name!r}: units_of needs `interface` (a fact with a key and"
                " a month_of) and `fact_model`"
            )
    return found
