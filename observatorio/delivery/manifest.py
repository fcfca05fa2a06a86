"""What a delivery says about itself: the lineage of its numbers and its manifest.

The dbt manifest (`target/manifest.json`) gives the raw sources and fact tables behind each
mart; `ops.batch_ledger` gives the loaded batches with their files' SHA-256 and the as-of
date; the OpenLineage events name the dbt run that built each mart. `write_manifest` puts it
together with the delivered files' checksums in `manifest.json` (and `lineage.json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


def reflected_batch_ids(
    conn: psycopg.Connection,
    manifest: dict[str, Any],
    dataset: Dataset,
    period: str | None,
) -> tuple[set[str], str]:
    """The batches whose rows a dataset's numbers count, and where that was read.

    The indicator mart is narrowed to the delivered cells through
    `marts.fct_indicator_contributions` (period and filters); any other mart reflects every
    batch in the fact tables it is built from.
    """
    if dataset.mart == INDICATOR_MART:
        where: list[sql.Composable] = [sql.SQL("batch_id is not null")]
        params: list[Any] = []
        if period is not None:
            where.append(sql.SQL("month = %s"))
            params.append(period)
        for column, values in dataset.filters.items():
            if column in CONTRIBUTION_KEYS:
                where.append(sql.SQL("{} = any(%s)").format(sql.Identifier(column)))
                params.append(values)
        query = sql.SQL(
            "select distinct batch_id from marts.fct_indicator_contributions where {}"
        ).format(sql.SQL(" and ").join(where))
        found = {str(r[0]) for r in conn.execute(query, params).fetchall()}
        return found, "marts.fct_indicator_contributions"
    facts = upstream_facts(manifest, f"model.observatorio.{dataset.mart}")
    batch_ids: set[str] = set()
    for fact in facts:
        relation = sql.Identifier("marts", fact)
        query = sql.SQL("select distinct batch_id from {} where batch_id is not null").format(
            relation
        )
        batch_ids |= {str(r[0]) for r in conn.execute(query).fetchall()}
    return batch_ids, ", ".join(f"marts.{f}" for f in facts)


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
                    d.name: {"threshold": d.disclosure.threshold, "marker": d.disclosure.marker}
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
