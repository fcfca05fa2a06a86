"""The bulletin's words and shapes without a warehouse: Spanish names for every source the
definitions name, panels that name defined indicators, dates and numbers as a reader writes
them, the mart's rate scale, and the demo profile's map generated exactly from its geography."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from observatorio.delivery.bulletin.geometry import (
    GEOMETRY_FILE,
    GeometryError,
    borders,
    geojson_text,
    load_departments,
    load_geometries,
    tessellate_seed,
)
from observatorio.delivery.bulletin.labels import (
    day_words,
    internal_codes,
    number,
    period_words,
    source_name,
    unit_words,
)
from observatorio.delivery.bulletin.mart_panels import MEDIANS, dark_figure_codes
from observatorio.delivery.bulletin.methods import methods
from observatorio.delivery.bulletin.panels import PANELS
from observatorio.delivery.bulletin.series import RateScaleError, rate_factor
from observatorio.indicators.definitions import load_definitions

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "dbt_project" / "seeds" / "ref_municipalities.csv"


def test_every_source_of_the_definitions_has_a_spanish_name():
    for ind in load_definitions().indicators:
        name = source_name(ind.source)
        assert name and ind.source not in name


def test_panels_name_only_defined_indicators_and_one_unit_per_rate_chart():
    codes = set(load_definitions().codes)
    named = [c for p in PANELS for c in p.codes] + dark_figure_codes() + list(MEDIANS)
    assert set(named) <= codes
    assert dark_figure_codes()  # the survey family is defined
    rates = next(p for p in PANELS if p.key == "homicide_rates")
    units = {unit_words(load_definitions().get(c)) for c in rates.codes}
    assert units == {"por 100 000 habitantes al año"}


def test_units_say_who_and_when():
    get = load_definitions().get
    assert unit_words(get("femicide_rate")) == "por 100 000 mujeres al año"
    assert unit_words(get("homicide_count_police")) == "casos"
    assert "encuesta" in unit_words(get("adjusted_incidence_rate__robbery"))


def test_dates_and_numbers_as_a_reader_writes_them():
    assert period_words("2024-12") == "diciembre de 2024"
    assert day_words(date(2026, 12, 6)) == "6 de diciembre de 2026"
    assert number(1234567.891, 1) == "1\u2009234\u2009567,9"
    assert number(None) == "*"


def test_methods_state_the_rules_from_the_publication_defaults():
    defaults = load_definitions().get("homicide_rate_police").publication
    text = " ".join(methods(defaults.min_cell_size).rules)
    assert f"de 1 a {defaults.min_cell_size - 1} casos" in text
    assert f"menos de {defaults.min_stable_numerator} casos" in text


def test_internal_codes_cover_indicators_and_sources():
    codes = internal_codes()
    assert {"homicide_rate_health", "police", "health", "survey", "reconciled"} <= codes


def _row(value: float, numerator: float = 3, denominator: float = 100_000) -> dict[str, object]:
    return {
        "indicator_code": "x",
        "numerator": numerator,
        "denominator": denominator,
        "value": value,
    }


def test_rate_factor_reads_the_marts_scale_and_refuses_another():
    assert rate_factor([_row(3.0)], "x") == 1
    assert rate_factor([_row(36.0)], "x") == 12
    with pytest.raises(RateScaleError, match="neither the monthly nor the annual"):
        rate_factor([_row(7.0)], "x")


def test_the_demo_map_is_exactly_what_the_geography_generates():
    committed = ROOT / "profiles" / "demo" / GEOMETRY_FILE
    assert committed.read_text(encoding="utf-8") == geojson_text(tessellate_seed(SEED))
    shapes = load_geometries(committed)
    with SEED.open(encoding="utf-8") as handle:
        seed_codes = {line.split(",")[0] for line in list(handle)[1:]}
    assert set(shapes) == seed_codes
    # Neighbours share their jittered edges: every interior vertex is used by several cells.
    uses: dict[tuple[float, float], int] = {}
    for rings in shapes.values():
        for vertex in rings[0][:-1]:
            uses[vertex] = uses.get(vertex, 0) + 1
    assert max(uses.values()) == 4 and sum(1 for n in uses.values() if n > 1) > len(shapes)
    # Department borders: the coast plus the edges between departments, never inside one.
    departments = load_departments(committed)
    assert set(departments.values()) == {"01", "02", "03", "04", "05"}
    outline = {tuple(sorted(segment)) for segment in borders(shapes, departments)}
    edges: dict[tuple, set[str]] = {}
    for code, rings in shapes.items():
        for a, b in zip(rings[0], rings[0][1:], strict=False):
            edges.setdefault(tuple(sorted((a, b))), set()).add(code)
    inner = {e for e, owners in edges.items() if len({departments[c] for c in owners}) == 1}
    inner = {e for e in inner if len(edges[e]) == 2}
    assert outline and not outline & inner


def test_a_bad_geometry_file_names_file_and_feature(tmp_path):
    path = tmp_path / GEOMETRY_FILE
    feature = {
        "type": "Feature",
        "properties": {"municipality_code": "01001"},
        "geometry": {"type": "Point", "coordinates": [0, 0]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(GeometryError, match=r"feature 1 \(01001\): geometry 'Point'"):
        load_geometries(path)


def test_panel_text_says_what_rose_and_by_how_much():
    from observatorio.delivery.bulletin.narrative import describe
    from observatorio.delivery.bulletin.series import Line, value_of

    ind = load_definitions().get("homicide_rate_police")
    line = Line("homicide_rate_police")
    # 30 homicides in October over 1.2 million people, 20 in September, 40 a year before.
    for month, count in (("2025-10", 30), ("2025-09", 20), ("2024-10", 40)):
        line.points[month] = value_of(ind, count, 1_200_000)
    text = describe(line, "2025-10", "*")
    assert text.startswith("En octubre de 2025, tasa de homicidio intencional (policía): 30,0")
    assert "por 100 000 habitantes al año" in text
    assert "10,0 más (+50,0 %) que en septiembre de 2025" in text
    assert "10,0 menos (\u221225,0 %) que en octubre de 2024" in text
    assert "inestable" not in text
    line.points["2025-10"] = value_of(ind, 12, 1_200_000)
    assert "Tasa inestable: descansa en menos de 20 casos." in describe(line, "2025-10", "*")
