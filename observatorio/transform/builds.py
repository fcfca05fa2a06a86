"""Whether a warehouse build has anything to do, and the record of each successful build.

`build_warehouse` starts with `plan_build()` and ends with `record_build()`; the main job
(`observatorio run`) asks `plan_build()` before it even starts the DAG. A build is needed when
a batch was published since the last successful build (the count of loaded batches in
`ops.batch_ledger`, or the newest one's publication time, differs from what that build saw),
when the dbt project or what dbt reads of the country profile changed since (`build_fingerprint`:
models, macros, seeds, indicator definitions; the profile's reference tables and publication
rules) or when no build was recorded or the marts are
missing. Nothing new, nothing rebuilt: dbt does not run.

Incremental models (the largest facts, the indicator contributions and the indicator mart)
merge the rows of the batches published since their last build. Their definitions are in the
project's files, so a changed project is built with `--full-refresh`: a changed seed (a code
map reclassifying offences), macro or model can change any row, and rebuilding from scratch
is the one way that is always right. So is the first build, and a build whose marts are gone.

The state read and written is `ops.build_ledger` (transformer role: select, insert). dbt reads
it too (macro `batches_since_last_build`): in an incremental build, the tests of the models
whose meta names `changed_records` check only the records of the batches published since the
last recorded build.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from observatorio.core.roles import Role
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import connect

# The last relation a build publishes (`reconciliation` group): its absence means a rebuild.
LAST_MART = "marts.mart_indicators_monthly"


@dataclass(frozen=True)
class BuildPlan:
    """What a build would do, and why; JSON-able (it travels by XCom)."""

    is_needed: bool
    is_full_refresh: bool
    reason: str
    batches_loaded: int
    latest_batch_at: str | None
    project_fingerprint: str
    started_at: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def published_batches(conn: Any) -> tuple[int, datetime | None]:
    """The count of published (loaded) batches and the newest one's publication time."""
    row = conn.execute(
        "select count(*), max(finished_at) from ops.batch_ledger where status = 'loaded'"
    ).fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


def _last_build(conn: Any) -> tuple[int, datetime | None, str] | None:
    row = conn.execute(
        "select batches_loaded, latest_batch_at, project_fingerprint from ops.build_ledger"
        " order by build_id desc limit 1"
    ).fetchone()
    return (int(row[0]), row[1], str(row[2])) if row else None


def build_fingerprint(settings: Settings) -> str:
    """What every row of a build depends on besides the batches: the dbt project
    (`project_fingerprint`) and what dbt reads of the active country profile (its reference
    tables, its publication rules). A change to either can change any published cell, so it
    means a full refresh: the incremental models keep what earlier builds wrote."""
    from observatorio.transform.dbt import profile_reference
    from observatorio.transform.manifest import project_fingerprint

    digest = hashlib.sha256(project_fingerprint(settings).encode())
    digest.update(b"\0" + profile_reference(settings).encode())
    return digest.hexdigest()


def plan_build(settings: Settings | None = None) -> BuildPlan:
    """Compare the published batches, the dbt project and the country profile with the last
    successful build."""
    settings = settings or get_settings()
    fingerprint = build_fingerprint(settings)
    with connect(settings, role=Role.TRANSFORMER) as conn:
        row = conn.execute("select now(), to_regclass(%s) is not null", (LAST_MART,)).fetchone()
        now, has_marts = (row[0], bool(row[1])) if row else (None, False)
        batches, latest = published_batches(conn)
        last = _last_build(conn)
    if last is None or not has_marts:
        needed, full, reason = True, True, "no successful build recorded: full build"
    elif last[2] != fingerprint:
        reason = "the dbt project or the country profile changed: full refresh"
        needed, full = True, True
    elif (batches, latest) != (last[0], last[1]):
        needed, full = True, False
        reason = f"{batches - last[0]} batch(es) published since the last build: incremental"
    else:
        needed, full, reason = False, False, "no batch published since the last build"
    return BuildPlan(
        is_needed=needed,
        is_full_refresh=full,
        reason=reason,
        batches_loaded=batches,
        latest_batch_at=latest.isoformat() if latest else None,
        project_fingerprint=fingerprint,
        started_at=now.isoformat() if now else "",
    )


def record_build(
    plan: dict[str, Any], run_id: str | None = None, settings: Settings | None = None
) -> None:
    """Record a finished build with the batches and project it started from (its plan)."""
    settings = settings or get_settings()
    with connect(settings, role=Role.TRANSFORMER) as conn:
        conn.execute(
            "insert into ops.build_ledger (run_id, batches_loaded, latest_batch_at,"
            " project_fingerprint, is_full_refresh, started_at) values (%s, %s, %s, %s, %s, %s)",
            (
                run_id,
                plan["batches_loaded"],
                plan["latest_batch_at"],
                plan["project_fingerprint"],
                plan["is_full_refresh"],
                plan["started_at"],
            ),
        )
