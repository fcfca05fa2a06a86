"""A real browser: headless Chromium logs in to a running Airflow and sees the project's DAGs.

Starts the API server, DAG processor and scheduler for the test settings on a free port,
waits for `/api/v2/monitor/health`, then drives Chromium with Playwright (`tests/browser.py`):
the login form of the simple auth manager (user `admin`, the password from
`observatorio.orchestration.airflow_env.admin_password`), then the DAG list. The screenshot
is saved as `tests/artifacts/airflow_ui.png`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from observatorio.orchestration.components import Stack, local_airflow, wait_until
from tests.browser import chromium

pytestmark = pytest.mark.slow

ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "airflow_ui.png"
PROJECT_DAGS = {"ingest_police_reports", "build_warehouse", "deliver_extracts", "monitor_sources"}


@pytest.fixture
def airflow_ui(airflow_db, tmp_path) -> Iterator[tuple[Stack, str]]:
    with local_airflow(airflow_db, tmp_path) as (running, api, _):
        yield running, api


def test_the_dag_list_shows_the_project_dags_after_logging_in(airflow_ui, airflow_db):
    import httpx

    from observatorio.orchestration.airflow_env import ADMIN_USER, admin_password

    running, api = airflow_ui
    wait_until(
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

    wait_until("the DAG processor to serialise the project's DAGs", parsed, running, 120)

    with chromium() as browser:
        page = browser.new_page()
        # Not logged in: the UI sends the browser to the login form.
        page.goto(f"{api}/dags")
        password_field = page.locator("input[type=password]")
        password_field.wait_for(timeout=60_000)
        page.locator("input:not([type=password]):not([type=hidden])").first.fill(ADMIN_USER)
        password_field.fill(admin_password(airflow_db))
        password_field.press("Enter")
        password_field.wait_for(state="detached", timeout=60_000)

        page.goto(f"{api}/dags")
        for dag_id in sorted(PROJECT_DAGS):
            page.get_by_text(dag_id).first.wait_for(timeout=90_000)
        page.wait_for_timeout(1000)  # let the list finish rendering for the screenshot
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACT)
        cookies = browser.cookies(api)
    assert ARTIFACT.stat().st_size > 10_000
    assert any(c["name"] == "_token" for c in cookies), "logged in without a session cookie?"
