"""Run a suite inside PostgreSQL on one table and turn the result into a verdict.

`validate_batch` gates a staged batch (critical failures reject it, warnings flag it, info
is recorded); `validate_table` is the same machinery for marts after dbt. Every result is
stored in `ops.validation_results`, and Data Docs are rebuilt under OBSERVATORIO_HOME.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from psycopg import sql

from expectations.context import SuiteContext, recent_batch_rows
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect, sqlalchemy_url, warehouse_url

if TYPE_CHECKING:
    import great_expectations as gx

    from ingestion.staged import StagedBatch

log = logging.getLogger(__name__)
DOCS_SITE = "observatorio_docs"
SAMPLE_ROWS = 10


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation_type: str
    column: str | None
    severity: str
    success: bool
    observed_value: str | None
    unexpected_count: int | None
    sample_rows: list[int]

    def describe(self) -> str:
        where = f"({self.column})" if self.column else ""
        detail = f"{self.unexpected_count} unexpected" if self.unexpected_count else ""
        if self.observed_value is not None and not self.unexpected_count:
            detail = f"observed {self.observed_value}"
        rows = f"; sample rows {', '.join(map(str, self.sample_rows))}" if self.sample_rows else ""
        return f"{self.expectation_type}{where} [{self.severity}] {detail}{rows}".strip()


@dataclass
class GateOutcome:
    run_id: str
    suite_name: str
    batch_id: str | None
    results: list[ExpectationOutcome] = field(default_factory=list)
    docs_index: str | None = None
    scope: str = "batch"

    def failed(self, severity: str) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success and r.severity == severity]

    @property
    def rejects(self) -> bool:
        return bool(self.failed("critical"))

    def warnings(self) -> list[str]:
        where = "" if self.scope == "batch" else f" ({self.scope})"
        return [f"{self.suite_name}{where}: {r.describe()}" for r in self.failed("warning")]

    def summary(self) -> str:
        critical = self.failed("critical")
        if critical:
            return "critical expectations failed: " + "; ".join(r.describe() for r in critical)
        return f"{len(self.results)} expectations, {len(self.failed('warning'))} warnings"


def _gx_context(settings: Settings) -> Any:
    import great_expectations as gx

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    settings.gx_docs_dir.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(settings.gx_docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    return context


def _column_of(config: Any) -> str | None:
    kwargs = config.kwargs
    if "column" in kwargs:
        return str(kwargs["column"])
    for key in ("column_A", "column_list", "column_set"):
        if key in kwargs and key != "column_set":
            value = kwargs[key]
            return ",".join(value) if isinstance(value, list) else str(value)
    return None


def _sample_rows(result: dict[str, Any]) -> list[int]:
    rows: list[int] = []
    for entry in result.get("partial_unexpected_index_list") or []:
        if isinstance(entry, dict) and entry.get("_source_row") is not None:
            rows.append(int(entry["_source_row"]))
    return sorted(rows)[:SAMPLE_ROWS]


def _observed(result: dict[str, Any]) -> str | None:
    if "observed_value" not in result:
        return None
    value = result["observed_value"]
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:500]


def _check_of(config: Any) -> tuple[str, str | None]:
    """The check's name and columns; a query expectation may name itself in its meta."""
    meta = config.meta or {}
    if "check" in meta:
        return str(meta["check"]), ",".join(meta.get("column_list") or []) or None
    return str(config.type), _column_of(config)


