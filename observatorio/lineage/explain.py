"""Explain: from a published indicator cell back to the source rows, batches and files.

`explain()` expands one cell of `marts.mart_indicators_monthly` into the fact rows counted
in its numerator (`marts.fct_indicator_contributions`), the ingestion batches and files
those rows came from with their checksums (`ops.batch_ledger`), the validation results
of those batches (`ops.validation_results`) and the dbt models in between (the manifest's
`parent_map`). `verify_random()` recomputes random cells from exactly those rows, each
indicator by its kind (`indicator_kind`): sums of weights for counts, rates and shares, the
median of the days measured, weighted survey shares, reporting gaps from the records a month
of the window (`recompute`).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from typing import Any

import psycopg
from psycopg.rows import dict_row

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect

log = logging.getLogger(__name__)

MART = "mart_indicators_monthly"
SIX_PLACES = Decimal("0.000001")
ONE_PLACE = Decimal("0.1")
# int_indicators__coverage: a source usually reports to a municipality when, in the 6 months
# before, it had records in at least 4 and at least 5 a month on average.
USUAL_MONTHS = 4
USUAL_RECORDS = 5 * 6

# Indicators whose numerator is not (only) a sum of weights over a denominator from elsewhere:
# code prefix -> kind. Every other indicator takes its kind from its formula (`formula_kind`).
INDICATOR_KINDS: dict[str, str] = {
    "justice_conviction_share": "listed_share",
    "justice_median_days_": "median",
    "dark_figure__": "listed_complement_share",
    "adjusted_incidence_rate__": "listed_per_100k",
    "reporting_gap__": "gap",
    "reporting_coverage_share": "coverage_share",
}

# Per fact model: its key and the columns explain shows. Only pseudonyms and coded,
# non-identifying attributes: no free text, and raw identifiers never reach the warehouse.
FACT_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fct_crime_reports": (
        "report_victim_id",
        (
            "report_id",
            "incident_date",
            "iccs_code",
            "victim_sex",
            "victim_age",
            "victim_id_pseudonym",
            "victim_offender_relationship",
        ),
    ),
    "fct_violent_deaths": (
        "forensic_record_id",
        ("death_date", "icd10_cause_code", "intent", "sex", "age", "person_id_pseudonym"),
    ),
    "fct_detentions": (
        "detention_id",
        ("detention_date", "iccs_code", "legal_basis", "detainee_sex", "detainee_id_pseudonym"),
    ),
    "fct_police_complaints": (
        "complaint_id",
        ("registered_date", "complaint_type", "complaint_status", "has_detention"),
    ),
    "fct_use_of_force": (
        "incident_id",
        ("incident_date", "force_type", "persons_injured", "persons_killed"),
    ),
    "fct_homicide_victims": (
        "victim_id",
        ("final_status", "event_date", "systems", "record_count", "id_pseudonym"),
    ),
    "fct_prosecution_cases": (
        "case_id",
        (
            "police_report_number",
            "opened_date",
            "iccs_code",
            "prosecutor_decision",
            "is_indicted",
            "court_filed_date",
            "decision_date",
        ),
    ),
    "fct_court_judgements": (
        "judgement_id",
        ("case_id", "judgement_date", "verdict", "judgement_status", "defendant_sex"),
    ),
    "fct_survey_victimisation": (
        "respondent_crime_id",
        (
            "survey_year",
            "crime_type",
            "sex",
            "age_group",
            "weight",
            "was_victim",
            "reported_to_police",
        ),
    ),
}


class LineageError(RuntimeError):
    """A cell, indicator or manifest that lineage cannot explain."""


@dataclass(frozen=True)
class FactRow:
    """One row behind a cell, with where it was loaded from.

    `weight` is what it adds to the numerator, `denominator_weight` to the denominator (None
    where the denominator comes from elsewhere), `measure` the days (medians) or records in
    month `fact_key` (reporting gaps and coverage).
    """

    fact_model: str
    fact_key: str
    counted_id: str | None
    weight: Decimal
    denominator_weight: Decimal | None
    measure: Decimal | None
    batch_id: str | None
    source_file: str | None
    source_row: int | None
    file_sha256: str | None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    """An ingestion batch (one file) from `ops.batch_ledger`."""

    batch_id: str
    source: str
    source_file: str | None
    file_sha256: str | None
    status: str
    rows_loaded: int
    rows_quarantined: int
    finished_at: datetime | None
    rows_counted: int  # how many of the cell's rows came from this batch


@dataclass(frozen=True)
class Validation:
    """The expectations one suite ran on one batch, summarised."""

    batch_id: str
    suite_name: str
    expectations: int
    failed: int
    failed_critical: int
    validated_at: datetime | None

    @property
    def passed(self) -> bool:
        return self.failed_critical == 0


@dataclass(frozen=True)
class Model:
    """A dbt node between the mart and the sources."""

    unique_id: str
    resource_type: str
    relation: str
    depth: int


@dataclass(frozen=True)
class Explanation:
    """Everything behind one published indicator cell."""

    indicator_code: str
    municipality_code: str
    month: str
    sex: str
    age_group: str
    name: str
    formula: str
    numerator_definition: str
    denominator_definition: str
    source: str
    numerator: Decimal
    denominator: Decimal | None
    value: Decimal | None
    rows: list[FactRow]
    batches: list[Batch]
    validations: list[Validation]
    models: list[Model]

    @property
    def kind(self) -> str:
        return indicator_kind(self.indicator_code, self.formula)

    @property
    def recomputed(self) -> Recomputed:
        return recompute(self.kind, self.month, self.rows, self.denominator)

    @property
    def recomputed_numerator(self) -> Decimal:
        return self.recomputed.numerator

    @property
    def recomputed_denominator(self) -> Decimal | None:
        return self.recomputed.denominator

    @property
    def recomputed_value(self) -> Decimal | None:
        return self.recomputed.value

    @property
    def matches(self) -> bool:
        return (
            self.numerator == self.recomputed_numerator
            and self.denominator == self.recomputed_denominator
            and self.value == self.recomputed_value
        )


@dataclass(frozen=True)
class Result:
    """One cell recomputed from the rows `explain` lists."""

    indicator_code: str
    municipality_code: str
    month: str
    sex: str
    age_group: str
    numerator: Decimal
    recomputed_numerator: Decimal
    value: Decimal | None
    recomputed_value: Decimal | None
    rows: int
    kind: str = "count"
    denominator: Decimal | None = None
    recomputed_denominator: Decimal | None = None

    @property
    def matches(self) -> bool:
        return (
            self.numerator == self.recomputed_numerator
            and self.denominator == self.recomputed_denominator
            and self.value == self.recomputed_value
        )


@dataclass(frozen=True)
class Recomputed:
    """A cell's numerator, denominator and value, recomputed from its rows."""

    numerator: Decimal
    denominator: Decimal | None
    value: Decimal | None


