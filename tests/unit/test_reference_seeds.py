"""Tests for the reference seeds in dbt_project/seeds and the script that builds the ICCS one.

The invariant tests read only the committed CSV files. The regeneration test also needs
the UNODC reference files, which sit outside the repository, in ``shared/reference`` beside
the clone (``../shared/reference``; CI lays it there), ``/work/shared/reference`` or
``$OBSERVATORIO_REFERENCE_DIR``; without them it fails, saying where it looked.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SEEDS_DIR = REPO_ROOT / "dbt_project" / "seeds"
ICCS_SEED = SEEDS_DIR / "ref_iccs_categories.csv"
ICD10_SEED = SEEDS_DIR / "ref_icd10_external_cause_groups.csv"
GENERATOR = REPO_ROOT / "scripts" / "build_reference_seeds.py"

ICCS_COLUMNS = [
    "iccs_code",
    "iccs_level",
    "parent_iccs_code",
    "level_1_code",
    "level_2_code",
    "level_3_code",
    "level_4_code",
    "name_en",
    "name_es",
    "description_es",
]
ICCS_CODE_WIDTH = {1: 2, 2: 4, 3: 5, 4: 6}
# ICCS 2015: 11 sections, 63 divisions, 148 groups, 98 classes.
ICCS_ROWS_PER_LEVEL = {1: 11, 2: 63, 3: 148, 4: 98}


def reference_dir() -> Path:
    """The folder with the UNODC reference files."""
    candidates = [REPO_ROOT.parent / "shared" / "reference", Path("/work/shared/reference")]
    if "OBSERVATORIO_REFERENCE_DIR" in os.environ:
        candidates.insert(0, Path(os.environ["OBSERVATORIO_REFERENCE_DIR"]))
    found = next((path for path in candidates if path.is_dir()), None)
    assert found is not None, (
        f"UNODC reference files not found in any of {[str(c) for c in candidates]}: they sit "
        "beside the clone as shared/reference, or set OBSERVATORIO_REFERENCE_DIR"
    )
    return found


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_reference_seeds", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def read_seed(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.fixture(scope="module")
def iccs_rows() -> list[dict[str, str]]:
    header, rows = read_seed(ICCS_SEED)
    assert header == ICCS_COLUMNS
    return rows


@pytest.fixture(scope="module")
def icd10_rows() -> list[dict[str, str]]:
    header, rows = read_seed(ICD10_SEED)
    assert header == [
        "group_code",
        "group_name_en",
        "group_name_es",
        "range_start",
        "range_end",
        "intent",
    ]
    return rows


def test_generator_reproduces_committed_iccs_seed(tmp_path: Path) -> None:
    source = reference_dir()
    generator = load_generator()
    exit_code = generator.main(["--reference-dir", str(source), "--out", str(tmp_path)])
    assert exit_code == 0
    regenerated = (tmp_path / ICCS_SEED.name).read_bytes()
    assert regenerated == ICCS_SEED.read_bytes(), (
        f"{ICCS_SEED} is out of date: run "
        f"python scripts/build_reference_seeds.py --reference-dir {source} --out dbt_project/seeds"
    )


def test_iccs_rows_per_level(iccs_rows: list[dict[str, str]]) -> None:
    counts = Counter(int(row["iccs_level"]) for row in iccs_rows)
    assert dict(counts) == ICCS_ROWS_PER_LEVEL


def test_iccs_codes_are_unique_sorted_and_padded(iccs_rows: list[dict[str, str]]) -> None:
    codes = [row["iccs_code"] for row in iccs_rows]
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes)
    for row in iccs_rows:
        level = int(row["iccs_level"])
        code = row["iccs_code"]
        assert re.fullmatch(rf"\d{{{ICCS_CODE_WIDTH[level]}}}", code), (code, level)
    sections = sorted(row["iccs_code"] for row in iccs_rows if row["iccs_level"] == "1")
    assert sections == [f"{n:02d}" for n in range(1, 12)]


def test_iccs_hierarchy_is_consistent(iccs_rows: list[dict[str, str]]) -> None:
    by_code = {row["iccs_code"]: row for row in iccs_rows}
    for row in iccs_rows:
        level = int(row["iccs_level"])
        code = row["iccs_code"]
        level_codes = [row[f"level_{n}_code"] for n in range(1, 5)]
        expected = [code[: ICCS_CODE_WIDTH[n]] if n <= level else "" for n in range(1, 5)]
        assert level_codes == expected, code
        if level == 1:
            assert row["parent_iccs_code"] == "", code
            continue
        parent = row["parent_iccs_code"]
        assert parent == code[: ICCS_CODE_WIDTH[level - 1]], code
        assert parent in by_code, f"parent {parent} of {code} missing"
        assert by_code[parent]["iccs_level"] == str(level - 1), code


def test_iccs_names_are_filled_and_single_line(iccs_rows: list[dict[str, str]]) -> None:
    for row in iccs_rows:
        for column in ("name_en", "name_es"):
            value = row[column]
            assert value and value == value.strip(), (row["iccs_code"], column)
        for column in ("name_en", "name_es", "description_es"):
            assert "\n" not in row[column] and "\r" not in row[column], row["iccs_code"]
    # Divisions, groups and classes are described except two residual groups.
    undescribed = sorted(
        row["iccs_code"]
        for row in iccs_rows
        if row["iccs_level"] != "1" and not row["description_es"]
    )
    assert undescribed == ["01049", "0909"]


def test_iccs_known_names(iccs_rows: list[dict[str, str]]) -> None:
    by_code = {row["iccs_code"]: row for row in iccs_rows}
    assert by_code["01"]["name_en"] == "Acts leading to death or intending to cause death"
    assert by_code["0101"]["name_en"] == "Intentional homicide"
    assert by_code["0101"]["name_es"] == "Homicidio intencional"
    assert by_code["01031"]["name_en"] == "Non-negligent manslaughter"
    assert by_code["02"]["name_es"] == (
        "Actos que causan daños o que tienen la intención de causar daños a las personas"
    )
    # Wrapped over three lines in the English structure table.
    assert by_code["110131"]["name_en"] == (
        "Unlawfully killing, causing or intending to cause death or serious injury "
        "associated with armed conflict"
    )


def normalise_icd10(raw: str, width: int) -> str:
    """The normalisation documented in _reference__seeds.yml."""
    return raw.strip().upper().replace(".", "")[:width]


def icd10_groups_for(raw: str, rows: list[dict[str, str]]) -> list[str]:
    return [
        row["group_code"]
        for row in rows
        if row["range_start"] <= normalise_icd10(raw, len(row["range_start"])) <= row["range_end"]
    ]


def test_icd10_ranges_are_well_formed(icd10_rows: list[dict[str, str]]) -> None:
    codes = [row["group_code"] for row in icd10_rows]
    assert len(codes) == len(set(codes))
    for row in icd10_rows:
        assert re.fullmatch(r"[A-Z]\d{2,3}", row["range_start"]), row
        assert len(row["range_start"]) == len(row["range_end"]), row
        assert row["range_start"] <= row["range_end"], row
        assert all(row[column] for column in row), row
    three_char = sorted(
        (row["range_start"], row["range_end"]) for row in icd10_rows if len(row["range_start"]) == 3
    )
    for (_, end), (next_start, _) in pairwise(three_char):
        assert end < next_start, f"ranges overlap at {end} / {next_start}"


@pytest.mark.parametrize(
    ("raw", "group_code", "intent"),
    [
        ("X95.0", "X85-Y09", "homicide"),
        ("X950", "X85-Y09", "homicide"),
        ("x95", "X85-Y09", "homicide"),
        ("Y09", "X85-Y09", "homicide"),
        ("Y87.1", "Y87.1", "homicide"),
        ("y871", "Y87.1", "homicide"),
        ("Y10.9", "Y10-Y34", "undetermined"),
        ("Y35.0", "Y35", "legal_intervention"),
        ("Y36", "Y36", "legal_intervention"),
        ("X70", "X60-X84", "suicide"),
        ("W19", "V01-X59", "accident"),
        ("V01", "V01-X59", "accident"),
    ],
)
def test_icd10_codes_fall_in_one_group(
    icd10_rows: list[dict[str, str]], raw: str, group_code: str, intent: str
) -> None:
    assert icd10_groups_for(raw, icd10_rows) == [group_code]
    intents = {row["group_code"]: row["intent"] for row in icd10_rows}
    assert intents[group_code] == intent


@pytest.mark.parametrize("raw", ["Y87.0", "Y872", "A00", "Y40", "U00"])
def test_icd10_codes_outside_external_causes_match_nothing(
    icd10_rows: list[dict[str, str]], raw: str
) -> None:
    assert icd10_groups_for(raw, icd10_rows) == []