def _locate_rows(
    settings: Settings, schema: str, table: str, index_column: str, config: Any, result: Any
) -> list[int]:
    """Sample rows for a failure GX gives no row indices for.

    On SQL engines GX returns only the offending values of a compound-column expectation, and
    nothing row-level for a query expectation: this finds the rows inside PostgreSQL, either
    those carrying the offending value combinations or those sharing a duplicated key.
    """
    meta = config.meta or {}
    relation = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
    if "column_list" in meta:
        key = sql.SQL(", ").join(map(sql.Identifier, meta["column_list"]))
        query = sql.SQL(
            "select {index} from {rel} where ({key}) in (select {key} from {rel}"
            " group by {key} having count(*) > 1) order by 1 limit %s"
        ).format(index=sql.Identifier(index_column), rel=relation, key=key)
        params: list[Any] = [SAMPLE_ROWS]
    else:
        values = result.get("partial_unexpected_list") or []
        combos = [v for v in values if isinstance(v, dict) and v]
        if not combos:
            return []
        columns = sorted(combos[0])
        predicate = sql.SQL(" or ").join(
            sql.SQL("({})").format(
                sql.SQL(" and ").join(
                    sql.SQL("{} is not distinct from %s").format(sql.Identifier(c)) for c in columns
                )
            )
            for _ in combos
        )
        query = sql.SQL("select {} from {} where {} order by 1 limit %s").format(
            sql.Identifier(index_column), relation, predicate
        )
        params = [combo.get(c) for combo in combos for c in columns] + [SAMPLE_ROWS]
    with connect(settings, role="loader" if schema == "ingest" else "transformer") as conn:
        return [int(r[0]) for r in conn.execute(query, params).fetchall()]


def _outcomes(
    validation: Any, locate: Callable[[Any, dict[str, Any]], list[int]] | None = None
) -> list[ExpectationOutcome]:
    outcomes = []
    for item in validation.results:
        config = item.expectation_config
        result = item.result or {}
        severity = str(getattr(config, "severity", "critical") or "critical")
        rows = _sample_rows(result)
        if not item.success and not rows and locate is not None:
            rows = locate(config, result)
        check, column = _check_of(config)
        outcomes.append(
            ExpectationOutcome(
                expectation_type=check,
                column=column,
                severity=severity.split(".")[-1].lower(),
                success=bool(item.success),
                observed_value=_observed(result),
                unexpected_count=result.get("unexpected_count"),
                sample_rows=rows,
            )
        )
    return outcomes


@dataclass(frozen=True)
class GateTarget:
    """One table to validate with one suite (a staged batch, or a mart after dbt)."""

    build_suite: Callable[[], gx.ExpectationSuite]
    suite_name: str
    schema: str
    table: str
    batch_id: str | None = None
    index_column: str | None = "_source_row"
    # A SQL query to validate instead of `schema.table` (which then only names the asset).
    query: str | None = None


def _suite_key(config: Any) -> tuple[str, str, str]:
    """What identifies an expectation across two builds of the same suite."""
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("result_format", "batch_id")}
    severity = str(getattr(config, "severity", "") or "")
    return str(config.type), json.dumps(kwargs, sort_keys=True, default=str), severity


def _failed_only(
    build_suite: Callable[[], gx.ExpectationSuite], failed: set[Any], table: str
) -> Any:
    """A fresh build of the suite that keeps only the expectations that failed on `table`."""
    suite = build_suite()
    suite.name = f"{suite.name}__{table}__failed"
    for expectation in list(suite.expectations):
        if _suite_key(expectation.configuration) not in failed:
            suite.expectations.remove(expectation)
    return suite


def _run_checkpoint(
    context: Any,
    source: Any,
    plan: list[tuple[GateTarget, Any]],
    result_format: dict[str, Any],
    tag: str,
) -> dict[str, Any]:
    """Validate each (target, suite) in one checkpoint run; results by asset name."""
    import great_expectations as gx

    definitions = []
    for target, suite in plan:
        try:
            asset = source.get_asset(target.table)
        except LookupError:
            asset = (
                source.add_query_asset(name=target.table, query=target.query)
                if target.query
                else source.add_table_asset(
                    name=target.table, table_name=target.table, schema_name=target.schema
                )
            )
        batch = next(iter(asset.batch_definitions), None) or asset.add_batch_definition_whole_table(
            "whole_table"
        )
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=f"{target.suite_name}__{target.table}{tag}", data=batch, suite=suite
                )
            )
        )
    # No UpdateDataDocsAction: it rebuilds the whole site after every validation. The site
    # is built once, by the caller, for the whole run.
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"gate__{uuid.uuid4().hex[:12]}",
            validation_definitions=definitions,
            result_format=result_format,
        )
    )
    run = checkpoint.run()
    return {
        str(v.meta["active_batch_definition"]["data_asset_name"]): v
        for v in run.run_results.values()
    }


