"""With an OpenLineage URL set, events go over HTTP (Marquez's `POST /api/v1/lineage`).

A real HTTP server on 127.0.0.1 stands in for Marquez and keeps what it receives; a second
one answers 503, like a Marquez that is down, which must not fail the gate.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from expectations.gate import ExpectationOutcome, GateOutcome
from observatorio.lineage import openlineage
from tests.integration.test_openlineage_schema import event_errors


class _Lineage(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]]
    status = 201

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _server(status: int) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Lineage)
    server.received = []  # type: ignore[attr-defined]
    server.status = status  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def marquez() -> Iterator[ThreadingHTTPServer]:
    yield from _server(201)


@pytest.fixture
def marquez_down() -> Iterator[ThreadingHTTPServer]:
    yield from _server(503)


def _outcome() -> GateOutcome:
    return GateOutcome(
        run_id="r1",
        suite_name="police__reports",
        batch_id="police__reports-0123456789abcdef",
        results=[
            ExpectationOutcome(
                "expect_column_values_to_not_be_null", "report_id", "critical", True, None, 0, []
            ),
            ExpectationOutcome(
                "expect_column_values_to_be_between",
                "victim_age",
                "warning",
                False,
                None,
                3,
                [4, 9, 12],
            ),
        ],
    )


def test_gate_events_go_to_the_configured_url(settings, marquez):  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{marquez.server_port}"
    remote = dataclasses.replace(settings, openlineage_url=url, environment="staging")
    assert openlineage.transport_config(remote)["type"] == "http"
    files_before = sorted(openlineage.lineage_dir(settings).glob("events-*.json"))
    sent = openlineage.emit_gate_events([("police__reports", _outcome())], remote)
    assert sent == 2
    assert [path for path, _ in marquez.received] == ["/api/v1/lineage"] * 2
    events = [event for _, event in marquez.received]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert all(event_errors(e) == [] for e in events)
    assert {e["job"]["namespace"] for e in events} == {"observatorio-staging"}
    facet = events[1]["inputs"][0]["inputFacets"]["dataQualityAssertions"]
    assert [(a["column"], a["success"]) for a in facet["assertions"]] == [
        ("report_id", True),
        ("victim_age", False),
    ]
    # Nothing went to files instead.
    assert sorted(openlineage.lineage_dir(settings).glob("events-*.json")) == files_before


def test_a_marquez_that_is_down_does_not_fail_the_gate(settings, marquez_down):  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{marquez_down.server_port}"
    remote = dataclasses.replace(settings, openlineage_url=url)
    assert openlineage.emit_gate_events([("police__reports", _outcome())] * 3, remote) == 0
    # The client retried the first event, then lineage gave up instead of trying the other 5.
    times = {event["eventTime"] for _, event in marquez_down.received}
    assert len(marquez_down.received) >= 1 and len(times) == 1
