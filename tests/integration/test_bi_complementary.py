"""Complementary suppression in `bi` (issue 17): a suppressed count cannot be derived by
subtracting the published cells from their published total. A hand-built case (dbt unit
test `test_a_lone_suppressed_cell_takes_a_complement_with_it`) runs through dbt on the real
PostgreSQL, and the built table is checked against the same rule on whatever it holds."""

from __future__ import annotations

from typing import Any

from observatorio.transform.dbt import run_dbt
from tests.police_files import report_row, write_reports

UNIT_TEST = "test_a_lone_suppressed_cell_takes_a_complement_with_it"
COUNTS = ("reports", "cases", "indictments", "judgements", "convictions")


def test_no_suppressed_count_is_derivable_from_its_total(clean_warehouse, settings, tmp_path):
    from observatorio.orchestration.ingest import ingest_file

    # Department 01: one municipality with 3 reports (suppressed), two with 12 and 15.
    rows = [report_row(i, codigo_municipio="01001") for i in range(1, 4)]
    rows += [report_row(i, codigo_municipio="01002") for i in range(10, 22)]
    rows += [report_row(i, codigo_municipio="01003") for i in range(30, 45)]
    path = write_reports(tmp_path / "denuncias_20240105.csv", rows)
    assert ingest_file("police__reports", path, settings).status == "loaded"
    results = run_dbt(
        ["build", "--select", "+bi_justice_attrition", "--indirect-selection", "cautious"],
        settings,
    )
    unit = [r for r in results if r.node.name == UNIT_TEST]
    assert len(unit) == 1 and str(unit[0].status) == "pass"

    db = clean_warehouse
    table = db.execute(
        "select b.area_level, b.area_code, m.department_code, b.month, "
        + ", ".join(f"a.{c}, b.{c}" for c in COUNTS)
        + " from bi.justice_attrition b join marts.mart_justice_attrition a using (attrition_id)"
        " left join marts.dim_municipality m"
        " on b.area_level = 'municipality' and m.municipality_code = b.area_code"
    ).fetchall()
    assert table
    checked = 0
    for n, count in enumerate(COUNTS):
        groups: dict[tuple[Any, ...], list[tuple[Any, Any]]] = {}
        totals: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        for level, code, department, month, *values in table:
            raw, published = values[2 * n], values[2 * n + 1]
            parent = {"municipality": department, "department": "all"}.get(level)
            own = {"department": code, "national": "all"}.get(level)
            if parent is not None:
                groups.setdefault((level, parent, month), []).append((raw, published))
            if own is not None:
                totals[("municipality" if level == "department" else "department", own, month)] = (
                    raw,
                    published,
                )
        for key, members in groups.items():
            hidden = [raw for raw, published in members if published is None and raw]
            total = totals.get(key)
            if total is None or total[1] is None:
                continue
            # A published total with hidden members hides at least two non-zero... or all of them.
            assert len(hidden) != 1, (count, key, members, total)
            checked += 1
    assert checked > 0
    reports = {(r[0], r[1]): r[5] for r in table if r[3] == table[0][3] and r[0] != "national"}
    assert reports[("municipality", "01001")] is None  # 3: primary
    assert reports[("municipality", "01002")] is None  # 12: its complement
    assert reports[("municipality", "01003")] == 15