def formula_kind(formula: str) -> str:
    """`count`, `per_100k`, `share`, `complement_share` or `median`, from the formula text of
    `ref_indicators`."""
    text = formula.strip().lower()
    if text == "numerator":
        return "count"
    if text.startswith("median("):
        return "median"
    if "100000" in text.replace(" ", "").replace(",", ""):
        return "per_100k"
    if re.match(r"1\s*[\u2212-]\s*numerator", text):
        return "complement_share"
    if "÷" in text or "/" in text:
        return "share"
    raise LineageError(
        f"ref_indicators: formula {formula!r} is not count, per 100k, share, 1 - share or median"
    )


def indicator_kind(indicator_code: str, formula: str) -> str:
    """How a cell of the indicator recomputes from its rows (`recompute`).

    `listed_*` kinds take the denominator from the rows' `denominator_weight` too (cohort and
    survey shares); the others (except medians, gaps and coverage) from the published cell.
    """
    for prefix, kind in INDICATOR_KINDS.items():
        if indicator_code == prefix or (prefix.endswith("_") and indicator_code.startswith(prefix)):
            return kind
    return formula_kind(formula)


def apply_formula(formula: str, numerator: Decimal, denominator: Decimal | None) -> Decimal | None:
    """The value as the mart computes it (macros per_100k / safe_ratio: 6 places, half up)."""
    return _value(formula_kind(formula), numerator, denominator)


def _value(kind: str, numerator: Decimal, denominator: Decimal | None) -> Decimal | None:
    base = kind.removeprefix("listed_")
    if base in {"count", "gap"}:
        return numerator
    if denominator is None or denominator <= 0:
        return None
    if base == "median":
        return numerator
    scaled = numerator * 100000 if base == "per_100k" else numerator
    ratio = (scaled / denominator).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)
    return 1 - ratio if base == "complement_share" else ratio


