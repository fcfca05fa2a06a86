"""The indicator definitions: one declarative record per indicator, read from YAML.

Every indicator is defined once, in `dbt_project/indicators/<family>.yml`: its code, names
(es/en), family, unit, kind, source, the numerator (which fact interface, which rows, which
weight; or another indicator's numerator), the denominator (a population of the spine,
rows of a fact, or another indicator's numerator), whether its cells are per source label of
the rows (`by_source`: a fact fed by a canonical interface, whose rows say which system
they come from), its ICCS/ICD-10 basis, its disaggregations (`sex`, `age_group`: by default
those every fact it counts records, `_facts.yml`; a definition may name fewer, as femicide,
female by definition, names only `age_group`) and publication rules (minimum cell size,
published decimals, the numerator below which a rate is unstable). `_facts.yml` holds the
fact interfaces the numerators name, the columns that give their rows' sex and age, and
what `explain` shows of each fact table; `_publication.yml` the publication defaults, over
which the active country profile may set its own (`observatorio.indicators.publication`;
`load_definitions(country=...)` for another's, `country={}` for the project's alone). A
family may list items (`crime_types`, `reporting_sources`) that a definition repeats over
with `for_each`, its text fields formatted with each item.

Everything else is generated from these files and only from them
(`observatorio.indicators.generate`): the dbt macro `indicator_definitions()` that
`fct_indicator_contributions` (row-level contributions) and `mart_indicators_monthly` (their
sum) are built from, and the `ref_indicators` seed. `observatorio.lineage` reads them to
recompute a cell (`explain --verify`). Adding an indicator the facts already support is a
definition here, not code.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from observatorio.core.publication import UNITS as UNITS  # the units, re-exported
from observatorio.core.publication import PublicationError, check_publication, merge
from observatorio.indicators.facts import DISAGGREGATIONS as DISAGGREGATIONS
from observatorio.indicators.facts import DefinitionError as DefinitionError
from observatorio.indicators.facts import FactTable as FactTable
from observatorio.indicators.facts import Interface as Interface
from observatorio.indicators.facts import read_interfaces
from observatorio.indicators.publication import country_publication

DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "indicators"

# How each kind computes its value from numerator and denominator (macros
# `indicator_value`, and `observatorio.lineage.recompute`).
KINDS = ("count", "per_100k", "share", "complement_share", "median", "gap", "coverage_share")
FORMULAS = {
    "count": "numerator",
    "gap": "numerator",
    "per_100k": "numerator \u00d7 100000 \u00f7 denominator",
    "share": "numerator ÷ denominator",
    "coverage_share": "numerator ÷ denominator",
    "complement_share": "1 \u2212 numerator \u00f7 denominator",
    "median": "median(days); value = the median, null when no case was measured",
}
SPINE_POPULATIONS = ("population", "female_population")
# Kinds whose cells do not split into parts that add up: a median is not a sum, and reporting
# gaps and coverage count a source's months, which have no sex or age.
UNSPLIT_KINDS = ("median", "gap", "coverage_share")


@dataclass(frozen=True)
class Part:
    """A numerator or denominator.

    Rows of a fact interface (`fact`, `where`, `weight`, `distinct` ids, or `measure` for
    medians), a population of the spine (`population`), or a reporting source's record
    counts (`reporting_source`, or `all`).
    """

    text: str = ""
    fact: str | None = None
    where: str | None = None
    weight: str | None = None
    distinct: bool = False
    measure: str | None = None
    population: str | None = None
    reporting_source: str | None = None

    @property
    def counts_rows(self) -> bool:
        return self.fact is not None


@dataclass(frozen=True)
class Publication:
    """What a published cell must respect: the smallest count shown, the decimals, and the
    numerator below which a rate is flagged unstable (NCHS: 20; a country's setting)."""

    min_cell_size: int
    decimals: int
    min_stable_numerator: int = 20


@dataclass(frozen=True)
class Indicator:
    """One indicator, as its definition states it (references resolved)."""

    code: str
    name_en: str
    name_es: str
    family: str
    unit: str
    kind: str
    source: str
    numerator: Part
    denominator: Part | None
    publication: Publication
    formula: str
    basis: str = ""
    precision: int = 6
    # The breakdowns its cells are published by besides `all` (`sex`, `age_group`): those
    # every fact it counts records, unless the definition names fewer.
    disaggregations: tuple[str, ...] = ()
    # `by_source: true`: one cell per source label of the rows counted (the fact's
    # `source_system`, e.g. `health:sim`, `police:sesnsp`) instead of one under `source`.
    by_source: bool = False
    # The publication rules its definition (or its family's `publication_defaults`) sets
    # itself, which win over the country's (`observatorio.indicators.publication`).
    own_publication: tuple[tuple[str, int], ...] = ()

    @property
    def has_poisson_interval(self) -> bool:
        """A rate of counted events over a population: it gets an exact Poisson interval and
        the unstable flag (survey rates have design-based errors instead)."""
        return (
            self.kind == "per_100k"
            and self.denominator is not None
            and self.denominator.population is not None
        )

    @property
    def lists_denominator(self) -> bool:
        """Whether the denominator is a sum over the cell's rows (not a population, not none)."""
        if self.kind in {"median", "coverage_share"}:
            return True
        return self.denominator is not None and self.denominator.counts_rows


@dataclass(frozen=True)
class Window:
    """When a source usually reports to a municipality (reporting gaps and coverage)."""

    months: int
    usual_months: int
    usual_records_a_month: int

    @property
    def usual_records(self) -> int:
        return self.months * self.usual_records_a_month


@dataclass(frozen=True)
class ReportingSource:
    """A source whose monthly records the coverage indicators count, by its own date."""

    source: str
    system: str
    model: str
    date: str


@dataclass(frozen=True)
class Definitions:
    """Every indicator, in file order, with the facts and sources they name."""

    indicators: tuple[Indicator, ...]
    interfaces: Mapping[str, Interface]
    fact_tables: Mapping[str, FactTable]
    window: Window | None
    reporting_sources: tuple[ReportingSource, ...] = field(default=())
    # The defaults the indicators were resolved with: `_publication.yml`'s, merged with the
    # country's (`load_definitions(country=...)`).
    publication: Mapping[str, Any] = field(default_factory=dict)

    @property
    def codes(self) -> list[str]:
        return [indicator.code for indicator in self.indicators]

    def get(self, code: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.code == code:
                return indicator
        raise DefinitionError(f"no indicator {code!r} in {DEFINITIONS_DIR}")

    def input_models(self, code: str) -> list[str]:
        """The dbt models whose rows the indicator's contributions come from."""
        indicator = self.get(code)
        models: list[str] = []
        for part in (indicator.numerator, indicator.denominator):
            if part is None:
                continue
            if part.fact is not None:
                models.append(self.interfaces[part.fact].model)
            if part.reporting_source is not None:
                models += [
                    s.model
                    for s in self.reporting_sources
                    if part.reporting_source in {"all", s.source}
                ]
        return sorted(set(models))

    def to_dbt(self) -> dict[str, Any]:
        """The definitions as the dbt macros read them (`indicator_definitions()`)."""

        def part(found: Part | None) -> dict[str, Any] | None:
            if found is None:
                return None
            return {
                "fact": found.fact,
                "where": found.where,
                "weight": found.weight,
                "distinct": found.distinct,
                "measure": found.measure,
                "population": found.population,
                "reporting_source": found.reporting_source,
            }

        return {
            "indicators": [
                {
                    "code": i.code,
                    "kind": i.kind,
                    "unit": i.unit,
                    "source": i.source,
                    "by_source": i.by_source,
                    "precision": i.precision,
                    "lists_denominator": i.lists_denominator,
                    "poisson_interval": i.has_poisson_interval,
                    # Only the definition's own rules: macro resolve_publication merges
                    # them over the country's defaults (`publication` below).
                    "publication": dict(i.own_publication),
                    "disaggregations": list(i.disaggregations),
                    "numerator": part(i.numerator),
                    "denominator": part(i.denominator),
                }
                for i in self.indicators
            ],
            "interfaces": {
                name: {
                    "model": f.model,
                    "key": f.key,
                    "counted_by": f.counted_by,
                    "month_of": f.month_of,
                    "year_of": f.year_of,
                    "rows": f.rows,
                    "sex": f.sex,
                    "age": f.age,
                    "age_group": f.age_group,
                    "versions": f.versions,
                    "units_of": dict(f.units_of) if f.units_of else None,
                }
                for name, f in sorted(self.interfaces.items())
            },
            "window": None
            if self.window is None
            else {
                "months": self.window.months,
                "usual_months": self.window.usual_months,
                "usual_records": self.window.usual_records,
            },
            "reporting_sources": [
                {"source": s.source, "system": s.system, "model": s.model, "date": s.date}
                for s in self.reporting_sources
            ],
            "publication": dict(self.publication),
        }


def _read(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise DefinitionError(f"{path}: expected a mapping at the top")
    return loaded


def _format(value: Any, item: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, str):
        try:
            return value.format_map(item)
        except KeyError as missing:
            field_name = missing.args[0]
            raise DefinitionError(f"{where}: {{{field_name}}} is not a field of the item") from None
    if isinstance(value, dict):
        return {k: _format(v, item, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_format(v, item, where) for v in value]
    return value


def _expand(family: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """The family's definitions, each `for_each` one repeated over its list's items."""
    expanded: list[dict[str, Any]] = []
    for position, raw in enumerate(family.get("indicators") or []):
        if not isinstance(raw, dict):
            raise DefinitionError(f"{path}: indicator {position + 1} is not a mapping")
        over = raw.get("for_each")
        if over is None:
            expanded.append(raw)
            continue
        items = family.get(over)
        if not isinstance(items, list) or not items:
            raise DefinitionError(f"{path}: for_each {over!r} names no list of the family")
        body = {k: v for k, v in raw.items() if k != "for_each"}
        where = f"{path}: {raw.get('code')!r}"
        expanded += [_format(body, item, where) for item in items]
    return expanded


def _part(raw: Any, where: str) -> Part | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise DefinitionError(f"{where}: expected a mapping")
    known = set(Part.__dataclass_fields__) | {"indicator"}
    unknown = set(raw) - known
    if unknown:
        raise DefinitionError(f"{where}: unknown keys {sorted(unknown)}")
    where_sql = raw.get("where")
    return Part(
        text=str(raw.get("text") or ""),
        fact=raw.get("fact"),
        where=None if where_sql is None else str(where_sql),
        weight=raw.get("weight"),
        distinct=bool(raw.get("distinct", False)),
        measure=raw.get("measure"),
        population=raw.get("population"),
        reporting_source=raw.get("reporting_source"),
    )


def _resolve(
    raw: dict[str, Any],
    family: dict[str, Any],
    path: Path,
    numerators: dict[str, Part],
    defaults: Mapping[str, Any],
) -> Indicator:
    code = raw.get("code")
    where = f"{path}: indicator {code!r}"
    if not isinstance(code, str) or not code:
        raise DefinitionError(f"{path}: an indicator has no code")
    for key in ("name", "unit", "kind", "numerator"):
        if key not in raw:
            raise DefinitionError(f"{where}: no {key}")
    kind, unit = raw["kind"], raw["unit"]
    if kind not in KINDS:
        raise DefinitionError(f"{where}: kind {kind!r} is not one of {KINDS}")
    if unit not in UNITS:
        raise DefinitionError(f"{where}: unit {unit!r} is not one of {UNITS}")

    def referenced(part_raw: Any, role: str) -> Part | None:
        if isinstance(part_raw, dict) and "indicator" in part_raw:
            other = part_raw["indicator"]
            if other not in numerators:
                raise DefinitionError(f"{where}: {role} names {other!r}, not defined before it")
            return replace(numerators[other], text=str(part_raw.get("text") or other))
        return _part(part_raw, f"{where} {role}")

    numerator = referenced(raw["numerator"], "numerator")
    denominator = referenced(raw.get("denominator"), "denominator")
    assert numerator is not None
    if denominator is not None and denominator.fact is None and denominator.where is not None:
        denominator = replace(denominator, fact=numerator.fact, distinct=False)
    _check(kind, numerator, denominator, where)
    own = _own_publication(family, raw, unit, where)
    publication = merge(defaults, own)
    decimals = publication.get("decimals", {})
    names = raw["name"]
    return Indicator(
        code=code,
        name_en=str(names["en"]),
        name_es=str(names["es"]),
        family=str(family["family"]),
        unit=unit,
        kind=kind,
        source=str(raw.get("source") or family.get("source") or ""),
        numerator=numerator,
        denominator=denominator,
        publication=Publication(
            min_cell_size=int(publication.get("min_cell_size", 0)),
            decimals=int(decimals.get(unit, 0) if isinstance(decimals, dict) else decimals),
            min_stable_numerator=int(publication.get("min_stable_numerator", 20)),
        ),
        own_publication=tuple(sorted(_flat(own, unit).items())),
        formula=str(raw.get("formula") or FORMULAS[kind]),
        basis=str(raw.get("basis") or ""),
        precision=int(raw.get("precision", 6)),
        disaggregations=_disaggregations(raw.get("disaggregations"), where),
        by_source=bool(raw.get("by_source", False)),
    )


def _own_publication(
    family: dict[str, Any], raw: dict[str, Any], unit: str, where: str
) -> dict[str, Any]:
    """The rules a definition sets itself (its family's `publication_defaults`, then its own
    `publication`), checked; `decimals: N` is N for the indicator's unit."""
    layers = []
    for key in ("publication_defaults", "publication"):
        given = (family if key == "publication_defaults" else raw).get(key)
        if isinstance(given, dict) and isinstance(given.get("decimals"), int):
            given = {**given, "decimals": {unit: given["decimals"]}}
        try:
            layers.append(check_publication(given, f"{where}: {key}"))
        except PublicationError as error:
            raise DefinitionError(str(error)) from None
    return merge(*layers)


def _flat(rules: Mapping[str, Any], unit: str) -> dict[str, int]:
    """An indicator's own rules as the dbt macros take them: its unit's decimals only."""
    flat = {k: v for k, v in rules.items() if k in ("min_cell_size", "min_stable_numerator")}
    if unit in (rules.get("decimals") or {}):
        flat["decimals"] = rules["decimals"][unit]
    return flat


def _disaggregations(raw: Any, where: str) -> tuple[str, ...]:
    """The breakdowns a definition names (None: inherited from its facts, see _inherit)."""
    if raw is None:
        return tuple(DISAGGREGATIONS)
    if not isinstance(raw, list) or not set(raw) <= set(DISAGGREGATIONS):
        raise DefinitionError(f"{where}: disaggregations must be a list of {DISAGGREGATIONS}")
    return tuple(name for name in DISAGGREGATIONS if name in raw)


def _inherit(indicator: Indicator, named: bool, interfaces: Mapping[str, Interface]) -> Indicator:
    """The indicator with the breakdowns its cells can have: those every fact it counts rows
    of records, and only those its definition names if it names some. None for a kind that
    does not add up (UNSPLIT_KINDS) or a count of distinct ids (a report with a woman and a
    man among its victims would count once in each part and once in `all`)."""
    parts = [p for p in (indicator.numerator, indicator.denominator) if p is not None]
    facts = [p.fact for p in parts if p.fact is not None]
    if indicator.kind in UNSPLIT_KINDS or not facts or any(p.distinct for p in parts):
        recorded: set[str] = set()
    else:
        recorded = set.intersection(
            *(set(interfaces[f].disaggregations) if f in interfaces else set() for f in facts)
        )
    if named and not set(indicator.disaggregations) <= recorded:
        missing = sorted(set(indicator.disaggregations) - recorded)
        raise DefinitionError(
            f"indicator {indicator.code!r}: disaggregations {missing} are not recorded by"
            f" every fact it counts ({sorted(set(facts))}), or its kind does not add up"
        )
    kept = tuple(name for name in indicator.disaggregations if name in recorded)
    return replace(indicator, disaggregations=kept)


def _check(kind: str, numerator: Part, denominator: Part | None, where: str) -> None:
    if kind in {"gap", "coverage_share"}:
        if numerator.reporting_source is None:
            raise DefinitionError(f"{where}: a {kind} counts a reporting_source")
        return
    if numerator.fact is None:
        raise DefinitionError(f"{where}: the numerator names no fact")
    if kind == "median" and numerator.measure is None:
        raise DefinitionError(f"{where}: a median needs the numerator's measure")
    rated = kind in {"per_100k", "share", "complement_share"}
    if rated and (denominator is None or not (denominator.population or denominator.fact)):
        raise DefinitionError(f"{where}: a {kind} needs a population or rows as denominator")
    if denominator is None:
        return
    if denominator.population is not None and denominator.population not in SPINE_POPULATIONS:
        raise DefinitionError(
            f"{where}: population {denominator.population!r} is not one of {SPINE_POPULATIONS}"
        )
    shares_rows = denominator.fact == numerator.fact
    if shares_rows and (numerator.distinct or denominator.distinct):
        raise DefinitionError(f"{where}: a distinct count cannot share its rows with a denominator")


def _check_names(
    indicators: list[Indicator], interfaces: dict[str, Interface], sources: list[ReportingSource]
) -> None:
    known_sources = {None, "all"} | {s.source for s in sources}
    for indicator in indicators:
        for part in (indicator.numerator, indicator.denominator):
            if part is None:
                continue
            if part.fact is not None and part.fact not in interfaces:
                raise DefinitionError(
                    f"indicator {indicator.code!r}: fact {part.fact!r} is not in _facts.yml"
                )
            if part.reporting_source not in known_sources:
                raise DefinitionError(
                    f"indicator {indicator.code!r}: no reporting source {part.reporting_source!r}"
                )


def load_definitions(
    directory: Path = DEFINITIONS_DIR, country: Mapping[str, Any] | None = None
) -> Definitions:
    """Every indicator definition of `directory`, templates expanded, references resolved,
    with the publication rules of `country` (a profile's `publication:`; by default the
    active profile's, `{}` for the project's own, as the generated files have them)."""
    chosen = country_publication() if country is None else country
    return _load_definitions(directory, json.dumps(dict(chosen), sort_keys=True))


@functools.cache
def _load_definitions(directory: Path, country: str) -> Definitions:
    facts = _read(directory / "_facts.yml")
    publication = _read(directory / "_publication.yml")
    defaults = merge(_project_publication(directory, publication), json.loads(country))
    interfaces = read_interfaces(facts, directory / "_facts.yml")
    fact_tables = {
        name: FactTable(name=name, key=raw["key"], shows=tuple(raw["shows"]))
        for name, raw in (facts.get("fact_tables") or {}).items()
    }
    order = publication.get("families") or []
    paths = sorted(
        (p for p in directory.glob("*.yml") if not p.name.startswith("_")),
        key=lambda p: (order.index(p.stem) if p.stem in order else len(order), p.stem),
    )
    indicators: list[Indicator] = []
    numerators: dict[str, Part] = {}
    window: Window | None = None
    sources: list[ReportingSource] = []
    for path in paths:
        family = _read(path)
        if family.get("family") != path.stem:
            raise DefinitionError(f"{path}: family {family.get('family')!r} is not the file's name")
        if "window" in family:
            window = Window(**family["window"])
        for raw_source in family.get("reporting_sources") or []:
            sources.append(
                ReportingSource(
                    source=raw_source["source"],
                    system=raw_source["system"],
                    model=raw_source["model"],
                    date=raw_source["date"],
                )
            )
        for raw in _expand(family, path):
            indicator = _resolve(raw, family, path, numerators, defaults)
            indicator = _inherit(indicator, "disaggregations" in raw, interfaces)
            if indicator.code in numerators:
                raise DefinitionError(f"{path}: indicator {indicator.code!r} is defined twice")
            numerators[indicator.code] = indicator.numerator
            indicators.append(indicator)
    _check_names(indicators, interfaces, sources)
    return Definitions(
        indicators=tuple(indicators),
        interfaces=interfaces,
        fact_tables=fact_tables,
        window=window,
        reporting_sources=tuple(sources),
        publication=defaults,
    )


def _project_publication(directory: Path, publication: dict[str, Any]) -> dict[str, Any]:
    try:
        return check_publication(
            publication.get("defaults"), f"{directory / '_publication.yml'}: defaults"
        )
    except PublicationError as error:
        raise DefinitionError(str(error)) from None


def publication_defaults(
    directory: Path = DEFINITIONS_DIR, country: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The publication rules every definition starts from (minimum cell size, decimals by
    unit, the survey's thresholds, ...): `_publication.yml`'s merged with the country's (by
    default the active profile's). What a table that is no single indicator is published by."""
    return dict(load_definitions(directory, country).publication)
