"""What a delivery says about itself: the lineage of its numbers and its manifest.

The dbt manifest (`target/manifest.json`) gives the raw sources and fact tables behind each
mart; `ops.batch_ledger` gives the loaded batches with their files' SHA-256 and the as-of
date; the OpenLineage events name the dbt run that built each mart. `write_manifest` puts it
together with the delivered files' checksums in `manifest.json` (and `lineage.json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from observatorio.core.settings import Settings
from observatorio.delivery.errors import ExtractError
from observatorio.delivery.specs import Dataset, ExtractSpec
from observatorio.delivery.writers import file_entry


@dataclass
class Delivery:
    """What one delivery produced; `folder` is kept in the outbox whatever the channel."""

    spec: ExtractSpec
    period: str | None
    folder: Path
    files: list[dict[str, Any]]
    rows: int
    suppressed_cells: int
    as_of: str | None
    archive: Path | None = None
    remote_location: str | None = None
    warnings: list[str] = field(default_factory=list)


def dbt_manifest(settings: Settings) -> dict[str, Any]:
    """The project's dbt manifest, through the one loader (`observatorio.transform.manifest`)."""
    from observatorio.transform import manifest

    try:
        return manifest.load(settings)
    except manifest.ManifestError as exc:
        raise ExtractError(str(exc)) from exc


def dbt_node(manifest: dict[str, Any], mart: str) -> dict[str, Any]:
    key = f"model.observatorio.{mart}"
    if key not in manifest["nodes"]:
        raise ExtractError(f"mart {mart!r} is not a model of the dbt project")
    node: dict[str, Any] = manifest["nodes"][key]
    return node


def upstream_sources(manifest: dict[str, Any], node_id: str) -> list[str]:
    """The raw tables (`<source>__<entity>`) a model is built from, walking the DAG up."""
    seen: set[str] = set()
    stack = [node_id]
    sources: set[str] = set()
    while stack:
        current = stack.pop()
        for parent in manifest["parent_map"].get(current, []):
            if parent in seen:
                continue
            seen.add(parent)
            if parent.startswith("source."):
                sources.add(manifest["sources"][parent]["name"])
            else:
                stack.append(parent)
    return sorted(sources)


INDICATOR_MART = "mart_indicators_monthly"
# Columns of `fct_indicator_contributions` a dataset filter on the indicator mart narrows.
CONTRIBUTION_KEYS = ("indicator_code", "municipality_code", "month", "sex", "age_group")
BREAKDOWN_KEYS = ("sex", "age_group")


def upstream_facts(manifest: dict[str, Any], node_id: str) -> list[str]:
    """The `marts` models upstream of a mart (itself included) that keep each row's
    `batch_id`: the fact tables whose batches the mart's numbers reflect."""
    seen = {node_id}
    stack = [node_id]
    facts: set[str] = set()
    while stack:
        current = stack.pop()
        node = manifest["nodes"].get(current, {})
        in_marts = node.get("schema") == "marts" and current.startswith("model.")
        if in_marts and "batch_id" in node.get("columns", {}):
            facts.add(str(node.get("alias") or node["name"]))
        for parent in manifest["parent_map"].get(current, []):
            if parent not in seen and parent.startswith("model."):
                seen.add(parent)
                stack.append(parent)
    return sorted(facts)


def _fact_period(model: str) -> sql.Composable | None:
    """The condition that keeps a fact's rows of one month (`%s`, `YYYY-MM`): the month of
    the date its interface in `dbt_project/indicators/_facts.yml` counts it by."""
    from observatorio.indicators.definitions import load_definitions

    for interface in load_definitions().interfaces.values():
        if interface.model != model:
            continue
        if interface.month_of:
            return sql.SQL("to_char({}, 'YYYY-MM') = %s").format(sql.Identifier(interface.month_of))
        if interface.year_of:
            return sql.SQL("{}::text = left(%s, 4)").format(sql.Identifier(interface.year_of))
    return None


def _fact_filter(
    column: str, values: list[str], fact_columns: Iterable[str]
) -> tuple[sql.Composable, list[Any]] | None:
    """A dataset filter as a condition on the fact's rows (a department through its
    municipalities), or None when the fact cannot be narrowed by it."""
    if column in fact_columns:
        return sql.SQL("{}::text = any(%s)").format(sql.Identifier(column)), [values]
    if column == "department_code" and "municipality_code" in fact_columns:
        return (
            sql.SQL(
                "municipality_code in (select municipality_code from marts.dim_municipality"
                " where department_code = any(%s))"
            ),
            [values],
        )
    return None


