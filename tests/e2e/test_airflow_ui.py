"""A real browser: headless Chromium logs in to a running Airflow and sees the project's DAGs.

Starts the API server, DAG processor and scheduler for the test settings on a free port,
waits for `/api/v2/monitor/health`, then drives Chromium over the Chrome DevTools protocol:
the login form of the simple auth manager (user `admin`, the password from
`observatorio.orchestration.airflow_env.admin_password`), then the DAG list. The screenshot
is saved as
`tests/artifacts/airflow_ui.png`. Skipped, saying why, when Chromium is not installed
(Debian: `apt-get install -y chromium`).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_celery import Stack, _free_port, _wait, local_airflow

pytestmark = pytest.mark.slow

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "airflow_ui.png"
PROJECT_DAGS = {"ingest_police_reports", "build_warehouse", "deliver_extracts", "monitor_sources"}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
        )
        if found:
            return found
    return None


class DevTools:
    """Just enough of the Chrome DevTools protocol: send a command, wait for its answer."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=10)
        self.ids = count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def airflow_ui(airflow_db, tmp_path) -> Iterator[tuple[Stack, str]]:
    with local_airflow(airflow_db, tmp_path) as (running, api, _):
        yield running, api


@pytest.fixture
def browser(tmp_path) -> Iterator[DevTools]:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium)")
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--remote-debugging-port={port}",
            "--window-size=1400,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        page = None
        while page is None and time.monotonic() < deadline:
            try:
                targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                page = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            except Exception:
                time.sleep(0.3)
        assert page, "Chromium's DevTools endpoint did not come up"
        tools = DevTools(page)
        tools.call("Page.enable")
        yield tools
        tools.close()
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def _until(tools: DevTools, expression: str, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = tools.evaluate(expression)
        if value:
            return value
        time.sleep(0.5)
    body = tools.evaluate("document.body ? document.body.innerText.slice(0, 500) : ''")
    raise AssertionError(f"timed out waiting for {what}; page shows: {body!r}")


FOCUS = """
(() => {
  const inputs = [...document.querySelectorAll('input')];
  const el = %s === 'password'
    ? inputs.find(i => i.type === 'password')
    : inputs.find(i => i.type !== 'password' && i.type !== 'hidden');
  if (!el) return false;
  el.focus();
  return document.activeElement === el;
})()
"""


def _type_into(tools: DevTools, field: str, text: str) -> None:
    """Focus a login field and type into it as a user would (real input events)."""
    assert tools.evaluate(FOCUS % json.dumps(field)) is True, f"no {field} field"
    tools.call("Input.insertText", text=text)


def _press_enter(tools: DevTools) -> None:
    for kind in ("keyDown", "keyUp"):
        tools.call(
            "Input.dispatchKeyEvent",
            type=kind,
            key="Enter",
            code="Enter",
            windowsVirtualKeyCode=13,
            text="\r" if kind == "keyDown" else "",
        )


def test_the_dag_list_shows_the_project_dags_after_logging_in(airflow_ui, browser, airflow_db):
    import httpx

    from observatorio.orchestration.airflow_env import ADMIN_USER, admin_password

    running, api = airflow_ui
    _wait(
        "the API server",
        lambda: httpx.get(f"{api}/api/v2/monitor/health", timeout=5).status_code == 200,
        running,
        120,
    )
    token = httpx.post(
        f"{api}/auth/token",
        json={"username": ADMIN_USER, "password": admin_password(airflow_db)},
        timeout=10,
    ).json()["access_token"]

    def parsed() -> bool:
        listed = httpx.get(
            f"{api}/api/v2/dags",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        return {d["dag_id"] for d in listed.get("dags", [])} >= PROJECT_DAGS

    _wait("the DAG processor to serialise the project's DAGs", parsed, running, 120)

    # Not logged in: the UI sends the browser to the login form.
    browser.call("Page.navigate", url=f"{api}/dags")
    _until(browser, "document.querySelectorAll('input[type=password]').length > 0", "login form")
    _type_into(browser, "username", ADMIN_USER)
    _type_into(browser, "password", admin_password(airflow_db))
    _press_enter(browser)
    _until(browser, "!document.querySelector('input[type=password]')", "the login to complete")

    browser.call("Page.navigate", url=f"{api}/dags")
    shown = " && ".join(
        f"document.body.innerText.includes({json.dumps(dag_id)})" for dag_id in sorted(PROJECT_DAGS)
    )
    _until(browser, shown, "the project's DAGs in the DAG list", timeout=90)
    time.sleep(1)  # let the list finish rendering for the screenshot
    shot = browser.call("Page.captureScreenshot", format="png")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_bytes(base64.b64decode(shot["data"]))
    assert ARTIFACT.stat().st_size > 10_000
    cookies = browser.call("Network.getCookies", urls=[api])["cookies"]
    assert any(c["name"] == "_token" for c in cookies), "logged in without a session cookie?"
