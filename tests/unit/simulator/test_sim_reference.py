from __future__ import annotations

import csv
from pathlib import Path

from simulator.reference import (
    AGE_GROUPS,
    SPELLING_VARIANTS,
    main,
    municipalities,
    penal_code,
    population_table,
)

SEEDS = Path(__file__).resolve().parents[3] / "dbt_project" / "seeds"


def test_geography() -> None:
    munis = municipalities()
    assert len(munis) == 60
    assert {m.department_code for m in munis} == {"01", "02", "03", "04", "05"}
    assert all(len(m.code) == 5 and m.code[:2] == m.department_code for m in munis)
    assert len({m.name for m in munis}) == 60
    assert any("é" in m.name or "í" in m.name for m in munis)
    assert set(SPELLING_VARIANTS) <= {m.code for m in munis}


def test_population_is_complete_and_grows() -> None:
    t2020, t2025 = population_table(2020), population_table(2025)
    assert len(t2020) == 60 * 2 * len(AGE_GROUPS) == 60 * 2 * 17
    assert all(v > 0 for v in t2020.values())
    assert sum(t2025.values()) > sum(t2020.values())


def test_penal_code_maps_to_iccs_with_two_gaps() -> None:
    code = penal_code()
    assert 40 <= len(code) <= 60
    assert all(c.startswith("CP-") for c in code)
    unmapped = [o for o in code.values() if not o.iccs_code]
    assert len(unmapped) == 2
    assert all(len(o.iccs_code) in (4, 5, 6) for o in code.values() if o.iccs_code)


def test_seed_files_are_current(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    for name in ("ref_municipalities.csv", "ref_population.csv", "ref_national_offences.csv"):
        assert (tmp_path / name).read_bytes() == (SEEDS / name).read_bytes(), name
    with (tmp_path / "ref_national_offences.csv").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == ["national_offence_code", "national_offence_name_es", "iccs_code"]
