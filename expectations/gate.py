"""Run a suite inside PostgreSQL on one table and turn the result into a verdict.

`validate_batch` gates a staged batch (critical failures reject it, warnings flag it, info
is recorded); `validate_table` is the same machinery for marts after dbt. Every result is
stored in `ops.validation_results`, and Data Docs are rebuilt under OBSERVATORIO_HOME.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from expectations.context import SuiteContext, recent_batch_rows
from observatorio.settings import Settings, get_settings
from observatorio.warehouse import connect, sqlalchemy_url, warehouse_url

if TYPE_CHECKING:
    import great_expectations as gx

    from ingestion.loader import StagedBatch

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

    def failed(self, severity: str) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success and r.severity == severity]

    @property
    def rejects(self) -> bool:
        return bool(self.failed("critical"))

    def warnings(self) -> list[str]:
        return [f"{self.suite_name}: {r.describe()}" for r in self.failed("warning")]

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


def _outcomes(validation: Any) -> list[ExpectationOutcome]:
    outcomes = []
    for item in validation.results:
        config = item.expectation_config
        result = item.result or {}
        severity = str(getattr(config, "severity", "critical") or "critical")
        outcomes.append(ExpectationOutcome(
            expectation_type=str(config.type),
            column=_column_of(config),
            severity=severity.split(".")[-1].lower(),
            success=bool(item.success),
            observed_value=_observed(result),
            unexpected_count=result.get("unexpected_count"),
            sample_rows=_sample_rows(result),
        ))
    return outcomes


def validate_table(
    build_suite: Callable[[], gx.ExpectationSuite],
    schema: str,
    table: str,
    batch_id: str | None,
    settings: Settings | None = None,
    index_column: str | None = "_source_row",
) -> GateOutcome:
    """Validate one PostgreSQL table with a suite (SQL runs in the database), store results.

    The suite is built by `build_suite` once the GX context exists: GX binds suites to the
    active context when expectations are added.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    settings = settings or get_settings()
    context = _gx_context(settings)
    source = context.data_sources.add_postgres(
        name="warehouse", connection_string=sqlalchemy_url(warehouse_url(settings))
    )
    asset = source.add_table_asset(name=table, table_name=table, schema_name=schema)
    batch_definition = asset.add_batch_definition_whole_table("whole_table")
    suite = context.suites.add(build_suite())
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite.name}__{table}", data=batch_definition, suite=suite)
    )
    result_format: dict[str, Any] = {"result_format": "SUMMARY",
                                     "partial_unexpected_count": SAMPLE_ROWS}
    if index_column:
        result_format["unexpected_index_column_names"] = [index_column]
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"gate__{table}",
        validation_definitions=[definition],
        actions=[UpdateDataDocsAction(name="docs", site_names=[DOCS_SITE])],
        result_format=result_format,
    ))
    run = checkpoint.run()
    validation = next(iter(run.run_results.values()))
    outcome = GateOutcome(
        run_id=uuid.uuid4().hex, suite_name=suite.name, batch_id=batch_id,
        results=_outcomes(validation),
        docs_index=str(settings.gx_docs_dir / "index.html"),
    )
    store_outcome(outcome, settings)
    log.info("Great Expectations Data Docs: file://%s", outcome.docs_index)
    return outcome


def store_outcome(outcome: GateOutcome, settings: Settings | None = None) -> None:
    with connect(settings) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into ops.validation_results (run_id, batch_id, suite_name,"
            " expectation_type, column_name, severity, success, observed_value,"
            " unexpected_count, sample_rows) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (outcome.run_id, outcome.batch_id, outcome.suite_name, r.expectation_type,
                 r.column, r.severity, r.success, r.observed_value, r.unexpected_count,
                 ",".join(map(str, r.sample_rows)) or None)
                for r in outcome.results
            ],
        )


def suite_factory(source: str, settings: Settings | None = None) -> Callable[[], Any]:
    """A builder for `expectations.suites.<source>`'s suite, with the source's batch history."""
    module = importlib.import_module(f"expectations.suites.{source}")
    with connect(settings) as conn:
        history = recent_batch_rows(conn, source)
    context = SuiteContext(suite_name=source, recent_batch_rows=history)
    return lambda: module.build_suite(context)


def validate_batch(staged: StagedBatch, settings: Settings | None = None) -> GateOutcome:
    """The gate for one staged batch."""
    settings = settings or get_settings()
    factory = suite_factory(staged.source, settings)
    return validate_table(factory, "ingest", staged.staging_table, staged.batch_id, settings)
