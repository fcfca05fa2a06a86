"""A real BI client: Superset, brought up as `make bi` does, shows the mart's numbers.

Builds the police marts and the `bi` schema from a simulated month and a half, then calls
`observatorio.bi_client.superset.up` (the code path of `make bi`): Superset's virtualenv is
cached in `.observatorio/superset-venv` of the checkout (a fresh clone installs it once, a
few minutes; later runs reuse it), its state lives under the test session's home. Headless
Chromium (tests/browser.py) logs in through the form, opens the dashboard and reads two
charts; the numbers must be the warehouse's for the same cells. The screenshot is saved as
`tests/artifacts/superset_dashboard.png`.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.browser import chromium

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("OBSERVATORIO_SUPERSET_VENV", ROOT / ".observatorio" / "superset-venv"))
ARTIFACT = ROOT / "tests" / "artifacts" / "superset_dashboard.png"
BIG_NUMBER = "Víctimas de homicidio intencional (policía), último mes"
MUNICIPAL_RATES = "Tasa de homicidio intencional (policía) por municipio y mes, las 10 más altas"
# The rows the dashboard's charts read: municipal totals (not departments, sexes, ages).
MUNICIPAL_TOTALS = "area_level = 'municipality' and sex = 'all' and age_group = 'all'"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def superset(
    settings: Any, warehouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from observatorio.bi_client.superset import stop, up
    from observatorio.transform.dbt import run_dbt
    from tests.integration.test_extracts import build_police_marts

    build_police_marts(settings, tmp_path_factory.mktemp("superset"))
    run_dbt(
        [
            "build",
            "--select",
            "+path:models/bi",
            "--indirect-selection",
            "cautious",
            "--exclude-resource-type",
            "test",
            "unit_test",
        ],
        settings,
    )
    previous = os.environ.get("OBSERVATORIO_SUPERSET_PORT")
    os.environ["OBSERVATORIO_SUPERSET_PORT"] = str(_free_port())
    running = None
    try:
        running = up(settings, venv=VENV)
        yield running
    finally:
        if running is not None:
            stop(running)
        if previous is None:
            os.environ.pop("OBSERVATORIO_SUPERSET_PORT", None)
        else:
            os.environ["OBSERVATORIO_SUPERSET_PORT"] = previous


def _number(text: str) -> Decimal:
    return Decimal(text.strip().replace(",", ""))


def test_superset_connects_as_the_bi_login_without_a_stored_clear_password(superset: Any):
    from observatorio.bi_client.superset import DEFAULT_LOGIN

    with sqlite3.connect(superset.home / "superset.db") as meta:
        rows = meta.execute("select sqlalchemy_uri, password from dbs").fetchall()
    assert len(rows) == 1, rows
    uri, _encrypted = rows[0]
    assert make_url(uri).username == DEFAULT_LOGIN
    assert make_url(uri).password in (None, "XXXXXXXXXX")  # Superset keeps it apart, encrypted
    assert (superset.home / "admin_password").stat().st_mode & 0o777 == 0o600
    assert (superset.home / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_dashboard_shows_the_mart_s_numbers_after_logging_in(
    superset: Any, settings: Any, db: psycopg.Connection[Any]
):
    from observatorio.bi_client.superset import ADMIN_USER, DASHBOARD_SLUG, admin_password

    with chromium(width=1400, height=1000) as browser:
        page = browser.new_page()
        page.goto(f"{superset.url}/superset/dashboard/{DASHBOARD_SLUG}/")
        password = page.locator("input[type=password]")
        password.wait_for(timeout=60_000)  # not logged in: the login form
        page.locator("input[name=username], #username").first.fill(ADMIN_USER)
        password.fill(admin_password(superset))
        password.press("Enter")
        password.wait_for(state="detached", timeout=60_000)
        page.goto(f"{superset.url}/superset/dashboard/{DASHBOARD_SLUG}/")

        big = page.locator(".dashboard-component-chart-holder", has_text=BIG_NUMBER)
        big.locator(".header-line").first.wait_for(timeout=120_000)
        shown_total = _number(big.locator(".header-line").first.inner_text())

        rates = page.locator(".dashboard-component-chart-holder", has_text=MUNICIPAL_RATES)
        first_row = rates.locator("tbody tr").first
        first_row.wait_for(timeout=120_000)
        month, municipality, value = first_row.locator("td").all_inner_texts()[:3]
        page.wait_for_timeout(1000)  # let the charts finish drawing for the screenshot
        ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACT, full_page=True)

    # The same cell in the mart the bi schema is built from.
    cell = db.execute(
        """
        select mart.value
        from marts.mart_indicators_monthly as mart
        inner join marts.dim_municipality as municipality
            on mart.municipality_code = municipality.municipality_code
        where mart.indicator_code = 'homicide_rate_police'
          and municipality.municipality_name = %s
          and mart.month = %s
          and mart.sex = 'all'
          and mart.age_group = 'all'
        """,
        (municipality.strip(), month.strip()),
    ).fetchall()
    assert cell, f"no mart cell for {municipality!r} {month!r}"
    # BI publishes the value rounded as the indicator's definition says (its `decimals`).
    from observatorio.indicators.definitions import load_definitions

    places = load_definitions().get("homicide_rate_police").publication.decimals
    step = Decimal(1).scaleb(-places)
    assert _number(value) in {Decimal(row[0]).quantize(step, ROUND_HALF_UP) for row in cell}
    assert _number(value) > 0, "the top municipal rate should not be zero in this simulation"
    from observatorio.bi_client.superset import DEFAULT_LOGIN
    from observatorio.core.warehouse import login_url

    # What the BI login reads (row-level security: the owner sees no `bi` row).
    bi = psycopg.connect(login_url(settings, DEFAULT_LOGIN), autocommit=True)
    with bi:
        highest = bi.execute(
            "select max(value) from bi.indicators_monthly"
            " where indicator_code = 'homicide_rate_police' and not is_suppressed"
            f" and {MUNICIPAL_TOTALS}"
        ).fetchone()[0]
        # The big number: the last month's published count, summed over municipalities.
        total = bi.execute(
            f"""
            select sum(numerator)
            from bi.indicators_monthly
            where indicator_code = 'homicide_count_police'
              and month = (select max(month) from bi.indicators_monthly)
              and {MUNICIPAL_TOTALS}
            """
        ).fetchone()[0]
    # The table's first row is the highest published rate.
    assert _number(value) == Decimal(highest)
    assert shown_total == Decimal(total)
    assert ARTIFACT.stat().st_size > 10_000
