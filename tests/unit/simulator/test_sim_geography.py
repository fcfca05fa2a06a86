"""The geography parameter: the demo country stays byte-identical, a large one keeps its rates."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from simulator.crimes import base_daily_rates
from simulator.engine import generate
from simulator.reference import (
    DEMO_GEOGRAPHY,
    Geography,
    municipalities,
    population_table,
    use_geography,
)


@pytest.fixture(autouse=True)
def _demo_afterwards() -> Iterator[None]:
    yield
    use_geography(DEMO_GEOGRAPHY)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_demo_output_is_identical_after_a_large_geography(tmp_path: Path) -> None:
    before = _hashes_of_run(tmp_path / "before", DEMO_GEOGRAPHY)
    use_geography(Geography(600, 12))
    after = _hashes_of_run(tmp_path / "after", DEMO_GEOGRAPHY)
    assert before == after
    assert not (tmp_path / "after" / "reference").exists()
    assert len(before) > 10


def _hashes_of_run(out: Path, geography: Geography) -> dict[str, str]:
    generate(out, 7, "tiny", date(2024, 1, 1), 20, 1.0, geography)
    return _hashes(out)


def test_large_geography_codes_names_and_rates_per_capita() -> None:
    demo_daily = base_daily_rates(2024).sum()
    demo_population = sum(population_table(2024).values())
    use_geography(Geography(5570, 27))
    munis = municipalities()
    codes = [m.code for m in munis]
    assert len(codes) == len(set(codes)) == 5570
    assert all(len(c) == 5 and c.isdigit() for c in codes)
    assert {m.department_code for m in munis} == {f"{d:02d}" for d in range(1, 28)}
    assert munis[0].name == "San José"
    assert "Municipio 27206" in {m.name for m in munis}
    population = sum(population_table(2024).values())
    assert population > 40 * demo_population
    per_capita = base_daily_rates(2024).sum() / population
    assert per_capita == pytest.approx(demo_daily / demo_population, rel=0.02)


def test_geography_bounds_are_explicit() -> None:
    with pytest.raises(ValueError, match="3-digit codes"):
        Geography(5 * 1000, 5)
    with pytest.raises(ValueError, match="2-digit codes"):
        Geography(5570, 100)
