"""Explain: from a published indicator cell back to the source rows, batches and files.

`explain()` expands one cell of `marts.mart_indicators_monthly` into the fact rows counted
in its numerator (`marts.fct_indicator_contributions`), the ingestion batches and files
those rows came from with their checksums (`ops.batch_ledger`), the validation results
of those batches (`ops.validation_results`) and the dbt models in between (the manifest's
`parent_map`, walked by `graph.models_between`). `verify_random()` recomputes random cells
from exactly those rows, each indicator by its kind (`recompute`). Called by the CLI
(`observatorio explain`) and by extract manifests (`explain_lineage_summary`).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect
from observatorio.indicators.definitions import DefinitionError, Indicator, load_definitions
from observatorio.lineage.graph import Model, models_between
from observatorio.lineage.recompute import (
    FactRow,
    LineageError,
    Recomputed,
    indicator_kind,
    recompute,
)

log = logging.getLogger(__name__)

MART = "mart_indicators_monthly"


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
    kind: str = "count"
    precision: int = 6

    @property
    def recomputed(self) -> Recomputed:
        return recompute(self.kind, self.month, self.rows, self.denominator, self.precision)

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


def _definition(indicator_code: str) -> Indicator:
    definitions = load_definitions()
    try:
        return definitions.get(indicator_code)
    except DefinitionError:
        known = ", ".join(indicator.code for indicator in definitions.indicators)
        raise LineageError(
            f"no indicator {indicator_code!r}; the indicators are: {known}"
        ) from None


# A contribution row carries its own sex and age group (or `all` where its indicator is not
# broken down): the `all` cell of a breakdown is every row, any other cell its own rows.
CONTRIBUTION_BREAKDOWNS = "(%s = 'all' or sex = %s) and (%s = 'all' or age_group = %s)"


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
            f" and {CONTRIBUTION_BREAKDOWNS} order by fact_model, fact_key",
            (*key[:3], key[3], key[3], key[4], key[4]),
        ).fetchall()
        attributes: dict[tuple[str, str], dict[str, str]] = {}
        fact_tables = load_definitions().fact_tables
        for model in sorted({row["fact_model"] for row in found}):
            if model not in fact_tables:
                continue
            key_column, columns = fact_tables[model].key, fact_tables[model].shows
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
        definition = _definition(indicator_code)
        cell = _cell(active, key)
        rows = _fact_rows(active, key)
        batches = _batches(active, rows)
        validations = _validations(active, (b.batch_id for b in batches))
    finally:
        if own:
            active.close()
    models = models_between(
        manifest or load_manifest(settings),
        MART,
        load_definitions().input_models(indicator_code),
    )
    return Explanation(
        indicator_code=indicator_code,
        municipality_code=municipality_code,
        month=month,
        sex=sex,
        age_group=age_group,
        name=definition.name_en,
        formula=definition.formula,
        numerator_definition=definition.numerator.text,
        denominator_definition=(
            "" if definition.denominator is None else definition.denominator.text
        ),
        source=cell["source"],
        numerator=Decimal(cell["numerator"]),
        denominator=None if cell["denominator"] is None else Decimal(cell["denominator"]),
        value=None if cell["value"] is None else Decimal(cell["value"]),
        rows=rows,
        batches=batches,
        validations=validations,
        models=models,
        kind=indicator_kind(definition),
        precision=definition.precision,
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
