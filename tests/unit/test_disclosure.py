"""Disclosure control on tables built to be attacked: the attacker knows every published cell
and every row and column total, and solves the equations (exactly, and as linear programs
with non-negative cells). No suppressed value may come out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from observatorio.delivery.disclosure import (
    DisclosureError,
    DisclosureRule,
    extend_with_totals,
    protect_rows,
    protect_table,
    recoverable_cells,
)

# scipy's `linprog` status for a problem whose objective has no bound.
UNBOUNDED = 3


def _equations(n_rows: int, n_cols: int) -> list[list[tuple[int, int, int]]]:
    """Each row and column of the extended table: body cells add up to the margin cell."""
    equations = []
    for i in range(n_rows + 1):
        equations.append([(i, j, 1) for j in range(n_cols)] + [(i, n_cols, -1)])
    for j in range(n_cols + 1):
        equations.append([(i, j, 1) for i in range(n_rows)] + [(n_rows, j, -1)])
    return equations


def _attack_system(values, suppressed):
    """A x = b over the suppressed cells, with everything published moved to the right."""
    ext = extend_with_totals(values)
    n_rows, n_cols = len(values), len(values[0])
    unknowns = sorted(suppressed)
    position = {cell: k for k, cell in enumerate(unknowns)}
    a_rows, b = [], []
    for equation in _equations(n_rows, n_cols):
        coefficients = np.zeros(len(unknowns))
        rhs = 0.0
        for i, j, sign in equation:
            if (i, j) in position:
                coefficients[position[(i, j)]] += sign
            else:
                rhs -= sign * ext[i][j]
        a_rows.append(coefficients)
        b.append(rhs)
    return np.array(a_rows), np.array(b), unknowns, ext


def exactly_solved_cells(values, suppressed):
    """Cells whose value is the same in every solution: zero in every null-space vector."""
    a, _, unknowns, _ = _attack_system(values, suppressed)
    if not unknowns:
        return []
    _, singular, vt = np.linalg.svd(a)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    return [
        cell
        for k, cell in enumerate(unknowns)
        if null_space.shape[0] == 0 or np.all(np.abs(null_space[:, k]) < 1e-9)
    ]


def feasible_intervals(values, suppressed):
    """[min, max] of each suppressed cell over all non-negative tables with the same publication."""
    a, b, unknowns, ext = _attack_system(values, suppressed)
    intervals = {}
    for k, cell in enumerate(unknowns):
        objective = np.zeros(len(unknowns))
        objective[k] = 1
        low = linprog(objective, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=a, b_eq=b, bounds=(0, None), method="highs")
        assert low.status == 0, low.message  # feasible (the true table) and bounded below by 0
        # Unbounded above: nothing published caps the cell (a table whose totals are all
        # suppressed, say), the best protection there is.
        assert high.status in (0, UNBOUNDED), high.message
        upper = math.inf if high.status == UNBOUNDED else -high.fun
        intervals[cell] = (low.fun, upper, ext[cell[0]][cell[1]])
    return intervals


def assert_protected(values, protection, threshold=10):
    ext = extend_with_totals(values)
    for i, row in enumerate(ext):
        for j, value in enumerate(row):
            if 1 <= value < threshold:
                assert (i, j) in protection.suppressed, f"small cell {(i, j)}={value} published"
    # Every row and column line with a suppressed cell has at least two.
    n_rows, n_cols = len(values), len(values[0])
    for line in [[(i, j) for j in range(n_cols + 1)] for i in range(n_rows + 1)] + [
        [(i, j) for i in range(n_rows + 1)] for j in range(n_cols + 1)
    ]:
        hidden = [c for c in line if c in protection.suppressed]
        assert len(hidden) != 1, f"line {line[0]}..{line[-1]} has a single suppressed cell"
    assert exactly_solved_cells(values, protection.suppressed) == []
    for cell, (low, high, true) in feasible_intervals(values, protection.suppressed).items():
        assert low - 1e-6 <= true <= high + 1e-6
        assert high - low >= 1 - 1e-6, f"cell {cell} pinned to [{low}, {high}]"


# An attackable table: a lone small cell per line, so totals would give each one away.
LONE_SMALL = [
    [120, 3, 45, 60],
    [80, 70, 55, 90],
    [30, 40, 2, 75],
    [65, 50, 85, 95],
]


def test_a_lone_small_cell_is_recoverable_without_complementary_suppression():
    primary_only = {(0, 1), (2, 2)}
    assert sorted(exactly_solved_cells(LONE_SMALL, primary_only)) == [(0, 1), (2, 2)]


def test_complementary_suppression_makes_lone_small_cells_unrecoverable():
    protection = protect_table(LONE_SMALL)
    assert protection.primary == {(0, 1), (2, 2)}
    assert protection.secondary, "complementary cells were needed"
    assert_protected(LONE_SMALL, protection)
    # Small complements are chosen, not the large totals.
    assert all(i < 4 and j < 4 for i, j in protection.secondary)


def test_a_bridge_between_two_protected_blocks_is_broken():
    # Two 2x2 blocks of small cells are each safe, but the attack path through a single
    # suppressed cell linking them (a bridge) would reveal it: the algorithm must not leave one.
    bridged = {(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (2, 2), (2, 3), (3, 2), (3, 3)}
    assert (1, 2) in recoverable_cells(bridged)
    assert (1, 2) in exactly_solved_cells(np.ones((4, 4), dtype=int).tolist(), bridged)
    protection = protect_table(
        [[5, 5, 40, 40], [5, 5, 20, 40], [40, 40, 5, 5], [40, 40, 5, 5]], initial=bridged
    )
    assert recoverable_cells(protection.suppressed) == []
    assert_protected([[5, 5, 40, 40], [5, 5, 20, 40], [40, 40, 5, 5], [40, 40, 5, 5]], protection)


def test_small_total_and_single_cell_row_are_protected():
    # A row whose only non-zero cell is small: its total equals it, so the total is hidden too.
    table = [[0, 4, 0], [30, 25, 60], [12, 0, 33]]
    protection = protect_table(table)
    assert (0, 3) in protection.suppressed
    assert_protected(table, protection)


def test_threshold_is_configurable_and_zero_is_published():
    table = [[0, 14, 50], [20, 30, 40]]
    assert protect_table(table, threshold=10).suppressed == frozenset()
    strict = protect_table(table, threshold=15)
    assert (0, 1) in strict.primary and (0, 0) not in strict.primary
    assert_protected(table, strict, threshold=15)


def test_invalid_tables_fail_clearly():
    with pytest.raises(DisclosureError, match="negative count -1 at row 0, column 1"):
        protect_table([[1, -1]])
    with pytest.raises(DisclosureError, match="ragged"):
        protect_table([[1, 2], [3]])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 5).flatmap(
        lambda n_rows: st.integers(2, 5).flatmap(
            lambda n_cols: st.lists(
                st.lists(
                    st.one_of(st.integers(0, 12), st.integers(10, 200)),
                    min_size=n_cols,
                    max_size=n_cols,
                ),
                min_size=n_rows,
                max_size=n_rows,
            )
        )
    ),
    st.integers(2, 15),
)
# Every total small, so all suppressed: the attacker's cells have no upper bound at all.
@example(values=[[0, 0], [0, 1]], threshold=2)
def test_property_no_suppressed_cell_is_recoverable(values, threshold):
    protection = protect_table(values, threshold=threshold)
    assert_protected(values, protection, threshold=threshold)


def _long_rows():
    """Victims by month, municipality and crime, with femicides "of which" and a rate."""
    rows = []
    data = {
        ("01001", "homicide"): (3, 2),
        ("01001", "theft"): (150, 0),
        ("01001", "robbery"): (60, 0),
        ("01002", "homicide"): (25, 4),
        ("01002", "theft"): (80, 0),
        ("01002", "robbery"): (45, 0),
        ("02001", "homicide"): (30, 6),
        ("02001", "theft"): (70, 0),
        # ("02001", "robbery") is absent: a zero the mart does not store.
    }
    for (municipality, crime), (victims, femicides) in data.items():
        rows.append(
            {
                "month": "2025-10",
                "municipality_code": municipality,
                "municipality_name": f"Municipio {municipality}",
                "crime": crime,
                "victims": victims,
                "femicide_victims": femicides,
                "victims_rate": victims / 10,
            }
        )
    return rows


RULE = DisclosureRule(
    counts=("victims", "femicide_victims"),
    rows="municipality_code",
    columns="crime",
    by=("month",),
    part_of={"femicide_victims": "victims"},
    rates={"victims_rate": "victims"},
)


def test_long_rows_suppress_parts_rates_and_complements():
    protected, keys = protect_rows(_long_rows(), RULE)
    rows = protected.rows
    by_key = {(r["municipality_code"], r["crime"]): n for n, r in enumerate(rows)}
    small = by_key[("01001", "homicide")]
    assert protected.is_suppressed("victims", small)
    assert protected.is_suppressed("victims_rate", small)
    # The femicides of a suppressed total are suppressed with it (2 of 3 says too much).
    assert protected.is_suppressed("femicide_victims", small)
    # Each suppressed victims cell has a partner in its row and in its column.
    hidden = {k for k, n in by_key.items() if protected.is_suppressed("victims", n)}
    for municipality in {m for m, _ in hidden}:
        assert sum(1 for m, _ in hidden if m == municipality) >= 2
    for crime in {c for _, c in hidden}:
        assert sum(1 for _, c in hidden if c == crime) >= 2
    assert {k[1:] for k in keys["victims"]} == hidden


def test_an_absent_zero_chosen_as_complement_goes_out_as_a_suppressed_row():
    rows = [
        {
            "month": "m",
            "municipality_code": "A",
            "municipality_name": "Alfa",
            "crime": "x",
            "victims": 4,
            "femicide_victims": 0,
            "victims_rate": 0.4,
        },
        {
            "month": "m",
            "municipality_code": "B",
            "municipality_name": "Beta",
            "crime": "y",
            "victims": 40,
            "femicide_victims": 0,
            "victims_rate": 4.0,
        },
    ]
    protected, _ = protect_rows(rows, RULE)
    # Row A's only cell is small; its total is hidden with it, and the column of totals needs a
    # second hidden cell: every option is visible, so the result must still hold no bridge.
    hidden = [
        (r["municipality_code"], r["crime"])
        for n, r in enumerate(protected.rows)
        if protected.is_suppressed("victims", n)
    ]
    assert ("A", "x") in hidden
    fillers = protected.rows[2:]
    for filler in fillers:
        assert filler["victims"] == 0
        if filler["municipality_code"] == "A":
            assert filler["municipality_name"] == "Alfa"


def test_universe_pattern_seeds_the_recipients_subset():
    rows = _long_rows()
    _universe, keys = protect_rows(rows, RULE)
    subset = [r for r in rows if r["municipality_code"].startswith("01")]
    protected, _ = protect_rows(subset, RULE, seed=keys)
    for n, row in enumerate(protected.rows):
        key = (row["month"], row["municipality_code"], row["crime"])
        if key in keys["victims"]:
            assert protected.is_suppressed("victims", n)
    # And the subset on its own equations is safe too.
    labels_r = sorted({r["municipality_code"] for r in protected.rows})
    labels_c = sorted({r["crime"] for r in protected.rows})
    table = [[0] * len(labels_c) for _ in labels_r]
    hidden = set()
    for n, r in enumerate(protected.rows):
        cell = (labels_r.index(r["municipality_code"]), labels_c.index(r["crime"]))
        table[cell[0]][cell[1]] = r["victims"]
        if protected.is_suppressed("victims", n):
            hidden.add(cell)
    assert exactly_solved_cells(table, hidden | _hidden_margins(table, hidden)) == []


def _hidden_margins(table, hidden):
    """The margins the protection hid as well (small totals), recomputed for the check."""
    return set(protect_table(table, initial=hidden).suppressed) - {
        (i, j) for i in range(len(table)) for j in range(len(table[0]))
    }


def test_duplicate_cells_are_rejected_naming_the_key():
    rows = _long_rows()
    rows.append(dict(rows[0]))
    with pytest.raises(DisclosureError, match="same cell"):
        protect_rows(rows, RULE)


# --- Levels per recipient and the rules they take from the publication rules ---------------


def _spec_with(tmp_path, level: str):
    """The ministry's spec with the recipient at `level`."""
    from pathlib import Path

    import yaml

    from observatorio.delivery.specs import parse_spec

    root = Path(__file__).parents[2]
    spec = yaml.safe_load((root / "extracts/ministerio_seguridad.yaml").read_text())
    spec["disclosure"] = level
    path = tmp_path / "ministerio.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    return parse_spec(path)


