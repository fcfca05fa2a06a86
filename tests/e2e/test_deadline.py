"""A missed DeadlineAlert reaches on-call through a real scheduler and triggerer.

Starts the DAG processor, scheduler, triggerer and API server (LocalExecutor, the project's
Airflow environment) on a temporary dags folder holding one probe DAG: its only task sleeps
past a deadline of a few seconds after the run was queued, set with
`observatorio.orchestration.alerts.deadline`, the helper every ingest DAG uses. The scheduler
notices the
missed deadline, the triggerer awaits `alerts.deadline_missed`, and the alert must arrive at a
webhook and an SMTP server on 127.0.0.1 (both configured only as `AIRFLOW_CONN_*`
connections), naming the DAG and the run. The run is triggered with a conf that holds a
person's name and ID number: neither may appear in what is sent.

(`dag.test()` of a DAG with a deadline is covered by `tests/integration/test_alerts.py`, which
runs `monitor_sources` with its deadline in place.)
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest

from observatorio.orchestration.components import Stack, local_airflow, wait_until
from tests.integration.test_alerts import _text, connections, webhook_server
from tests.smtp_server import SmtpServer, smtp_server

pytestmark = pytest.mark.slow

DAG_ID = "deadline_probe"
PERSON = {"name": "Maria Fernanda Quispe Huaman", "national_id": "45873321"}

PROBE_DAG = '''
"""Test-only DAG for tests/e2e/test_deadline.py (airflow): a run that outlives its deadline."""
from datetime import timedelta

from airflow.sdk import dag, task

from observatorio.orchestration.alerts import deadline
from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE


@dag(dag_id="deadline_probe", schedule=None, start_date=START_DATE, catchup=False,
     default_args={**DEFAULT_ARGS, "retries": 0}, tags=["test"],
     deadline=deadline(timedelta(seconds=SECONDS), "deadline_probe"))
def deadline_probe():
    @task
    def outlive_the_deadline() -> None:
        import time

        time.sleep(SLEEP)

    outlive_the_deadline()


deadline_probe()
'''


def _probe(seconds: int, sleep: int) -> str:
    return textwrap.dedent(PROBE_DAG).replace("SECONDS", str(seconds)).replace("SLEEP", str(sleep))


@pytest.fixture
def channels() -> Iterator[tuple[SmtpServer, list[dict[str, Any]]]]:
    with (
        smtp_server() as smtp,
        webhook_server() as (http_port, received),
        connections(smtp.port, http_port),
    ):
        yield smtp, received


@pytest.fixture
def stack(airflow_db, channels, tmp_path) -> Iterator[tuple[Stack, str]]:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(_probe(seconds=3, sleep=45))
    # os.environ carries the AIRFLOW_CONN_* of the channels fixture.
    with local_airflow(
        airflow_db, tmp_path, ("dag-processor", "scheduler", "triggerer", "api-server"), dags
    ) as (running, api, _):
        yield running, api


def _client(api: str, stack: Stack, settings: Any) -> Any:
    import httpx

    from observatorio.orchestration.airflow_env import ADMIN_USER, admin_password

    client = httpx.Client(base_url=api, timeout=60)
    wait_until(
        "the API server",
        lambda: client.get("/api/v2/monitor/health").status_code == 200,
        stack,
        180,
    )
    token = client.post(
        "/auth/token", json={"username": ADMIN_USER, "password": admin_password(settings)}
    ).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_a_missed_deadline_alerts_by_webhook_and_email_without_pii(stack, channels, airflow_db):
    running, api = stack
    smtp, received = channels
    client = _client(api, running, airflow_db)
    wait_until(
        "the probe DAG to be parsed",
        lambda: client.get(f"/api/v2/dags/{DAG_ID}").status_code == 200,
        running,
        120,
    )
    client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
    created = client.post(
        f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"person": PERSON}}
    )
    created.raise_for_status()
    run_id = created.json()["dag_run_id"]
    started = time.monotonic()

    hook = wait_until(
        "the deadline alert at the webhook",
        lambda: [r for r in received if r["body"].get("kind") == "deadline_missed"],
        running,
        150,
    )[0]
    seconds = time.monotonic() - started
    body = hook["body"]
    assert body["dag_id"] == DAG_ID
    assert body["run_id"] == run_id
    assert body["subject"] == f"[observatorio] deadline missed: {DAG_ID}"
    assert DAG_ID in body["summary"] and "deadline" in body["summary"]
    assert hook["path"] == "/hooks/airflow" and hook["token"] == "t0k"

    wait_until("the deadline e-mail", lambda: smtp.messages, running, 30)
    mail = smtp.messages[0].message
    assert mail["Subject"] == body["subject"]
    text = _text(mail)
    assert f"DAG: {DAG_ID}" in text

    sent = repr(body) + text
    for value in PERSON.values():
        assert value not in sent, "the alert carried the run's conf (a person)"
        for part in value.split():
            assert part not in sent
    # The alert fires while the run is still going: it does not wait for the run to end.
    state = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
    assert state in {"running", "queued"}, state
    print(f"deadline alert at the webhook {seconds:.1f} s after the run was triggered")
