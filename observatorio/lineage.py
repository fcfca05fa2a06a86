"""Lineage: from a published indicator cell back to the source rows, batches and files.

`explain()` expands one cell of `marts.mart_indicators_monthly` into the fact rows counted
in its numerator (`marts.fct_indicator_contributions`), the ingestion batches and files
those rows came from with their checksums (`ops.batch_ledger`), the validation results
of those batches (`ops.validation_results`) and the dbt models in between (the manifest's
`parent_map`). `verify_random()` recomputes random cells from exactly those rows, each
indicator by its kind (`indicator_kind`): sums of weights for counts, rates and shares, the
median of the days measured, weighted survey shares, reporting gaps from the records a month
of the window (`recompute`).
`openlineage_environment()` configures OpenLineage emission for Airflow and dbt-ol (one
namespace per environment; files under OBSERVATORIO_HOME, or HTTP to Marquez);
`emit_gate_events()` (called by the gate) sends each batch's expectations as a data-quality
facet of its `raw` table, and `emit_dbt_events()` the models, snapshots and tests of a dbt build.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from statistics import median
from typing import Any

import psycopg
from psycopg.rows import dict_row

from observatorio.settings import Settings, get_settings
from observatorio.warehouse import connect, warehouse_url

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
    """dbt's manifest.json from the last build (`settings.dbt_target_dir`)."""
    settings = settings or get_settings()
    path = settings.dbt_target_dir / "manifest.json"
    if not path.is_file():
        raise LineageError(f"{path}: no dbt manifest; run `observatorio dbt build` first")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest


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


# --- OpenLineage -------------------------------------------------------------------------

# Who wrote the events Observatorio emits itself (gate results, the dbt build's nodes).
PRODUCER = "urn:observatorio:lineage"
# What the dbt nodes of the last build were, for extract manifests (`producing_run`).
DBT_RUNS_FILE = "dbt_runs.json"


def lineage_dir(settings: Settings | None = None) -> Path:
    """Where OpenLineage events are kept with the file transport."""
    return (settings or get_settings()).lineage_dir


def lineage_namespace(settings: Settings | None = None) -> str:
    """One namespace per environment: `observatorio-<OBSERVATORIO_ENVIRONMENT>` (`local`)."""
    name = (settings or get_settings()).environment
    return "observatorio-" + (re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "local")


def transport_config(settings: Settings | None = None) -> dict[str, Any]:
    """The one transport configuration: HTTP to Marquez when a URL is set, else files."""
    settings = settings or get_settings()
    if settings.openlineage_url:
        return {"type": "http", "url": settings.openlineage_url, "endpoint": "api/v1/lineage"}
    # Not appending: one file per event, `events-<timestamp>.json`.
    return {
        "type": "file",
        "log_file_path": str(lineage_dir(settings) / "events"),
        "append": False,
    }


def openlineage_environment(settings: Settings | None = None) -> dict[str, str]:
    """The AIRFLOW__OPENLINEAGE__* and OPENLINEAGE_* variables, from `transport_config`."""
    settings = settings or get_settings()
    namespace = lineage_namespace(settings)
    transport = transport_config(settings)
    if transport["type"] == "file":
        lineage_dir(settings).mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": namespace,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        # dbt-ol and any other openlineage-python client read these.
        "OPENLINEAGE_NAMESPACE": namespace,
        "OPENLINEAGE__TRANSPORT__TYPE": transport["type"],
    }
    if transport["type"] == "http":
        env["OPENLINEAGE_URL"] = transport["url"]
        env["OPENLINEAGE__TRANSPORT__URL"] = transport["url"]
        env["OPENLINEAGE__TRANSPORT__ENDPOINT"] = transport["endpoint"]
    else:
        env["OPENLINEAGE__TRANSPORT__LOG_FILE_PATH"] = transport["log_file_path"]
        env["OPENLINEAGE__TRANSPORT__APPEND"] = "false"
    return env


def openlineage_client(settings: Settings | None = None) -> Any:
    """An `OpenLineageClient` on the same transport the Airflow provider uses."""
    from openlineage.client.client import OpenLineageClient

    settings = settings or get_settings()
    transport = transport_config(settings)
    if transport["type"] == "file":
        lineage_dir(settings).mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(config={"transport": transport})