def test_minimum_cell_size_comes_from_the_publication_rules(tmp_path):
    from observatorio.delivery.disclosure import DEFAULT_THRESHOLD, publication_rules
    from observatorio.indicators.definitions import load_definitions, publication_defaults

    rules = publication_rules()
    # One fact: the tables built by hand (bulletin, bi) use the same size as the rules.
    assert rules.min_cell_size == publication_defaults()["min_cell_size"] == DEFAULT_THRESHOLD
    assert rules.decimals == publication_defaults()["decimals"]
    femicide = load_definitions().get("femicide_count")
    assert publication_rules(["femicide_count"]).min_cell_size == max(
        rules.min_cell_size, femicide.publication.min_cell_size
    )
    for level in ("public", "external", "owner"):
        spec = _spec_with(tmp_path, level)
        assert spec.level == level
        assert spec.datasets[0].disclosure.threshold == rules.min_cell_size


@pytest.mark.parametrize(
    ("level", "min_cell_size", "note"),
    [
        ("external", 10, "Suprimido (*) si vale de 1 a 9 (tamaño mínimo de celda 10,"),
        ("public", 5, "Suprimido (*) si vale de 1 a 4 (tamaño mínimo de celda 5,"),
        ("public", 2, "Suprimido (*) si vale 1 (tamaño mínimo de celda 2,"),
        ("owner", 10, "Cifras exactas, sin supresión: destinatario titular de los datos"),
    ],
)
def test_the_dictionary_states_the_rule_of_the_level(tmp_path, level, min_cell_size, note):
    """The confidentiality text is generated from the rule: never "de 1 a 0"."""
    from dataclasses import replace

    from observatorio.delivery.dictionary import confidentiality_note

    spec = _spec_with(tmp_path, level)
    dataset = spec.datasets[0]
    dataset = replace(dataset, disclosure=replace(dataset.disclosure, threshold=min_cell_size))
    text = confidentiality_note(spec, dataset)
    assert text.startswith(note) and "de 1 a 0" not in text
    english = replace(spec, language="en")
    assert "1 to 0" not in confidentiality_note(english, dataset)


def test_unit_words_name_the_population_and_say_a_year_when_annualised():
    from types import SimpleNamespace

    from observatorio.delivery.dictionary import unit_words
    from observatorio.indicators.definitions import load_definitions

    definitions = load_definitions()
    assert unit_words("per 100k", "es", definitions.get("femicide_rate")).startswith(
        "por 100 000 mujeres"
    )
    homicide = definitions.get("homicide_rate_police")
    assert unit_words("per 100k", "es", homicide).startswith("por 100 000 habitantes")
    assert unit_words("count", "es") == "número de casos"
    annual = SimpleNamespace(denominator=homicide.denominator, annualised=True)
    assert unit_words("per 100k", "es", annual) == "por 100 000 habitantes al año"
    assert unit_words("per 100k", "en", annual) == "per 100 000 population a year"
