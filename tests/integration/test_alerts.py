"""Alerts reach a real SMTP server and a real webhook on 127.0.0.1, and carry no persons.

Both servers run in this process on free ports; the channels are configured only as
Airflow connections (`AIRFLOW_CONN_*` environment variables), as in production.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.smtp_server import SmtpServer, smtp_server

# ---------------------------------------------------------------------------- servers


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.received.append(
            {
                "path": self.path,
                "content_type": self.headers.get("Content-Type"),
                "token": self.headers.get("X-Token"),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def webhook_server() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def connections(smtp_port: int, http_port: int) -> Iterator[None]:
    values = {
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": "airflow@observatorio.test",
                    "to": "oncall@observatorio.test, data@observatorio.test",
                    "retry_limit": 0,
                },
            }
        ),
        "AIRFLOW_CONN_OBSERVATORIO_WEBHOOK": json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": http_port,
                "schema": "http",
                "extra": {"endpoint": "/hooks/airflow", "headers": {"X-Token": "t0k"}},
            }
        ),
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def channels() -> Iterator[tuple[SmtpServer, list[dict[str, Any]]]]:
    with (
        smtp_server() as smtp,
        webhook_server() as (http_port, received),
        connections(smtp.port, http_port),
    ):
        yield smtp, received


def _text(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "".join(
        p.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for p in parts
        if p.get_content_maintype() == "text"
    )


# ---------------------------------------------------------------------------- tests


def test_failure_alert_names_batch_and_expectation_on_both_channels(channels):
    from airflow.sdk.exceptions import AirflowFailException

    from ingestion.loader import BatchRejected, BatchResult
    from observatorio.orchestration import alerts

    smtp, received = channels
    reason = (
        "denuncias_20990101.csv: critical expectations failed: "
        "expect_column_values_to_be_between(incident_date) [critical] observed 2099-01-01; "
        "sample rows 1; victim 100000001-7 José Núñez 1"
    )
    result = BatchResult(
        batch_id="police__reports-0123456789abcdef",
        source="police__reports",
        file="/landing/.claimed/police__reports/denuncias_20990101.csv",
        status="rejected",
        message=reason,
    )
    try:
        try:
            raise BatchRejected(result)
        except BatchRejected as exc:
            raise AirflowFailException(f"rejected: {exc}") from exc
    except AirflowFailException as exc:
        failure = exc

    class TI:
        dag_id, task_id, run_id = "ingest_police_reports", "police__reports.report", "manual__1"

    alerts.on_task_failure({"ti": TI(), "run_id": "manual__1", "exception": failure})

    [hook] = received
    assert hook["path"] == "/hooks/airflow"
    assert hook["content_type"] == "application/json"
    assert hook["token"] == "t0k"
    body = hook["body"]
    assert body["kind"] == "task_failed"
    assert body["dag_id"] == "ingest_police_reports"
    assert body["task_id"] == "police__reports.report"
    assert body["run_id"] == "manual__1"
    assert body["batches"] == ["police__reports-0123456789abcdef"]
    assert body["files"] == ["denuncias_20990101.csv"]
    assert body["expectations"] == ["expect_column_values_to_be_between(incident_date)"]

    [mail] = smtp.messages
    assert mail.sender == "airflow@observatorio.test"
    assert mail.recipients == ["oncall@observatorio.test", "data@observatorio.test"]
    assert "ingest_police_reports.police__reports.report" in mail.message["Subject"]
    text = _text(mail.message)
    assert "police__reports-0123456789abcdef" in text
    assert "expect_column_values_to_be_between(incident_date)" in text

    # The exception quoted a person; neither channel may carry it, nor the observed value.
    for leaked in ("100000001", "José", "Núñez", "2099-01-01"):
        assert leaked not in json.dumps(body, ensure_ascii=False)
        assert leaked not in text


def test_dbt_failure_alert_names_the_failing_nodes(channels):
    from observatorio.orchestration import alerts
    from observatorio.transform.dbt import DbtError

    smtp, received = channels
    error = DbtError(
        "dbt build failed:\n"
        "test.observatorio.not_null_fct_crime_reports_municipality_code.5a1b: Got 3 results\n"
        "model.observatorio.mart_crime_reports_monthly: Database Error"
    )
    alert = alerts.alert_from_exception("build_warehouse", "dbt.dbt_producer_watcher", "r1", error)
    assert alerts.send(alert) == {"email": True, "webhook": True}
    assert received[0]["body"]["dbt_nodes"] == [
        "test.observatorio.not_null_fct_crime_reports_municipality_code.5a1b",
        "model.observatorio.mart_crime_reports_monthly",
    ]
    assert received[0]["body"]["error_type"] == "DbtError"
    assert len(smtp.messages) == 1


def test_deadline_callback_alerts_from_the_triggerer_context(channels):
    from observatorio.orchestration import alerts

    smtp, received = channels
    context = {
        "dag_run": {
            "dag_id": "build_warehouse",
            "dag_run_id": "asset_triggered__x",
            "state": "running",
        },
        "deadline": {"id": "d1", "deadline_time": "2024-01-01T01:00:00+00:00"},
    }
    asyncio.run(alerts.deadline_missed(context, dag_id="build_warehouse"))
    body = received[0]["body"]
    assert body["kind"] == "deadline_missed"
    assert body["dag_id"] == "build_warehouse"
    assert body["run_id"] == "asset_triggered__x"
    assert "2024-01-01T01:00:00" in body["summary"]
    assert "deadline missed: build_warehouse" in smtp.messages[0].message["Subject"]


def test_a_channel_without_connection_is_skipped_and_a_broken_one_never_raises():
    from observatorio.orchestration import alerts

    alert = alerts.Alert(kind="source_stale", dag_id="monitor_sources", summary="x")
    for name in ("AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_CONN_OBSERVATORIO_WEBHOOK"):
        assert name not in os.environ
    assert alerts.send(alert) == {"email": False, "webhook": False}
    with connections(smtp_port=9, http_port=9):  # nothing listens on port 9
        assert alerts.send(alert) == {"email": False, "webhook": False}


def _scratch_facts(db, rows: list[tuple[str, str]]) -> tuple[str, str]:
    """A facts table of our own: the session's real marts are left alone."""
    db.execute("create schema if not exists test_alerts")
    db.execute("drop table if exists test_alerts.fct_crime_reports")
    db.execute(
        "create table test_alerts.fct_crime_reports (municipality_code text, incident_date date)"
    )
    with db.cursor() as cur:
        cur.executemany("insert into test_alerts.fct_crime_reports values (%s, %s)", rows)
    return ("test_alerts", "fct_crime_reports")