def _emit(events: Sequence[Any], settings: Settings) -> int:
    """Emit the events; a lineage backend that is down never fails the data pipeline."""
    if not events:
        return 0
    client = openlineage_client(settings)
    sent = 0
    for event in events:
        try:
            client.emit(event)
            sent += 1
        except Exception as exc:  # any transport error: log it, and stop retrying a dead backend
            log.warning(
                "OpenLineage: %d of %d events not emitted (%s): %s",
                len(events) - sent,
                len(events),
                event.job.name,
                exc,
            )
            break
    client.close(timeout=10)
    return sent


def warehouse_dataset_namespace(settings: Settings | None = None) -> str:
    """`postgres://host:port`, as openlineage-dbt and the Airflow provider name PostgreSQL."""
    from sqlalchemy.engine import make_url

    url = make_url(warehouse_url(settings or get_settings()))
    return f"postgres://{url.host or '127.0.0.1'}:{url.port or 5432}"


def warehouse_dataset_name(schema: str, table: str, settings: Settings | None = None) -> str:
    """`<database>.<schema>.<table>`, the name openlineage-dbt gives the same relation."""
    from sqlalchemy.engine import make_url

    database = make_url(warehouse_url(settings or get_settings())).database or "observatorio"
    return f"{database}.{schema}.{table}"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def gate_events(
    validated: Sequence[tuple[str, Any]], settings: Settings | None = None
) -> list[Any]:
    """A START and a COMPLETE event per validated batch: job `gate.<source>`, its input the
    batch's dataset `raw.<source>` (the batch id as the dataset version) carrying the
    expectations as a `dataQualityAssertions` facet. `validated` pairs the source name with
    the gate's outcome (`expectations.gate.GateOutcome`)."""
    from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        data_quality_assertions_dataset as dqa,
    )
    from openlineage.client.facet_v2 import dataset_version_dataset, job_type_job
    from openlineage.client.uuid import generate_new_uuid

    settings = settings or get_settings()
    namespace = lineage_namespace(settings)
    dataset_namespace = warehouse_dataset_namespace(settings)
    events: list[Any] = []
    for source, outcome in validated:
        assertions = [
            dqa.Assertion(
                assertion=result.expectation_type,
                success=bool(result.success),
                column=result.column,
                severity=result.severity,
                actual=result.observed_value,
                params=(
                    {}
                    if result.unexpected_count is None
                    else {"unexpected_count": result.unexpected_count}
                ),
            )
            for result in outcome.results
        ]
        dataset = InputDataset(
            namespace=dataset_namespace,
            name=warehouse_dataset_name("raw", source, settings),
            facets={
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=str(outcome.batch_id), producer=PRODUCER
                )
            },
            inputFacets={
                "dataQualityAssertions": dqa.DataQualityAssertionsDatasetFacet(
                    assertions=assertions, producer=PRODUCER
                )
            },
        )
        job = Job(
            namespace=namespace,
            name=f"gate.{source}",
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH",
                    integration="GREAT_EXPECTATIONS",
                    jobType="VALIDATION",
                    producer=PRODUCER,
                )
            },
        )
        run = Run(runId=str(generate_new_uuid()))
        for state in (RunState.START, RunState.COMPLETE):
            events.append(
                RunEvent(
                    eventType=state,
                    eventTime=_now(),
                    run=run,
                    job=job,
                    producer=PRODUCER,
                    inputs=[dataset],
                )
            )
    return events


def emit_gate_events(validated: Sequence[tuple[str, Any]], settings: Settings | None = None) -> int:
    """Emit `gate_events` (called by `expectations.gate.validate_batches`); how many went."""
    settings = settings or get_settings()
    try:
        return _emit(gate_events(validated, settings), settings)
    except Exception as exc:  # lineage never fails the gate
        log.warning("OpenLineage events of the gate not emitted: %s", exc)
        return 0


