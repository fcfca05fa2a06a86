"""Simulator runs shared by the simulator tests (generated once per session)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from simulator import generate


@dataclass
class Run:
    out: Path
    summary: dict[str, Any]

    def police_rows(self, entity: str = "reports", resends: bool = False) -> list[dict[str, str]]:
        rows: list[dict[str, str]] = []
        for path in sorted((self.out / "exports" / "police" / entity).glob("*.csv")):
            if not resends and path.stem.endswith("_reenvio"):
                continue
            with path.open(encoding="cp1252", newline="") as handle:
                rows += list(csv.DictReader(handle, delimiter=";"))
        return rows

    def truth(self, name: str) -> list[dict[str, str]]:
        with (self.out / "truth" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    def health(self, name: str) -> list[dict[str, Any]]:
        path = self.out / "exports" / "health" / f"{name}.json"
        return list(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("tiny")
    return Run(out, generate(out, seed=7, scale="tiny", start=date(2024, 1, 1), days=365))


@pytest.fixture(scope="session")
def busy_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Two months at the small scale: enough rows to measure defect rates."""
    out = tmp_path_factory.mktemp("busy")
    return Run(out, generate(out, seed=11, scale="small", start=date(2024, 3, 1), days=61))


@pytest.fixture(scope="session")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("clean")
    summary = generate(out, seed=11, scale="small", start=date(2024, 3, 1), days=31, messiness=0)
    return Run(out, summary)
