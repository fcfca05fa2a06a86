"""The dbt models between a published mart and the sources, from dbt's manifest.

`models_between()` walks the manifest's `parent_map` from the mart down through
`fct_indicator_contributions` to the models an indicator's definition counts rows of (its
input models, `observatorio.indicators`), so `explain` can list every model a number went
through. Pure: reads a manifest dict, touches no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from observatorio.lineage.recompute import LineageError


@dataclass(frozen=True)
class Model:
    """A dbt node between the mart and the sources."""

    unique_id: str
    resource_type: str
    relation: str
    depth: int


def _relation(node: dict[str, Any]) -> str:
    if node.get("resource_type") == "source":
        return f"{node.get('schema')}.{node.get('identifier') or node.get('name')}"
    return f"{node.get('schema')}.{node.get('alias') or node.get('name')}"


CONTRIBUTIONS = "fct_indicator_contributions"


def _node_id(nodes: dict[str, dict[str, Any]], name: str) -> str:
    found = next((k for k in nodes if k.startswith("model.") and k.endswith(f".{name}")), None)
    if found is None:
        raise LineageError(f"the dbt manifest has no model {name}")
    return found


def models_between(manifest: dict[str, Any], mart: str, input_models: Iterable[str]) -> list[Model]:
    """The dbt nodes from `mart` down to the sources, through the indicator's input models.

    The walk follows `parent_map` breadth first, so each node has its distance from the
    mart; below `fct_indicator_contributions` it follows only `input_models` (the models
    the indicator's rows come from, per its definition), not the other indicators' inputs.
    """
    nodes: dict[str, dict[str, Any]] = {**manifest["nodes"], **manifest.get("sources", {})}
    parent_map: dict[str, list[str]] = manifest["parent_map"]
    mart_id = _node_id(nodes, mart)
    contributions_id = _node_id(nodes, CONTRIBUTIONS)
    inputs = {_node_id(nodes, name) for name in input_models}
    if not inputs:
        raise LineageError(f"no input model for the indicator below {CONTRIBUTIONS}")
    depth = {mart_id: 0}
    queue = [mart_id]
    for node_id in queue:
        parents = parent_map.get(node_id, [])
        if node_id == contributions_id:
            parents = [p for p in parents if p in inputs]
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