def _dbt_processor(settings: Settings, target_dir: Path) -> Any:
    """openlineage-dbt's artifact processor on `target_dir`, with the profile taken from the
    settings (not from a profiles.yml that may be gone, such as Cosmos's temporary one)."""
    from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor
    from sqlalchemy.engine import make_url

    url = make_url(warehouse_url(settings))
    profile = {
        "type": "postgres",
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "dbname": url.database or "observatorio",
        "schema": "public",
    }

    class Processor(DbtLocalArtifactProcessor):  # type: ignore[misc]
        def get_dbt_metadata(self) -> tuple[Any, Any, Any, Any]:
            manifest = self.load_metadata(self.manifest_path, list(range(2, 13)), self.logger)
            run_results = self.load_metadata(self.run_result_path, list(range(2, 7)), self.logger)
            try:
                catalog = self.load_metadata(self.catalog_path, [1], self.logger)
            except FileNotFoundError:
                catalog = None
            return manifest, run_results, profile, catalog

    processor = Processor(
        producer=PRODUCER,
        job_namespace=lineage_namespace(settings),
        project_dir=str(settings.dbt_project_dir),
        target_path=str(target_dir),
        skip_errors=True,
    )
    processor.should_raise_on_unsupported_command = False
    return processor


def dbt_events(settings: Settings | None = None, target_dir: Path | None = None) -> list[Any]:
    """OpenLineage events for the last dbt run/build/test/seed whose artifacts are in
    `target_dir` (default: the dbt target dir): a START and a COMPLETE (or FAIL) per model,
    snapshot and test, with their input and output tables in the warehouse namespace, wrapped
    in a START/COMPLETE (FAIL if any node failed) of the job `dbt-run-observatorio` that is
    every node's parent run."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import job_type_job
    from openlineage.client.uuid import generate_new_uuid
    from openlineage.common.provider.dbt import ParentRunMetadata

    settings = settings or get_settings()
    target = Path(target_dir or settings.dbt_target_dir)
    if not (target / "run_results.json").is_file() or not (target / "manifest.json").is_file():
        raise LineageError(f"{target}: no manifest.json and run_results.json of a dbt run")
    processor = _dbt_processor(settings, target)
    namespace = lineage_namespace(settings)
    job_name = f"dbt-run-{processor.project_name}"
    run_id = str(generate_new_uuid())
    # The wrapping run is every node's parent and the root of the tree.
    parent = ParentRunMetadata(
        run_id=run_id,
        job_name=job_name,
        job_namespace=namespace,
        root_parent_run_id=run_id,
        root_parent_job_name=job_name,
        root_parent_job_namespace=namespace,
    )
    processor.dbt_run_metadata = parent
    parsed = processor.parse()
    nodes = parsed.events()
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    started = min((r["timing"][0]["started_at"] for r in _timed(results)), default=_now())
    failed = bool(parsed.fails) or any(
        r.get("status") in {"error", "fail", "runtime error"} for r in results["results"]
    )
    job_type = job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration="DBT", jobType="JOB", producer=PRODUCER
    )
    job = Job(namespace=namespace, name=job_name, facets={"jobType": job_type})
    run = Run(runId=run_id)
    wrap_start = RunEvent(
        eventType=RunState.START, eventTime=started, run=run, job=job, producer=PRODUCER
    )
    wrap_end = RunEvent(
        eventType=RunState.FAIL if failed else RunState.COMPLETE,
        eventTime=_now(),
        run=run,
        job=job,
        producer=PRODUCER,
    )
    seeds = _seed_events(results, processor, parent, job_type)
    return [wrap_start, *nodes, *seeds, wrap_end]


def _seed_events(results: dict[str, Any], processor: Any, parent: Any, job_type: Any) -> list[Any]:
    """START and COMPLETE/FAIL per seed loaded (openlineage-dbt covers models and tests only)."""
    from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.uuid import generate_new_uuid

    events: list[Any] = []
    for result in _timed(results):
        node = processor.manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") != "seed" or result.get("status") == "skipped":
            continue
        relation = node.get("alias") or node["name"]
        output = OutputDataset(
            namespace=processor.dataset_namespace,
            name=".".join(p for p in (node.get("database"), node.get("schema"), relation) if p),
        )
        job = Job(
            namespace=parent.job_namespace,
            name=f"{node.get('database')}.{node.get('schema')}.{node['name']}.build.seed",
            facets={"jobType": job_type},
        )
        run = Run(runId=str(generate_new_uuid()), facets={"parent": parent.to_openlineage()})
        state = RunState.COMPLETE if result.get("status") == "success" else RunState.FAIL
        timing = result["timing"][-1]
        for kind, moment in (
            (RunState.START, result["timing"][0]["started_at"]),
            (state, timing.get("completed_at") or _now()),
        ):
            events.append(
                RunEvent(
                    eventType=kind,
                    eventTime=moment,
                    run=run,
                    job=job,
                    producer=PRODUCER,
                    outputs=[output],
                )
            )
    return events


def _timed(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for r in results.get("results", [])
        if r.get("timing") and r["timing"][0].get("started_at")
    ]


def emit_dbt_events(settings: Settings | None = None, target_dir: Path | str | None = None) -> int:
    """Emit `dbt_events` for the last dbt command and remember each node's run for extract
    manifests (`<lineage dir>/dbt_runs.json`). Returns how many events were emitted; a failure
    to build or send them is logged, never raised (lineage does not fail a build)."""
    settings = settings or get_settings()
    try:
        events = dbt_events(settings, None if target_dir is None else Path(target_dir))
        sent = _emit(events, settings)
        _remember_dbt_runs(events, settings)
    except Exception as exc:  # lineage never fails a build
        log.warning("OpenLineage events of the dbt run not emitted: %s", exc)
        return 0
    log.info("OpenLineage: %d dbt events emitted (namespace %s)", sent, lineage_namespace(settings))
    return sent


def emit_dbt_events_from_project(project_dir: str, **_: Any) -> int:
    """A Cosmos `callback`: emit the events of the build Cosmos ran in `project_dir`."""
    return emit_dbt_events(target_dir=Path(project_dir) / "target")


def _remember_dbt_runs(events: Sequence[Any], settings: Settings) -> None:
    """Merge this run's nodes into `dbt_runs.json`: per output relation, its latest run."""
    path = lineage_dir(settings) / DBT_RUNS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    known: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    relations: dict[str, Any] = known.get("relations", {})
    # The first and last events wrap the build: the parent run of every node.
    parent = {"run_id": events[0].run.runId, "job": events[0].job.name}
    for event in events[1:-1]:
        if event.eventType.value not in {"COMPLETE", "FAIL"}:
            continue
        for output in event.outputs or []:
            relations[output.name] = {
                "namespace": event.job.namespace,
                "job": event.job.name,
                "run_id": event.run.runId,
                "state": event.eventType.value,
                "event_time": event.eventTime,
                "dataset_namespace": output.namespace,
                "parent_run_id": parent["run_id"],
            }
    payload = {"namespace": lineage_namespace(settings), "last_run": parent, "relations": relations}
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")