def reflected_batch_ids(
    conn: psycopg.Connection,
    manifest: dict[str, Any],
    dataset: Dataset,
    period: str | None,
) -> tuple[set[str], str]:
    """The batches whose rows a dataset's delivered cells count, and where that was read.

    The indicator mart is narrowed to the delivered cells through
    `marts.fct_indicator_contributions` (period and filters). Any other mart is narrowed in
    the fact tables it is built from: to the period by the date each fact's interface counts
    it by (`_facts.yml`), and by the dataset's filters where the fact holds the column; a
    fact that cannot be narrowed says so in the returned description (`all rows`).
    """
    if dataset.mart == INDICATOR_MART:
        where: list[sql.Composable] = [sql.SQL("batch_id is not null")]
        params: list[Any] = []
        if period is not None:
            where.append(sql.SQL("month = %s"))
            params.append(period)
        for column, values in dataset.filters.items():
            if column in BREAKDOWN_KEYS:
                # A row carries its own sex and age group: a cell of `all` is every row.
                where.append(
                    sql.SQL("('all' = any(%s) or {} = any(%s))").format(sql.Identifier(column))
                )
                params += [values, values]
            elif column in CONTRIBUTION_KEYS:
                where.append(sql.SQL("{} = any(%s)").format(sql.Identifier(column)))
                params.append(values)
        query = sql.SQL(
            "select distinct batch_id from marts.fct_indicator_contributions where {}"
        ).format(sql.SQL(" and ").join(where))
        found = {str(r[0]) for r in conn.execute(query, params).fetchall()}
        return found, "marts.fct_indicator_contributions"
    facts = upstream_facts(manifest, f"model.observatorio.{dataset.mart}")
    batch_ids: set[str] = set()
    described: list[str] = []
    for fact in facts:
        columns = manifest["nodes"].get(f"model.observatorio.{fact}", {}).get("columns", {})
        conditions: list[sql.Composable] = [sql.SQL("batch_id is not null")]
        params = []
        narrowed = True
        if period is not None:
            by_period = _fact_period(fact)
            if by_period is None:
                narrowed = False
            else:
                conditions.append(by_period)
                params.append(period)
        for column, values in dataset.filters.items():
            found_filter = _fact_filter(column, values, columns)
            if found_filter is None:
                narrowed = False
            else:
                conditions.append(found_filter[0])
                params += found_filter[1]
        query = sql.SQL("select distinct batch_id from {} where {}").format(
            sql.Identifier("marts", fact), sql.SQL(" and ").join(conditions)
        )
        batch_ids |= {str(r[0]) for r in conn.execute(query, params).fetchall()}
        described.append(f"marts.{fact}" + ("" if narrowed else " (all rows)"))
    return batch_ids, ", ".join(described)


def lineage_summary(
    conn: psycopg.Connection,
    sources: list[str],
    generated_at: datetime,
    batch_ids: Iterable[str] | None = None,
) -> dict[str, Any]:
    """The loaded batches behind the numbers (with their files' SHA-256) and the as-of date
    (when the latest of them was loaded). With `batch_ids`, exactly those batches; without,
    every loaded batch of the sources."""
    if batch_ids is None:
        where, params = "source = any(%s)", [sources]
    else:
        where, params = "batch_id = any(%s)", [sorted(set(batch_ids))]
    batches = conn.execute(
        "select batch_id, source, source_file, file_sha256, rows_loaded, finished_at"
        f" from ops.batch_ledger where status = 'loaded' and {where}"
        " order by finished_at, batch_id",
        params,
    ).fetchall()
    as_of = max((b[5] for b in batches if b[5] is not None), default=None)
    return {
        "as_of": as_of.isoformat() if as_of else None,
        "generated_at": generated_at.isoformat(),
        "sources": sources,
        "batches": [
            {
                "batch_id": b[0],
                "source": b[1],
                "source_file": b[2],
                "file_sha256": b[3],
                "rows_loaded": b[4],
                "loaded_at": b[5].isoformat() if b[5] else None,
            }
            for b in batches
        ],
    }


def openlineage_reference(marts: Sequence[str], settings: Settings) -> dict[str, Any]:
    """The OpenLineage namespace, and per mart the dbt run that last built it (when known)."""
    from observatorio.lineage.openlineage import lineage_namespace, producing_run

    return {
        "namespace": lineage_namespace(settings),
        "producing_runs": {f"marts.{m}": producing_run("marts", m, settings) for m in marts},
    }


def write_lineage(folder: Path, lineage: dict[str, Any]) -> dict[str, Any]:
    """`lineage.json` in the delivery folder; returns its file entry."""
    path = folder / "lineage.json"
    path.write_text(json.dumps(lineage, indent=2, ensure_ascii=False), "utf-8")
    return file_entry(path, len(lineage["batches"]))


def write_manifest(
    folder: Path,
    spec: ExtractSpec,
    period: str | None,
    generated_at: datetime,
    datasets: list[dict[str, Any]],
    files: list[dict[str, Any]],
    lineage: dict[str, Any],
) -> Path:
    """`manifest.json`: recipient, spec, period, disclosure rules, datasets, files with their
    SHA-256, and the same lineage as `lineage.json`."""
    path = folder / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "recipient": spec.recipient,
                "spec": spec.path.name,
                "description": spec.description,
                "period": period,
                "format": spec.format,
                "language": spec.language,
                "as_of": lineage["as_of"],
                "generated_at": generated_at.isoformat(),
                "disclosure": {
                    d.name: {
                        "level": spec.level,
                        "suppression": spec.level != "owner",
                        "min_cell_size": d.disclosure.threshold,
                        "marker": d.disclosure.marker,
                    }
                    for d in spec.datasets
                },
                "datasets": datasets,
                "files": files,
                # The same lineage as lineage.json: batches, files, as-of, OpenLineage run.
                "lineage": lineage,
            },
            indent=2,
            ensure_ascii=False,
        ),
        "utf-8",
    )
    return path
