"""What on-call hears when something goes wrong, and how it gets there.

Three kinds of alert share one message shape (`Alert`): a task failed (`on_task_failure`,
the `on_failure_callback` of every DAG through `orchestration.DEFAULT_ARGS`), a DAG run missed
its deadline (`deadline_missed`, an Airflow DeadlineAlert callback run by the triggerer), and
a monitor found a problem (`monitor_sources`: stale sources, silent municipalities).

Alerts go to e-mail through the SMTP provider (Airflow connection `smtp_default`; the
recipients are its extra `to`) and to a webhook (HTTP connection `observatorio_webhook`,
POSTed as JSON). Both are configured only as Airflow connections; a channel without its
connection is skipped with a log line, and a channel that fails never fails the task.

A message names the DAG, the task, the run, the batch and the failing expectation or dbt
node, parsed out of the exception. It never carries the exception text itself: that may
quote data values, and persons must not leave the warehouse, even as a log line in a mailbox.

Only the standard library is imported at module level: DAG files import this (through
`orchestration`) every time they are parsed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from airflow.sdk.definitions.deadline import DeadlineAlert

log = logging.getLogger(__name__)

EMAIL_CONN_ID = "smtp_default"
WEBHOOK_CONN_ID = "observatorio_webhook"
Kind = Literal["task_failed", "deadline_missed", "source_stale", "source_silent"]

# What may be quoted from an exception: identifiers the project itself makes, never values.
_BATCH = re.compile(r"\b[a-z][a-z0-9_]*__[a-z0-9_]+-[0-9a-f]{16}\b")
_FILE = re.compile(r"\b[\w.-]+\.(?:csv|jsonl|json|txt|xlsx|xml)\b", re.IGNORECASE)
_EXPECTATION = re.compile(r"\bexpect_[a-z_]+(?:\([a-z0-9_, ]*\))?")
_DBT_NODE = re.compile(r"\b(?:model|test|seed|snapshot|source|unit_test)\.observatorio\.[\w.]+")
_SAFE_TEXT = re.compile(r"[^A-Za-z0-9_.,:;()/ -]")


@dataclass(frozen=True)
class Alert:
    """One alert, with only identifiers and counts in it."""

    kind: Kind
    dag_id: str
    summary: str
    task_id: str | None = None
    run_id: str | None = None
    batches: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    expectations: list[str] = field(default_factory=list)
    dbt_nodes: list[str] = field(default_factory=list)
    error_type: str | None = None

    @property
    def subject(self) -> str:
        where = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        return f"[observatorio] {self.kind.replace('_', ' ')}: {where}"

    def as_json(self) -> dict[str, Any]:
        return {"subject": self.subject, **asdict(self)}

    def as_text(self) -> str:
        lines = [
            self.subject,
            "",
            self.summary,
            "",
            f"DAG: {self.dag_id}",
            f"Task: {self.task_id or '-'}",
            f"Run: {self.run_id or '-'}",
            f"Batch: {', '.join(self.batches) or '-'}",
            f"File: {', '.join(self.files) or '-'}",
            f"Failing expectation: {', '.join(self.expectations) or '-'}",
            f"dbt node: {', '.join(self.dbt_nodes) or '-'}",
            f"Error type: {self.error_type or '-'}",
            "",
            "The DAG's documentation (Airflow UI, DAG docs) says what to do when it fails.",
        ]
        return "\n".join(lines)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _safe(text: str, limit: int = 200) -> str:
    return _SAFE_TEXT.sub("", text)[:limit]


def _exception_chain(exception: BaseException | None) -> list[BaseException]:
    chain: list[BaseException] = []
    while exception is not None and exception not in chain:
        chain.append(exception)
        exception = exception.__cause__ or exception.__context__
    return chain


def alert_from_exception(
    dag_id: str,
    task_id: str | None,
    run_id: str | None,
    exception: BaseException | str | None,
    kind: Kind = "task_failed",
) -> Alert:
    """Build the alert for a failure: identifiers parsed from the exception, never its text."""
    chain = _exception_chain(exception) if isinstance(exception, BaseException) else []
    text = "\n".join(str(e) for e in chain) if chain else str(exception or "")
    batches = _BATCH.findall(text)
    files = _FILE.findall(text)
    for exc in chain:  # ingestion.loader.BatchRejected carries its BatchResult
        result = getattr(exc, "result", None)
        if result is not None and getattr(result, "batch_id", None):
            batches.insert(0, str(result.batch_id))
            files.insert(0, _safe(str(getattr(result, "file", "")).rsplit("/", 1)[-1]))
    error_type = type(chain[-1]).__name__ if chain else None
    expectations = _unique(_EXPECTATION.findall(text))
    nodes = _unique(_DBT_NODE.findall(text))
    what = (
        f"{len(expectations)} failing expectation(s)"
        if expectations
        else f"{len(nodes)} failing dbt node(s)"
        if nodes
        else f"{error_type or 'an error'}"
    )
    return Alert(
        kind=kind,
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        summary=f"Task {task_id} of {dag_id} failed: {what}. See the task log for details.",
        batches=_unique(batches),
        files=_unique([f for f in files if f]),
        expectations=expectations,
        dbt_nodes=nodes,
        error_type=error_type,
    )


# ---------------------------------------------------------------------------- channels


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import Connection

    try:
        return Connection.get(conn_id)
    except Exception:  # AirflowNotFoundException, or no Airflow to ask
        log.info("alert channel %s is not configured (no Airflow connection)", conn_id)
        return None


def send_email(alert: Alert, conn_id: str = EMAIL_CONN_ID) -> bool:
    """Send the alert through the SMTP provider; recipients are the connection's extra `to`."""
    conn = _connection(conn_id)
    if conn is None:
        return False
    recipients = conn.extra_dejson.get("to")
    if not recipients:
        log.warning("connection %s has no extra `to`: no recipients for alerts", conn_id)
        return False
    from html import escape

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        hook.send_email_smtp(
            to=recipients,
            subject=alert.subject,
            html_content=f"<pre>{escape(alert.as_text())}</pre>",
        )
    return True