def producing_run(
    schema: str, table: str, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The OpenLineage run (namespace, job, run id) that last built `schema.table`, if known."""
    settings = settings or get_settings()
    path = lineage_dir(settings) / DBT_RUNS_FILE
    if not path.is_file():
        return None
    relations = json.loads(path.read_text()).get("relations", {})
    found: dict[str, Any] | None = relations.get(warehouse_dataset_name(schema, table, settings))
    return found


# --- Printing (the CLI's `observatorio explain`) -----------------------------------------


KIND_NOTES = {
    "count": "numerator = sum of weights",
    "per_100k": "sum of weights * 100000 ÷ the published denominator",
    "share": "sum of weights ÷ the published denominator",
    "listed_share": "sum of weights ÷ sum of denominator weights",
    "listed_per_100k": "sum of weights * 100000 ÷ sum of denominator weights",
    "listed_complement_share": "1 - sum of weights ÷ sum of denominator weights",
    "median": "median of the measured days (1 place); denominator = cases measured",
    "gap": (
        "1 when the source had records in ≥4 of the 6 months before and ≥30 in all, and none"
        " this month (an absence: no rows means no gap)"
    ),
    "coverage_share": "usual sources with records this month ÷ usual sources",
}


def _fmt(value: Decimal | None) -> str:
    return "null" if value is None else f"{value.normalize():f}"


def print_explanation(found: Explanation, console: Any) -> None:
    """Rich tables: the cell, its fact rows, batches, validations and models."""
    from rich.table import Table

    cell = (
        f"{found.indicator_code} · {found.municipality_code} · {found.month}"
        f" · sex={found.sex} · age={found.age_group}"
    )
    console.print(f"[bold]{found.name}[/bold]  ({cell}, source {found.source})")
    console.print(f"  formula      {found.formula}")
    console.print(f"  numerator    {_fmt(found.numerator)}  = {found.numerator_definition}")
    denominator = found.denominator_definition or "none"
    console.print(f"  denominator  {_fmt(found.denominator)}  = {denominator}")
    console.print(
        f"  value        {_fmt(found.value)}  (recomputed from {len(found.rows)} rows:"
        f" numerator {_fmt(found.recomputed_numerator)},"
        f" denominator {_fmt(found.recomputed_denominator)}, value {_fmt(found.recomputed_value)})"
    )
    console.print(f"  recomputed   as {found.kind}: {KIND_NOTES.get(found.kind, '')}")
    rows = Table(title=f"Fact rows counted ({len(found.rows)})")
    for column in (
        "fact model",
        "key",
        "weight",
        "denominator",
        "measure",
        "batch",
        "file",
        "row",
        "attributes",
    ):
        rows.add_column(column)
    for row in found.rows:
        rows.add_row(
            row.fact_model,
            row.fact_key,
            _fmt(row.weight),
            "" if row.denominator_weight is None else _fmt(row.denominator_weight),
            "" if row.measure is None else _fmt(row.measure),
            row.batch_id or "",
            row.source_file or "",
            "" if row.source_row is None else str(row.source_row),
            " ".join(f"{k}={v}" for k, v in row.attributes.items()),
        )
    console.print(rows)
    batches = Table(title=f"Batches and files ({len(found.batches)})")
    for column in ("batch", "source", "file", "sha256", "status", "loaded", "rows counted"):
        batches.add_column(column)
    for batch in found.batches:
        batches.add_row(
            batch.batch_id,
            batch.source,
            batch.source_file or "",
            batch.file_sha256 or "",
            batch.status,
            str(batch.rows_loaded),
            str(batch.rows_counted),
        )
    console.print(batches)
    checks = Table(title=f"Validation results ({len(found.validations)})")
    for column in ("batch", "suite", "expectations", "failed", "failed critical", "validated"):
        checks.add_column(column)
    for check in found.validations:
        checks.add_row(
            check.batch_id,
            check.suite_name,
            str(check.expectations),
            str(check.failed),
            str(check.failed_critical),
            "" if check.validated_at is None else check.validated_at.isoformat(timespec="seconds"),
        )
    console.print(checks)
    models = Table(title=f"dbt models in between ({len(found.models)})")
    for column in ("depth", "type", "node", "relation"):
        models.add_column(column)
    for model in found.models:
        models.add_row(str(model.depth), model.resource_type, model.unique_id, model.relation)
    console.print(models)


def print_results(results: Sequence[Result], console: Any) -> None:
    """One line per recomputed cell, then `N/N recomputed exactly`."""
    from rich.table import Table

    table = Table(title="Cells recomputed from the rows explain lists")
    for column in (
        "indicator",
        "municipality",
        "month",
        "kind",
        "rows",
        "numerator",
        "denominator",
        "value",
        "match",
    ):
        table.add_column(column)
    for result in results:
        table.add_row(
            result.indicator_code,
            result.municipality_code,
            result.month,
            result.kind,
            str(result.rows),
            f"{_fmt(result.numerator)} / {_fmt(result.recomputed_numerator)}",
            f"{_fmt(result.denominator)} / {_fmt(result.recomputed_denominator)}",
            f"{_fmt(result.value)} / {_fmt(result.recomputed_value)}",
            "yes" if result.matches else "[red]NO[/red]",
        )
    console.print(table)
    exact = sum(result.matches for result in results)
    console.print(f"{exact}/{len(results)} recomputed exactly", highlight=False)
