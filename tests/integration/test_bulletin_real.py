"""The bulletin from a real warehouse: a simulated year (fixed seed) ingested through the
contracts, gates and connectors, the marts it reads built with dbt, then printed. The PDF's
text must speak Spanish (no internal code, no ISO date), its cover must carry the period in
words and the data cut-off, and its map must be drawn from the demo profile's geometries.
Pages are saved as PNG under /tmp/bulletin_pages/ for the issue note."""

from __future__ import annotations

import re
import shutil
import time

import pytest

from ingestion.connectors import rest, sql
from ingestion.contract import available_contracts
from observatorio.delivery.bulletin import publish_bulletin
from observatorio.delivery.bulletin.labels import day_words, period_words
from observatorio.orchestration import ingest as tasks
from observatorio.transform.dbt import run_dbt
from simulator.demo import Demo, demo_source_systems, land_exports, simulate
from tests.integration.test_bulletin import PAGES, _codes_shown, _pages, save_pages

DEMO = Demo(seed=3, scale="tiny", days=365)
SELECT = (
    "ref_indicators +mart_indicators_monthly +mart_justice_attrition +mart_consultation_priorities"
    " +dim_municipality +mart_crime_reports_monthly"
)
# A simulated year on a shared 2-core machine takes minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def built(settings, warehouse_url):  # type: ignore[no-untyped-def]
    import psycopg

    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    shutil.rmtree(settings.landing_dir, ignore_errors=True)
    simulation = simulate(settings, DEMO)
    land_exports(settings, simulation)
    with demo_source_systems(settings, simulation):
        for name in available_contracts():
            if name.startswith("justice__"):
                sql.extract(name)
            elif name.startswith("health__"):
                rest.pull(name)
    for name in available_contracts():
        tasks.report(tasks.publish(tasks.gate(tasks.stage(name, tasks.claim(name)))))
    run_dbt(["build", "--select", SELECT, "--indirect-selection", "cautious"], settings)
    return simulation


def test_the_bulletin_of_a_simulated_year_speaks_spanish_and_maps(built, settings, db):
    started = time.monotonic()
    result = publish_bulletin(None, settings)
    seconds = time.monotonic() - started
    period, cut_off = db.execute(
        "select (select max(month) from marts.mart_indicators_monthly),"
        " (select max(finished_at) from ops.batch_ledger where status = 'loaded')"
    ).fetchone()
    assert result.period == period
    assert result.panels["homicide_map"] == "drawn"
    assert result.panels["municipality_ranking"] == "drawn"
    pages = _pages(result.pdf)
    assert _codes_shown("\n".join(pages)) == []
    cover = " ".join(pages[0].split())
    assert period_words(period).capitalize() in cover
    assert f"Datos al {day_words(cut_off)}" in cover
    # Municipality names from the warehouse beside their codes.
    assert re.search(r"\b[A-ZÁÉÍÓÚ][\w ]+ \(\d{5}\)", "\n".join(pages))
    assert len(save_pages(result.pdf, PAGES, "simulated")) >= 4
    # Rendering the whole bulletin (charts, map, Chromium's print) stays quick.
    assert seconds < 120, f"the bulletin took {seconds:.0f} s"
