"""A small simulated country served by the simulator's real health API, and a clean slate
(warehouse, watermarks, landing folders) for each health test."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from simulator import generate

SEED = 7
# Two months of the small country: ~490 forensic deaths (Y87.1 sequelae included, which
# need 30+ days between attack and death) and ~360 admissions, generated in about a second.
DAYS = 62
TOKEN = "tok-health-9f3c1e7d2b"
HEALTH_SOURCES = ("health__forensic_deaths", "health__hospital_admissions")


@dataclass(frozen=True)
class Country:
    out: Path

    def records(self, entity: str) -> list[dict[str, Any]]:
        path = self.out / "exports" / "health" / f"{entity}.json"
        return list(json.loads(path.read_text(encoding="utf-8")))

    def truth(self, indicator: str) -> dict[tuple[str, str], int]:
        import csv

        with (self.out / "truth" / "indicators.csv").open(encoding="utf-8") as handle:
            return {
                (row["municipality_code"], row["month"]): int(row["value"])
                for row in csv.DictReader(handle)
                if row["indicator_code"] == indicator and int(row["value"])
            }


@pytest.fixture(scope="session")
def country(tmp_path_factory: pytest.TempPathFactory) -> Country:
    out = tmp_path_factory.mktemp("health-country")
    generate(out, seed=SEED, scale="small", start=date(2024, 1, 1), days=DAYS)
    return Country(out)


@pytest.fixture
def serve_api() -> Iterator[Callable[..., Any]]:
    """Start the simulator's API on 127.0.0.1 (free port); every server stops at teardown."""
    from simulator.health_api import serve

    servers: list[Any] = []

    def start(out: Path, **options: Any) -> Any:
        options.setdefault("token", TOKEN)
        server = serve(out, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def clean_health(clean_warehouse, settings):  # type: ignore[no-untyped-def]
    """No health watermarks, landed, claimed, archived or rejected files from earlier tests."""
    from ingestion.landing import claimed_dir, inbox

    clean_warehouse.execute("delete from ops.watermarks where source like 'health\\_\\_%'")
    for source in HEALTH_SOURCES:
        for folder in (
            inbox(source, settings),
            claimed_dir(source, settings),
            settings.archive_dir / source,
            settings.rejected_dir / source,
        ):
            shutil.rmtree(folder, ignore_errors=True)
    return clean_warehouse


@pytest.fixture
def ingest_landed() -> Callable[..., list[dict[str, Any]]]:
    """claim → stage → gate → publish over every landed health file, in one GX run; returns
    one result per file (as `observatorio.orchestration.ingest.report` sees them)."""
    from observatorio.orchestration.ingest import claim, gate, publish, stage

    def run(sources: tuple[str, ...] = HEALTH_SOURCES) -> list[dict[str, Any]]:
        staged: list[dict[str, Any]] = []
        done: list[dict[str, Any]] = []
        for source in sources:
            step = stage(source, claim(source))
            staged += step["staged"]
            done += step["done"]
        return list(publish(gate({"staged": staged, "done": done}))["done"])

    return run