def validate_tables(
    targets: list[GateTarget], settings: Settings | None = None, store: bool = True
) -> list[GateOutcome]:
    """Validate tables inside PostgreSQL, all in one GX context, in two checkpoint runs.

    One context for many tables matters: building a context, a datasource and Data Docs
    costs more than validating a day's batch. Suites are built once the context exists
    (GX binds suites to the active context) and once per suite name.

    The first run asks GX for verdicts and counts only (no sample of unexpected values), so
    each row-level expectation is one aggregate in a shared scan instead of two more scans
    for samples that a passing batch never has. Only the expectations that failed run again,
    with a sample of their unexpected rows, for the message and Data Docs. Results are stored
    in `ops.validation_results`; Data Docs are rebuilt once.
    """
    if not targets:
        return []
    settings = settings or get_settings()
    context = _gx_context(settings)
    source = context.data_sources.add_postgres(
        name="warehouse",
        connection_string=sqlalchemy_url(
            warehouse_url(
                settings, role="loader" if targets[0].schema == "ingest" else "transformer"
            )
        ),
    )
    suites: dict[str, Any] = {}
    for target in targets:
        if target.suite_name not in suites:
            suites[target.suite_name] = context.suites.add(target.build_suite())
    index_columns = sorted({t.index_column for t in targets if t.index_column})
    counts_only: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
    with_samples: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLE_ROWS,
    }
    if index_columns:
        with_samples["unexpected_index_column_names"] = index_columns
    by_asset = _run_checkpoint(
        context, source, [(t, suites[t.suite_name]) for t in targets], counts_only, ""
    )
    detail_plan = []
    for target in targets:
        results = by_asset[target.table].results
        failed = {_suite_key(r.expectation_config) for r in results if not r.success}
        if failed:
            suite = _failed_only(target.build_suite, failed, target.table)
            detail_plan.append((target, context.suites.add(suite)))
    details = (
        _run_checkpoint(context, source, detail_plan, with_samples, "__detail")
        if detail_plan
        else {}
    )
    context.build_data_docs(site_names=[DOCS_SITE])
    outcomes = []
    for target in targets:
        column = target.index_column
        locate = (
            (
                lambda config, result, t=target, c=column: _locate_rows(
                    settings, t.schema, t.table, c, config, result
                )
            )
            if column
            else None
        )
        results = _outcomes(by_asset[target.table])
        if target.table in details:
            sampled = {
                (r.expectation_type, r.column, r.severity): r
                for r in _outcomes(details[target.table], locate)
            }
            results = [
                replace(r, sample_rows=sampled[key].sample_rows)
                if not r.success and (key := (r.expectation_type, r.column, r.severity)) in sampled
                else r
                for r in results
            ]
        outcomes.append(
            GateOutcome(
                run_id=uuid.uuid4().hex,
                suite_name=target.suite_name,
                batch_id=target.batch_id,
                results=results,
                docs_index=str(settings.gx_docs_dir / "index.html"),
            )
        )
    if store:
        store_outcomes(outcomes, settings)
    log.info("Great Expectations Data Docs: file://%s", settings.gx_docs_dir / "index.html")
    return outcomes


def store_outcomes(outcomes: list[GateOutcome], settings: Settings | None = None) -> None:
    with connect(settings, role="loader") as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into ops.validation_results (run_id, batch_id, suite_name,"
            " expectation_type, column_name, severity, success, observed_value,"
            " unexpected_count, sample_rows, scope)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    outcome.run_id,
                    outcome.batch_id,
                    outcome.suite_name,
                    r.expectation_type,
                    r.column,
                    r.severity,
                    r.success,
                    r.observed_value,
                    r.unexpected_count,
                    ",".join(map(str, r.sample_rows)) or None,
                    outcome.scope,
                )
                for outcome in outcomes
                for r in outcome.results
            ],
        )


def suite_factory(source: str, settings: Settings | None = None) -> Callable[[], Any]:
    """A builder for the source's suite (`expectations.generated`), with its batch history."""
    from expectations.generated import build_suite

    with connect(settings, role="loader") as conn:
        history = recent_batch_rows(conn, source)
    context = SuiteContext(suite_name=source, recent_batch_rows=history)
    return lambda: build_suite(context)