def _months_with_a_silence() -> list[tuple[str, str]]:
    rows = []
    for month in range(1, 8):  # January to July 2024
        rows.append(("01001", f"2024-{month:02d}-10"))  # reports every month
        if month < 7:
            rows.append(("02002", f"2024-{month:02d}-12"))  # silent in July
        if month in (2, 7):
            rows.append(("03003", f"2024-{month:02d}-15"))  # rarely reports: not a silence
    rows.append(("01001", "2024-08-02"))  # August is still open: July is the checked month
    return rows


def test_silence_query_finds_the_municipality_that_stopped_reporting(db):
    from observatorio.orchestration import alerts

    facts = _scratch_facts(db, _months_with_a_silence())
    try:
        silences = alerts.silent_municipalities(db, facts=facts)
        assert [(s.municipality_code, s.month, s.months_reported) for s in silences] == [
            ("02002", "2024-07-01", 6)
        ]
        assert alerts.silent_municipalities(db, month="2024-06-01", facts=facts) == []
        # Before the first build: no facts table, nothing to report (and no error).
        assert alerts.silent_municipalities(db, facts=("test_alerts", "no_such_facts")) == []
        alert = alerts.silence_alert(silences, "monitor_sources", "r1")
        assert "02002" in alert.summary and "2024-07-01" in alert.summary
    finally:
        db.execute("drop schema test_alerts cascade")


@pytest.mark.slow
def test_monitor_sources_runs_for_real_and_alerts(channels, db, airflow_db):
    """`monitor_sources` with dag.test(): late sources and a silence reach the webhook."""
    from airflow.dag_processing.dagbag import DagBag

    from ingestion.loader import ensure_raw_tables

    smtp, received = channels
    ensure_raw_tables(airflow_db)
    created = db.execute("select to_regclass('marts.fct_crime_reports')").fetchone()[0] is None
    if created:
        db.execute("create schema if not exists marts")
        db.execute(
            "create table marts.fct_crime_reports (municipality_code text, incident_date date)"
        )
        with db.cursor() as cur:
            cur.executemany(
                "insert into marts.fct_crime_reports values (%s, %s)", _months_with_a_silence()
            )
    try:
        bag = DagBag(dag_folder=str(airflow_db.dags_dir / "monitor_sources.py"))
        monitor = bag.dags["monitor_sources"]
        # With its deadline: Airflow 3.3.2's dag.test() crashed at the end of such a run
        # until observatorio.orchestration.alerts worked around it.
        assert monitor.deadline
        run = monitor.test()
    finally:
        if created:
            db.execute("drop table marts.fct_crime_reports")
    assert str(run.state) == "success"
    kinds = {hook["body"]["kind"]: hook["body"] for hook in received}
    # No batch has arrived in the test warehouse, so every source is late.
    assert "source_stale" in kinds
    assert kinds["source_stale"]["dbt_nodes"]
    assert all(n.startswith("source.observatorio.") for n in kinds["source_stale"]["dbt_nodes"])
    if created:
        assert "02002" in kinds["source_silent"]["summary"]
    assert len(smtp.messages) == len(received)
