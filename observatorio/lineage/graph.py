"""The dbt models between a published mart and the sources, from dbt's manifest.

`models_between()` walks the manifest's `parent_map` from the mart down through the
`int_indicators__*` family that computes an indicator, so `explain` can list every model a
number went through. Pure: reads a manifest dict, touches no database.
"""

from __future__ import annotations

import re
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


def models_between(
    manifest: dict[str, Any],
    mart: str,
    indicator_code: str,
    fact_models: Iterable[str] | None = None,
) -> list[Model]:
    """The dbt nodes from `mart` down to the sources, for the family computing the indicator.

    The family is the `int_indicators__*` parent of the mart whose SQL names the indicator
    (or its prefix, for `<prefix>__<type>` codes);
    the walk follows `parent_map` breadth first, so each node has its distance from the mart.
    With `fact_models`, the family's other fact tables (other indicators' inputs) are left out.
    """
    keep = None if fact_models is None else set(fact_models)
    nodes: dict[str, dict[str, Any]] = {**manifest["nodes"], **manifest.get("sources", {})}
    parent_map: dict[str, list[str]] = manifest["parent_map"]
    mart_id = next((k for k in nodes if k.startswith("model.") and k.endswith(f".{mart}")), None)
    if mart_id is None:
        raise LineageError(f"the dbt manifest has no model {mart}")
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
        raise LineageError(f"no parent of {mart} in the dbt manifest computes {indicator_code!r}")
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