# From this many batches of one source in a run, validate them together first (a backfill
# or a day of many files): one GX validation instead of one per file.
COMBINE_FROM = 4


def _targets(staged: list[StagedBatch], factory: Callable[[], Any]) -> list[GateTarget]:
    return [
        GateTarget(
            build_suite=factory,
            suite_name=b.source,
            schema="ingest",
            table=b.staging_table,
            batch_id=b.batch_id,
        )
        for b in staged
    ]


def _combined_view(staged: list[StagedBatch], settings: Settings) -> str:
    name = f"{staged[0].source}__run_{uuid.uuid4().hex[:12]}"
    union = sql.SQL(" union all ").join(
        sql.SQL("select * from ingest.{}").format(sql.Identifier(b.staging_table)) for b in staged
    )
    with connect(settings, role="loader") as conn:
        conn.execute(sql.SQL("create view ingest.{} as {}").format(sql.Identifier(name), union))
    return name


def _drop_view(name: str, settings: Settings) -> None:
    with connect(settings, role="loader") as conn:
        conn.execute(sql.SQL("drop view if exists ingest.{}").format(sql.Identifier(name)))


def _validate_together(
    staged: list[StagedBatch], factory: Callable[[], Any], settings: Settings
) -> list[GateOutcome]:
    """Validate a source's batches of one run as one view; per batch only if that fails.

    Critical expectations are row-level or monotone (schema, not null, uniqueness, values in
    a set or range, maximum date), so a pass on the union is a pass for every batch. On a
    critical failure each batch is validated alone, so only the offending files are
    rejected. Warnings found on the union flag every batch of the run ("run-level").
    """
    view = _combined_view(staged, settings)
    try:
        (combined,) = validate_tables(
            [
                GateTarget(
                    build_suite=factory,
                    suite_name=staged[0].source,
                    schema="ingest",
                    table=view,
                    batch_id=None,
                )
            ],
            settings,
            store=False,
        )
    finally:
        _drop_view(view, settings)
    if combined.rejects:
        log.info(
            "%s: critical failure across %d batches; validating each batch alone",
            staged[0].source,
            len(staged),
        )
        return validate_tables(_targets(staged, factory), settings)
    outcomes = [
        GateOutcome(
            run_id=combined.run_id,
            suite_name=combined.suite_name,
            batch_id=b.batch_id,
            results=[replace(r, sample_rows=[]) for r in combined.results],
            docs_index=combined.docs_index,
            scope=f"run-level, {len(staged)} batches",
        )
        for b in staged
    ]
    store_outcomes(outcomes, settings)
    return outcomes


def validate_batches(
    staged: list[StagedBatch], settings: Settings | None = None
) -> list[GateOutcome]:
    """The gate for staged batches: one verdict each, in as few GX validations as possible."""
    settings = settings or get_settings()
    by_source: dict[str, list[StagedBatch]] = {}
    for batch in staged:
        by_source.setdefault(batch.source, []).append(batch)
    verdicts: dict[str, GateOutcome] = {}
    alone: list[GateTarget] = []
    for source, batches in by_source.items():
        factory = suite_factory(source, settings)
        if len(batches) >= COMBINE_FROM:
            for outcome in _validate_together(batches, factory, settings):
                verdicts[str(outcome.batch_id)] = outcome
        else:
            alone.extend(_targets(batches, factory))
    for outcome in validate_tables(alone, settings):
        verdicts[str(outcome.batch_id)] = outcome
    outcomes = [verdicts[b.batch_id] for b in staged]
    # Each batch's results as a data-quality facet of its raw table (OpenLineage).
    from observatorio.lineage.openlineage import emit_gate_events

    emit_gate_events([(b.source, o) for b, o in zip(staged, outcomes, strict=True)], settings)
    return outcomes


def validate_batch(staged: StagedBatch, settings: Settings | None = None) -> GateOutcome:
    """The gate for one staged batch."""
    return validate_batches([staged], settings)[0]