def _webhook_url(conn: Any) -> str:
    host = str(conn.host or "")
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}"
    if conn.port:
        host = f"{host.rstrip('/')}:{conn.port}"
    endpoint = str(conn.extra_dejson.get("endpoint", ""))
    return f"{host.rstrip('/')}/{endpoint.lstrip('/')}" if endpoint else host


def send_webhook(alert: Alert, conn_id: str = WEBHOOK_CONN_ID) -> bool:
    """POST the alert as JSON to the HTTP connection's URL (extra `endpoint`, `headers`)."""
    conn = _connection(conn_id)
    if conn is None:
        return False
    import httpx

    headers = dict(conn.extra_dejson.get("headers") or {})
    auth = (conn.login, conn.password or "") if conn.login else None
    response = httpx.post(
        _webhook_url(conn), json=alert.as_json(), headers=headers, auth=auth, timeout=10.0
    )
    response.raise_for_status()
    return True


def send(alert: Alert) -> dict[str, bool]:
    """Deliver to every configured channel; a broken channel is logged, never raised."""
    delivered = {}
    for name, channel in (("email", send_email), ("webhook", send_webhook)):
        try:
            delivered[name] = channel(alert)
        except Exception as exc:
            log.error("alert channel %s failed: %s", name, type(exc).__name__)
            delivered[name] = False
    log.warning("ALERT %s (delivered: %s)", alert.subject, json.dumps(delivered))
    return delivered


# ---------------------------------------------------------------------------- Airflow hooks


def on_task_failure(context: Any) -> None:
    """`on_failure_callback` for every task (wired in `orchestration.DEFAULT_ARGS`)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = str(getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?"))
    alert = alert_from_exception(
        dag_id=dag_id,
        task_id=getattr(ti, "task_id", None),
        run_id=str(context.get("run_id") or getattr(ti, "run_id", "") or "") or None,
        exception=context.get("exception"),
    )
    send(alert)


async def deadline_missed(context: dict[str, Any], **kwargs: Any) -> None:
    """DeadlineAlert callback (runs in the triggerer): the DAG run is later than allowed."""
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    dag_id = str(dag_run.get("dag_id") or kwargs.get("dag_id") or "?")
    alert = Alert(
        kind="deadline_missed",
        dag_id=dag_id,
        run_id=dag_run.get("dag_run_id") or dag_run.get("run_id"),
        summary=(
            f"DAG run of {dag_id} had not finished by its deadline "
            f"({deadline.get('deadline_time', 'unknown')}); it is {dag_run.get('state', '?')}."
        ),
    )
    # The channels are synchronous (and look up connections synchronously): off the loop.
    await asyncio.to_thread(send, alert)


def deadline(after_queued: timedelta, dag_id: str) -> DeadlineAlert:
    """A DeadlineAlert: alert when a run is not done `after_queued` after it was queued.

    The scheduler creates the deadline when it queues a run and, once it has passed with the
    run unfinished, the triggerer awaits `deadline_missed` (an importable async function, as
    `AsyncCallback` requires). Runs of `dag.test()` are never queued, so they get no deadline
    (Airflow logs "deadline reference evaluated to None"); Airflow 3.3.2's `dag.test()` needs
    `compat.let_dag_test_finish_runs_with_deadlines()` to end such a run, which the runner
    and every task run by `dag.test()` install (`defaults.prepare_a_dag_test`).
    """
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=after_queued,
        callback=AsyncCallback(deadline_missed, kwargs={"dag_id": dag_id}),
        name=f"{dag_id}_deadline",
    )


# ---------------------------------------------------------------------------- monitors

SILENCE_SQL = """
with monthly as (
    select municipality_code, date_trunc('month', incident_date)::date as month, count(*) as n
    from {facts}
    where municipality_code is not null and incident_date is not null
    group by 1, 2
),

