"""Lineage: from a published indicator cell back to the source rows, batches and files.

`explain()` expands one cell of `marts.mart_indicators_monthly` into the fact rows counted
in its numerator (`marts.fct_indicator_contributions`), the ingestion batches and files
those rows came from with their checksums (`ops.batch_ledger`), the validation results
of those batches (`ops.validation_results`) and the dbt models in between (the manifest's
`parent_map`). `verify_random()` recomputes random cells from exactly those rows.
`openlineage_environment()` configures OpenLineage emission for Airflow and dbt-ol.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from observatorio.settings import Settings, get_settings
from observatorio.warehouse import connect

MART = "mart_indicators_monthly"
SIX_PLACES = Decimal("0.000001")

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
}


class LineageError(RuntimeError):
    """A cell, indicator or manifest that lineage cannot explain."""


@dataclass(frozen=True)
class FactRow:
    """One fact row counted in a cell's numerator, with where it was loaded from."""

    fact_model: str
    fact_key: str
    counted_id: str | None
    weight: Decimal
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
    def recomputed_numerator(self) -> Decimal:
        return sum((row.weight for row in self.rows), Decimal(0))

    @property
    def recomputed_value(self) -> Decimal | None:
        return apply_formula(self.formula, self.recomputed_numerator, self.denominator)


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

    @property
    def matches(self) -> bool:
        return self.numerator == self.recomputed_numerator and self.value == self.recomputed_value


def formula_kind(formula: str) -> str:
    """`count`, `per_100k` or `share`, from the formula text of `ref_indicators`."""
    text = formula.strip().lower()
    if text == "numerator":
        return "count"
    if "100000" in text.replace(" ", "").replace(",", ""):
        return "per_100k"
    if "÷" in text or "/" in text:
        return "share"
    raise LineageError(f"ref_indicators: formula {formula!r} is not count, per 100k or share")


def apply_formula(formula: str, numerator: Decimal, denominator: Decimal | None) -> Decimal | None:
    """The value as the mart computes it (macros per_100k / safe_ratio: 6 places, half up)."""
    kind = formula_kind(formula)
    if kind == "count":
        return numerator
    if denominator is None or denominator <= 0:
        return None
    scaled = numerator * 100000 if kind == "per_100k" else numerator
    return (scaled / denominator).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


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
            "select fact_model, fact_key, counted_id, weight, batch_id, source_file,"
            " source_row, file_sha256 from marts.fct_indicator_contributions"
            " where indicator_code = %s and municipality_code = %s and month = %s"
            " and sex = %s and age_group = %s order by fact_model, fact_key",
            key,
        ).fetchall()
        attributes: dict[tuple[str, str], dict[str, str]] = {}
        for model in sorted({row["fact_model"] for row in found}):
            if model not in FACT_COLUMNS:
                continue
            key_column, columns = FACT_COLUMNS[model]
            keys = [row["fact_key"] for row in found if row["fact_model"] == model]
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
            batch_id=row["batch_id"],
            source_file=row["source_file"],
            source_row=row["source_row"],
            file_sha256=row["file_sha256"],
            attributes=attributes.get((row["fact_model"], row["fact_key"]), {}),
        )
        for row in found
    ]


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

    The family is the `int_indicators__*` parent of the mart whose SQL names the indicator;
    the walk follows `parent_map` breadth first, so each node has its distance from the mart.
    With `fact_models`, the family's other fact tables (other indicators' inputs) are left out.
    """
    keep = None if fact_models is None else set(fact_models)
    nodes: dict[str, dict[str, Any]] = {**manifest["nodes"], **manifest.get("sources", {})}
    parent_map: dict[str, list[str]] = manifest["parent_map"]
    mart_id = next((k for k in nodes if k.startswith("model.") and k.endswith(f".{MART}")), None)
    if mart_id is None:
        raise LineageError(f"the dbt manifest has no model {MART}")
    quoted = re.compile(rf"'{re.escape(indicator_code)}'")
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


def lineage_dir(settings: Settings | None = None) -> Path:
    """Where OpenLineage events are kept with the file transport."""
    return (settings or get_settings()).home / "lineage"


def lineage_namespace(settings: Settings | None = None) -> str:
    """One namespace per environment: `observatorio-<OBSERVATORIO_ENV or hostname>`."""
    name = os.environ.get("OBSERVATORIO_ENV") or socket.gethostname() or "local"
    return "observatorio-" + re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def openlineage_environment(settings: Settings | None = None) -> dict[str, str]:
    """The AIRFLOW__OPENLINEAGE__* and OPENLINEAGE_* variables: file transport under
    OBSERVATORIO_HOME/lineage by default, HTTP to Marquez when OBSERVATORIO_MARQUEZ_URL is set.
    """
    settings = settings or get_settings()
    namespace = lineage_namespace(settings)
    marquez = os.environ.get("OBSERVATORIO_MARQUEZ_URL", "").strip()
    events = lineage_dir(settings)
    events.mkdir(parents=True, exist_ok=True)
    if marquez:
        transport: dict[str, Any] = {"type": "http", "url": marquez, "endpoint": "api/v1/lineage"}
    else:
        # Not appending: one file per event, `events-<timestamp>.json`.
        transport = {"type": "file", "log_file_path": str(events / "events"), "append": False}
    env = {
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": namespace,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        # dbt-ol and any other openlineage-python client read these.
        "OPENLINEAGE_NAMESPACE": namespace,
        "OPENLINEAGE__TRANSPORT__TYPE": transport["type"],
    }
    if marquez:
        env["OPENLINEAGE_URL"] = marquez
        env["OPENLINEAGE__TRANSPORT__URL"] = marquez
        env["OPENLINEAGE__TRANSPORT__ENDPOINT"] = "api/v1/lineage"
    else:
        env["OPENLINEAGE__TRANSPORT__LOG_FILE_PATH"] = str(events / "events")
        env["OPENLINEAGE__TRANSPORT__APPEND"] = "false"
    return env


# --- Printing (the CLI's `observatorio explain`) -----------------------------------------


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
        f" {_fmt(found.recomputed_value)})"
    )
    rows = Table(title=f"Fact rows counted ({len(found.rows)})")
    for column in ("fact model", "key", "weight", "batch", "file", "row", "attributes"):
        rows.add_column(column)
    for row in found.rows:
        rows.add_row(
            row.fact_model,
            row.fact_key,
            _fmt(row.weight),
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
    for column in ("indicator", "municipality", "month", "rows", "numerator", "value", "match"):
        table.add_column(column)
    for result in results:
        table.add_row(
            result.indicator_code,
            result.municipality_code,
            result.month,
            str(result.rows),
            f"{_fmt(result.numerator)} / {_fmt(result.recomputed_numerator)}",
            f"{_fmt(result.value)} / {_fmt(result.recomputed_value)}",
            "yes" if result.matches else "[red]NO[/red]",
        )
    console.print(table)
    exact = sum(result.matches for result in results)
    console.print(f"{exact}/{len(results)} recomputed exactly", highlight=False)
