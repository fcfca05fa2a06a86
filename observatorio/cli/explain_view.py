"""The terminal view of `observatorio explain`: rich tables for a cell and for a verify run."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from observatorio.lineage.explain import Explanation, Result

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