checked as (
    select coalesce(%(month)s::date, (
        select (date_trunc('month', max(incident_date)) - interval '1 month')::date
        from {facts}
    )) as month
),

history as (
    select m.municipality_code, count(*) as months_reported
    from monthly as m
    cross join checked as c
    where m.month >= (c.month - make_interval(months => %(lookback)s))::date
        and m.month < c.month
    group by 1
)

select h.municipality_code, c.month, h.months_reported
from history as h
cross join checked as c
left join monthly as m
    on m.municipality_code = h.municipality_code and m.month = c.month
where m.municipality_code is null
    and h.months_reported >= ceil(%(lookback)s * %(min_share)s)
order by 1
"""


@dataclass(frozen=True)
class Silence:
    municipality_code: str
    month: str
    months_reported: int


def silent_municipalities(
    conn: Any,
    month: str | None = None,
    lookback: int = 6,
    min_share: float = 0.75,
    facts: tuple[str, str] = ("marts", "fct_crime_reports"),
) -> list[Silence]:
    """Municipalities with no police report in `month` that reported in most earlier months.

    `month` defaults to the last complete month of data (the one before the latest incident);
    "usually report" means at least `min_share` of the `lookback` months before it. `facts`
    is the (schema, table) with one row per report: `municipality_code`, `incident_date`.
    """
    from psycopg import sql

    # Before the first build there are no facts to compare (a fresh deployment runs this
    # before build_warehouse has made the marts); freshness still reports the empty sources.
    table = conn.execute(
        "select to_regclass(format('%%I.%%I', %s::text, %s::text))", facts
    ).fetchone()[0]
    if table is None:
        log.info("silences not checked: %s.%s does not exist yet", *facts)
        return []
    query = sql.SQL(SILENCE_SQL).format(facts=sql.Identifier(*facts))
    rows = conn.execute(
        query, {"month": month, "lookback": lookback, "min_share": min_share}
    ).fetchall()
    return [Silence(str(r[0]), r[1].isoformat(), int(r[2])) for r in rows]


def silence_alert(silences: list[Silence], dag_id: str, run_id: str | None) -> Alert:
    codes = ", ".join(s.municipality_code for s in silences[:50])
    return Alert(
        kind="source_silent",
        dag_id=dag_id,
        task_id="check_silences",
        run_id=run_id,
        summary=(
            f"{len(silences)} municipalities sent no police reports for {silences[0].month} "
            f"although they usually report: {codes}"
        ),
    )


def check_freshness() -> list[tuple[str, str]]:
    """Run `dbt source freshness`; return the late sources (a dbt failure becomes findings)."""
    from observatorio.transform.dbt import DbtError, run_dbt

    try:
        result = run_dbt(["source", "freshness"])
    except DbtError as exc:
        nodes = _unique(_DBT_NODE.findall(str(exc)))
        return [(node, "error") for node in nodes] or [("dbt source freshness", "error")]
    return stale_sources(result)


def stale_sources(run_result: Any) -> list[tuple[str, str]]:
    """(source unique_id, status) of every source dbt found late ("warn" or "error")."""
    stale = []
    for item in getattr(run_result, "results", None) or []:
        status = str(getattr(item, "status", "")).lower()
        if status not in {"pass", "success"}:
            stale.append((str(item.node.unique_id), status))
    return stale


def freshness_alert(stale: list[tuple[str, str]], dag_id: str, run_id: str | None) -> Alert:
    listing = "; ".join(f"{node} {status}" for node, status in stale)
    return Alert(
        kind="source_stale",
        dag_id=dag_id,
        task_id="check_freshness",
        run_id=run_id,
        summary=f"dbt source freshness: {len(stale)} source(s) late: {listing}",
        dbt_nodes=[node for node, _ in stale],
    )