def _windows(month: str, rows: Sequence[FactRow]) -> dict[str, tuple[bool, bool]]:
    """Per source (fact model) of a coverage cell: (usually reports, has records this month),
    from its records in each month of the window (`fact_key` = month, `measure` = records)."""
    by_source: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        by_source.setdefault(row.fact_model, {})[row.fact_key] = row.measure or Decimal(0)
    found: dict[str, tuple[bool, bool]] = {}
    for source, counts in by_source.items():
        before = [records for window_month, records in counts.items() if window_month < month]
        usual = sum(1 for r in before if r > 0) >= USUAL_MONTHS and sum(before) >= USUAL_RECORDS
        found[source] = (usual, counts.get(month, Decimal(0)) > 0)
    return found


def recompute(
    kind: str, month: str, rows: Sequence[FactRow], published_denominator: Decimal | None
) -> Recomputed:
    """A cell's numerator, denominator and value from its rows alone, as the family computes
    it. Decimal throughout: survey weights are numeric and sum exactly."""
    total = sum((row.weight for row in rows), Decimal(0))
    listed = sum(
        (row.denominator_weight for row in rows if row.denominator_weight is not None),
        Decimal(0),
    )
    if kind == "median":
        days = [row.measure for row in rows if row.measure is not None]
        middle = (
            Decimal(median(days)).quantize(ONE_PLACE, rounding=ROUND_HALF_UP)
            if days
            else Decimal(0)
        )
        return Recomputed(middle, listed, _value(kind, middle, listed))
    if kind == "gap":
        flags = _windows(month, rows).values()
        gaps = sum(1 for usual, reported in flags if usual and not reported)
        return Recomputed(Decimal(gaps), None, Decimal(gaps))
    if kind == "coverage_share":
        sources = [flags for flags in _windows(month, rows).values() if flags[0]]
        reporting = Decimal(sum(1 for _, reported in sources if reported))
        usual = Decimal(len(sources))
        return Recomputed(reporting, usual, _value(kind, reporting, usual))
    denominator = listed if kind.startswith("listed_") else published_denominator
    return Recomputed(total, denominator, _value(kind, total, denominator))


def _definition(conn: psycopg.Connection[Any], indicator_code: str) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "select name_en, formula, numerator, denominator, source"
            " from reference.ref_indicators where indicator_code = %s",
            (indicator_code,),
        ).fetchone()
    if row is None:
        raise LineageError(f"indicator {indicator_code!r} is not in reference.ref_indicators")
    return row


def _cell(conn: psycopg.Connection[Any], key: tuple[str, str, str, str, str]) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"select numerator, denominator, value, source from marts.{MART}"
            " where indicator_code = %s and municipality_code = %s and month = %s"
            " and sex = %s and age_group = %s",
            key,
        ).fetchone()
    if row is None:
        raise LineageError(
            f"marts.{MART} has no cell indicator_code={key[0]!r} municipality_code={key[1]!r}"
            f" month={key[2]!r} sex={key[3]!r} age_group={key[4]!r}"
        )
    return row


def _fact_rows(conn: psycopg.Connection[Any], key: tuple[str, str, str, str, str]) -> list[FactRow]:
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "select fact_model, fact_key, counted_id, weight, denominator_weight, measure,"
            " batch_id, source_file, source_row, file_sha256"
            " from marts.fct_indicator_contributions"
            " where indicator_code = %s and municipality_code = %s and month = %s"
            " and sex = %s and age_group = %s order by fact_model, fact_key",
            key,
        ).fetchall()
        attributes: dict[tuple[str, str], dict[str, str]] = {}
        for model in sorted({row["fact_model"] for row in found}):
            if model not in FACT_COLUMNS:
                continue
            key_column, columns = FACT_COLUMNS[model]
            # Coverage rows are keyed by month (`YYYY-MM`): counts, not one fact row.
            keys = [
                row["fact_key"]
                for row in found
                if row["fact_model"] == model and not re.fullmatch(r"\d{4}-\d{2}", row["fact_key"])
            ]
            if not keys:
                continue
            selected = ", ".join(columns)
            for fact in cur.execute(
                f"select cast({key_column} as text) as fact_key, {selected}"
                f" from marts.{model} where cast({key_column} as text) = any(%s)",
                (keys,),
            ).fetchall():
                attributes[(model, fact["fact_key"])] = {
                    column: "" if fact[column] is None else str(fact[column]) for column in columns
                }
    return [
        FactRow(
            fact_model=row["fact_model"],
            fact_key=row["fact_key"],
            counted_id=row["counted_id"],
            weight=Decimal(row["weight"]),
            denominator_weight=_decimal(row["denominator_weight"]),
            measure=_decimal(row["measure"]),
            batch_id=row["batch_id"],
            source_file=row["source_file"],
            source_row=row["source_row"],
            file_sha256=row["file_sha256"],
            attributes=attributes.get((row["fact_model"], row["fact_key"]), {}),
        )
        for row in found
    ]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _batches(conn: psycopg.Connection[Any], rows: Sequence[FactRow]) -> list[Batch]:
    counted: dict[str, int] = {}
    for row in rows:
        if row.batch_id:
            counted[row.batch_id] = counted.get(row.batch_id, 0) + 1
    if not counted:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "select batch_id, source, source_file, file_sha256, status, rows_loaded,"
            " rows_quarantined, finished_at from ops.batch_ledger"
            " where batch_id = any(%s) order by batch_id",
            (sorted(counted),),
        ).fetchall()
    return [Batch(**row, rows_counted=counted[row["batch_id"]]) for row in found]


