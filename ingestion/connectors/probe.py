"""Would a connector's pull land anything? One cheap question per source, asked before a run.

The main job (`observatorio run`) asks it for every source a connector DAG pulls, so a run
with nothing new does not start those DAGs. The connector that pulls a contract is the one
its cursor is written for: the REST connector's sources are the entities of
`ingestion.connectors.rest.ENDPOINTS` (`cursor: [<updated field>]`), any other contract with
a cursor is pulled by the SQL connector (`cursor: [updated_at, <id column>]`). Both answer
from the same watermark, connection and route as their pull, without landing anything.
"""

from __future__ import annotations

from ingestion.contract import load_contract
from ingestion.watermarks import Probe
from observatorio.core.settings import Settings


def is_pulled(source: str) -> bool:
    """Whether a connector pulls `source` (its contract declares a cursor)."""
    return bool(load_contract(source).cursor)


def changed_since_watermark(source: str, settings: Settings) -> Probe:
    """Ask the connector that pulls `source` whether anything changed since its watermark.

    Raises what the connector raises when it cannot ask (no connection configured, the
    source unreachable): the caller then runs the pull, which reports it properly.
    """
    from ingestion.connectors import rest

    if load_contract(source).name in rest.ENDPOINTS:
        return rest.changed_since_watermark(source, settings=settings)
    from ingestion.connectors import sql

    return sql.changed_since_watermark(source, settings=settings)