def _validations(conn: psycopg.Connection[Any], batch_ids: Iterable[str]) -> list[Validation]:
    ids = sorted(set(batch_ids))
    if not ids:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "select batch_id, suite_name, count(*) as expectations,"
            " count(*) filter (where not success) as failed,"
            " count(*) filter (where not success and severity = 'critical') as failed_critical,"
            " max(validated_at) as validated_at"
            " from ops.validation_results where batch_id = any(%s)"
            " group by batch_id, suite_name order by batch_id, suite_name",
            (ids,),
        ).fetchall()
    return [Validation(**row) for row in found]


def load_manifest(settings: Settings | None = None) -> dict[str, Any]:
    """dbt's manifest (`observatorio.transform.manifest`, made by `make manifest`)."""
    from observatorio.transform import manifest

    try:
        return manifest.load(settings)
    except manifest.ManifestOutOfDate as exc:
        raise LineageError(str(exc)) from exc


def _relation(node: dict[str, Any]) -> str:
    if node.get("resource_type") == "source":
        return f"{node.get('schema')}.{node.get('identifier') or node.get('name')}"
    return f"{node.get('schema')}.{node.get('alias') or node.get('name')}"


def models_between(
    manifest: dict[str, Any], indicator_code: str, fact_models: Iterable[str] | None = None
) -> list[Model]:
    """The dbt nodes from the mart down to the sources, for the family computing the indicator.

    The family is the `int_indicators__*` parent of the mart whose SQL names the indicator
    (or its prefix, for `<prefix>__<type>` codes);
    the walk follows `parent_map` breadth first, so each node has its distance from the mart.
    With `fact_models`, the family's other fact tables (other indicators' inputs) are left out.
    """
    keep = None if fact_models is None else set(fact_models)
    nodes: dict[str, dict[str, Any]] = {**manifest["nodes"], **manifest.get("sources", {})}
    parent_map: dict[str, list[str]] = manifest["parent_map"]
    mart_id = next((k for k in nodes if k.startswith("model.") and k.endswith(f".{MART}")), None)
    if mart_id is None:
        raise LineageError(f"the dbt manifest has no model {MART}")
    # Families that build codes from a prefix (`'dark_figure__' || crime_type`) name the prefix.
    names = [indicator_code]
    if "__" in indicator_code:
        names.append(indicator_code.split("__", 1)[0] + "__")
    quoted = re.compile("|".join(rf"'{re.escape(name)}'" for name in names))
    families = [
        parent
        for parent in parent_map.get(mart_id, [])
        if quoted.search(str(nodes.get(parent, {}).get("raw_code", "")))
    ]
    if not families:
        raise LineageError(f"no parent of {MART} in the dbt manifest computes {indicator_code!r}")
    depth = {mart_id: 0}
    queue = [mart_id]
    for node_id in queue:
        parents = families if node_id == mart_id else parent_map.get(node_id, [])
        if node_id in families and keep is not None:
            parents = [p for p in parents if ".fct_" not in p or p.rsplit(".", 1)[-1] in keep]
        for parent in parents:
            if parent not in depth:
                depth[parent] = depth[node_id] + 1
                queue.append(parent)
    return [
        Model(
            unique_id=node_id,
            resource_type=str(nodes.get(node_id, {}).get("resource_type", node_id.split(".")[0])),
            relation=_relation(nodes.get(node_id, {})),
            depth=depth[node_id],
        )
        for node_id in sorted(depth, key=lambda n: (depth[n], n))
    ]


def explain(
    indicator_code: str,
    municipality_code: str,
    month: str,
    sex: str = "all",
    age_group: str = "all",
    *,
    settings: Settings | None = None,
    conn: psycopg.Connection[Any] | None = None,
    manifest: dict[str, Any] | None = None,
) -> Explanation:
    """Everything behind one cell of `marts.mart_indicators_monthly`."""
    settings = settings or get_settings()
    key = (indicator_code, municipality_code, month, sex, age_group)
    own = conn is None
    active = connect(settings) if conn is None else conn
    try:
        definition = _definition(active, indicator_code)
        cell = _cell(active, key)
        rows = _fact_rows(active, key)
        batches = _batches(active, rows)
        validations = _validations(active, (b.batch_id for b in batches))
        fact_models = [
            model
            for (model,) in active.execute(
                "select distinct fact_model from marts.fct_indicator_contributions"
                " where indicator_code = %s",
                (indicator_code,),
            ).fetchall()
        ]
    finally:
        if own:
            active.close()
    models = models_between(
        manifest or load_manifest(settings), indicator_code, fact_models or None
    )
    return Explanation(
        indicator_code=indicator_code,
        municipality_code=municipality_code,
        month=month,
        sex=sex,
        age_group=age_group,
        name=definition["name_en"],
        formula=definition["formula"],
        numerator_definition=definition["numerator"] or "",
        denominator_definition=definition["denominator"] or "",
        source=cell["source"],
        numerator=Decimal(cell["numerator"]),
        denominator=None if cell["denominator"] is None else Decimal(cell["denominator"]),
        value=None if cell["value"] is None else Decimal(cell["value"]),
        rows=rows,
        batches=batches,
        validations=validations,
        models=models,
    )


def random_cells(
    conn: psycopg.Connection[Any], n: int, seed: int | None = None
) -> list[tuple[str, str, str, str, str]]:
    """N distinct non-zero cells of the mart, drawn with `random.Random(seed)`."""
    cells: list[tuple[str, str, str, str, str]] = conn.execute(
        f"select indicator_code, municipality_code, month, sex, age_group from marts.{MART}"
        " where numerator <> 0"
        " order by indicator_code, municipality_code, month, sex, age_group"
    ).fetchall()
    if len(cells) < n:
        raise LineageError(f"marts.{MART} has {len(cells)} non-zero cells, fewer than {n}")
    return random.Random(seed).sample(cells, n)


def verify_random(
    n: int, seed: int | None = None, settings: Settings | None = None
) -> list[Result]:
    """Recompute N random non-zero cells from exactly the rows `explain` lists."""
    settings = settings or get_settings()
    manifest = load_manifest(settings)
    results: list[Result] = []
    with connect(settings) as conn:
        for key in random_cells(conn, n, seed):
            found = explain(*key, settings=settings, conn=conn, manifest=manifest)
            results.append(
                Result(
                    *key,
                    numerator=found.numerator,
                    recomputed_numerator=found.recomputed_numerator,
                    value=found.value,
                    recomputed_value=found.recomputed_value,
                    rows=len(found.rows),
                    kind=found.kind,
                    denominator=found.denominator,
                    recomputed_denominator=found.recomputed_denominator,
                )
            )
    return results


def explain_lineage_summary(
    batch_ids: Iterable[str], settings: Settings | None = None
) -> list[dict[str, Any]]:
    """For extract manifests: each batch's source, file, checksum, status and validation."""
    ids = sorted(set(batch_ids))
    if not ids:
        return []
    with connect(settings) as conn, conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "select ledger.batch_id, ledger.source, ledger.source_file, ledger.file_sha256,"
            " ledger.status, ledger.rows_loaded,"
            " count(results.result_id) as expectations,"
            " count(results.result_id) filter (where not results.success) as expectations_failed"
            " from ops.batch_ledger as ledger"
            " left join ops.validation_results as results on ledger.batch_id = results.batch_id"
            " where ledger.batch_id = any(%s)"
            " group by 1, 2, 3, 4, 5, 6 order by 1",
            (ids,),
        ).fetchall()
    missing = set(ids) - {row["batch_id"] for row in found}
    if missing:
        raise LineageError(f"batches not in ops.batch_ledger: {sorted(missing)[:5]}")
    return [dict(row) for row in found]
