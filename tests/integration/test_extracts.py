"""Extract deliveries on the real warehouse: two months of the simulated country's police
reports, through ingestion (two batches: the September and the October files) and dbt,
delivered as CSV, XLSX and Parquet with disclosure control by the recipient's level, audited,
and re-delivered for a past period from the CLI."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from observatorio.delivery.errors import ExtractError
from observatorio.delivery.extracts import deliver, deliver_for_run
from observatorio.delivery.schedule import ScheduledRun, period_before
from observatorio.delivery.specs import available_specs, load_spec, parse_spec

SEED, START, DAYS = 7, date(2025, 9, 16), 46  # late September and October 2025, small scale
MART_COLUMNS = (
    "month",
    "department_code",
    "municipality_code",
    "iccs_division_code",
    "victims",
    "femicide_victims",
    "intrafamily_victims",
)


def build_police_marts(settings, workdir: Path) -> None:
    """Simulate two months, ingest the police reports as two batches (the files of each
    month), build the police marts."""
    from observatorio.core.warehouse import connect
    from observatorio.orchestration.ingest import ingest_file
    from observatorio.transform.dbt import run_dbt
    from simulator import generate
    from tests.conftest import _truncate

    with connect(settings, autocommit=True) as conn:  # only this module's batches built
        _truncate(conn)
    simulation = workdir / "simulation"
    generate(simulation, seed=SEED, scale="small", start=START, days=DAYS)
    by_month: dict[str, list[str]] = {"20250916_20250930": [], "20251001_20251031": []}
    for path in sorted((simulation / "exports/police/reports").glob("denuncias_*.csv")):
        if "_reenvio" in path.name:  # identical re-sends: the ledger would skip them
            continue
        lines = by_month["20250916_20250930" if "_202509" in path.name else "20251001_20251031"]
        content = path.read_text(encoding="cp1252").splitlines()
        lines += content if not lines else content[1:]
    for span, lines in by_month.items():
        batch = workdir / f"denuncias_{span}.csv"
        batch.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
        assert ingest_file("police__reports", batch, settings).status == "loaded"
    # Seeds and models only: the tests of other domains' models on shared seeds are not ours.
    run_dbt(
        [
            "build",
            "--select",
            # Every mart an extract spec reads (the review list stays empty: no linkage ran).
            "+mart_crime_reports_monthly",
            "+mart_victim_review_list",
            "+mart_victim_review_by_institution",
            "+dim_source_system",  # the sources' names in the data dictionaries
            "+dim_municipality",  # the municipalities' names
            "--exclude-resource-type",
            "test",
            "unit_test",
        ],
        settings,
    )
    # The OpenLineage events of that build name the run each delivery's manifest points to.
    from observatorio.lineage.openlineage import emit_dbt_events

    assert emit_dbt_events(settings) > 0


def ensure_police_marts(settings, workdir: Path) -> None:
    """Reuse the police mart if this session built one already (any content), else build it."""
    from observatorio.core.warehouse import connect

    with connect(settings) as conn:
        row = conn.execute(
            "select to_regclass('marts.mart_crime_reports_monthly'),"
            " to_regclass('marts.mart_victim_review_by_institution'),"
            " to_regclass('marts.dim_source_system'), to_regclass('marts.dim_municipality'),"
            # An incremental fact other tests' clean-up drops while the marts above stay.
            " to_regclass('marts.fct_crime_reports')"
        ).fetchone()
        filled = (
            all(row)
            and conn.execute("select count(*) from marts.mart_crime_reports_monthly").fetchone()[0]
        )
    if not (filled and (settings.dbt_target_dir / "manifest.json").is_file()):
        build_police_marts(settings, workdir)


@pytest.fixture(scope="module")
def marts(warehouse_url, settings, tmp_path_factory):
    build_police_marts(settings, tmp_path_factory.mktemp("extracts"))
    return settings


def _mart(db) -> dict[tuple[str, str, str], dict[str, object]]:
    rows = db.execute(f"select {', '.join(MART_COLUMNS)} from marts.mart_crime_reports_monthly")
    return {(r[0], r[2], r[3]): dict(zip(MART_COLUMNS, r, strict=True)) for r in rows.fetchall()}


def _check_manifest(folder: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        data = (folder / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    return manifest


def test_every_spec_in_the_repository_is_valid():
    names = available_specs()
    assert {"ministerio_seguridad", "gobernacion_central", "unidad_analitica"} <= set(names)
    formats = {load_spec(n).format for n in names}
    assert formats == {"csv", "xlsx", "parquet"}


BASE = yaml.safe_load(
    (Path(__file__).parents[2] / "extracts/ministerio_seguridad.yaml").read_text()
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(formato="csv"), "(top level): unknown key(s) formato"),
        (lambda s: s.update(format="xls"), "format: 'xls' is not one of csv, xlsx, parquet"),
        (lambda s: s["datasets"][0]["columns"][0].pop("es"), "datasets[0].columns[0].es: no 'es'"),
        (
            lambda s: s["datasets"][0]["disclosure"].update(rows="municipio"),
            "datasets[0].disclosure.rows: 'municipio' is not a column of the dataset",
        ),
        (lambda s: s["datasets"][0].pop("disclosure"), "datasets[0].disclosure: is required"),
        (
            lambda s: s.update(channel={"type": "sftp"}),
            "channel.conn_id: a sftp channel needs the Airflow connection id",
        ),
        (
            lambda s: s.update(channel={"type": "email", "conn_id": "smtp"}),
            "channel.to: an email channel needs at least one address",
        ),
        (
            lambda s: s["datasets"][0].update(grain=["month"]),
            "datasets[0].grain: 'department_code' is neither in the grain nor a count",
        ),
        (
            # The minimum cell size is the publication rules', never the spec's.
            lambda s: s["datasets"][0]["disclosure"].update(threshold=5),
            "datasets[0].disclosure: unknown key(s) threshold",
        ),
        (lambda s: s.pop("disclosure"), "disclosure.level: declare the recipient's disclosure"),
        (
            lambda s: s.update(disclosure="trusted"),
            "disclosure.level: 'trusted' is not one of public, external, owner",
        ),
        (
            lambda s: s.update(csv={"delimiter": ",", "decimal": ","}),
            "csv.decimal: the decimal mark cannot be the delimiter",
        ),
        (
            lambda s: s.update(csv={"encoding": "cp1252", "bom": True}),
            "csv.bom: a byte-order mark is for utf-8, not cp1252",
        ),
        (
            lambda s: s["datasets"][0]["columns"].append({"name": "iccs_note", "es": "nota"}),
            "datasets[0].columns[10].name: 'iccs_note' is not described in extracts/_columns.yaml",
        ),
    ],
)
def test_invalid_specs_fail_naming_file_and_key(tmp_path, change, message):
    spec = json.loads(json.dumps(BASE))
    change(spec)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    with pytest.raises(ExtractError) as error:
        parse_spec(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def _read_csv(path: Path, delimiter: str = ";") -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _external_copy(tmp_path: Path, name: str = "ministerio_seguridad") -> str:
    """The spec `name` for an external recipient (a copy in tmp_path, level `external`)."""
    spec = yaml.safe_load((Path(__file__).parents[2] / "extracts" / f"{name}.yaml").read_text())
    spec["recipient"] = f"{name}_externo"
    spec["disclosure"] = {"level": "external", "marker": "*"}
    (tmp_path / f"{name}_externo.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    return f"{name}_externo"


COUNT_COLUMNS = {
    "victimas": "victims",
    "victimas_feminicidio": "femicide_victims",
    "victimas_violencia_intrafamiliar": "intrafamily_victims",
}


def test_owner_gets_exact_october_counts_and_the_audit_says_owner(marts, db):
    """The ministry of security owns the police records: every October count, exactly."""
    mart = _mart(db)
    october = {k: v for k, v in mart.items() if k[0] == "2025-10"}
    delivery = deliver("ministerio_seguridad", "2025-10", settings=marts)
    folder = delivery.folder
    manifest = _check_manifest(folder)
    rows = _read_csv(folder / manifest["files"][0]["file"])
    assert manifest["files"][0]["rows"] == len(rows) == len(october)
    small = 0
    for row in rows:
        key = (row["mes"], row["codigo_municipio"], row["codigo_iccs"])
        for column, source in COUNT_COLUMNS.items():
            assert row[column] == str(october[key][source]), f"{key} {column}"
            small += 1 <= int(row[column]) <= 9
    assert delivery.suppressed_cells == 0 and small > 0
    print("owner: exact October cells", len(rows) * 3, "of which 1-9:", small)
    assert manifest["disclosure"]["victimas_mensuales"]["level"] == "owner"
    assert manifest["disclosure"]["victimas_mensuales"]["suppression"] is False
    audit = db.execute(
        "select recipient, disclosure_level, suppressed_cells, rows_delivered, success"
        " from ops.deliveries order by delivery_id desc limit 1"
    ).fetchone()
    assert audit == ("ministerio_seguridad", "owner", 0, len(rows), True)
    dictionary = _read_csv(folder / "diccionario_de_datos.csv")
    notes = {r["confidencialidad"] for r in dictionary if r["columna"] in COUNT_COLUMNS}
    assert notes == {
        "Cifras exactas, sin supresión: destinatario titular de los datos, bajo acuerdo de uso"
        " de datos"
    }


def test_external_recipient_gets_stars_with_complementary_suppression(marts, db, tmp_path):
    """The same national table for an external recipient: small counts are `*`, the
    pattern is closed (no hidden cell is solvable from the totals), the audit says
    `external`, and the dictionary states the rule from the publication rules."""
    from observatorio.delivery.disclosure import protect_table, publication_rules

    min_cell = publication_rules().min_cell_size
    mart = _mart(db)
    delivery = deliver(_external_copy(tmp_path), settings=marts, specs_dir=tmp_path)
    folder = delivery.folder
    manifest = _check_manifest(folder)
    data_file = folder / manifest["files"][0]["file"]
    rows = _read_csv(data_file)
    assert manifest["files"][0]["rows"] == len(rows) >= len(mart)
    hidden = 0
    october_hidden = 0
    for row in rows:
        key = (row["mes"], row["codigo_municipio"], row["codigo_iccs"])
        for column, source in COUNT_COLUMNS.items():
            if row[column] == "*":
                hidden += 1
                october_hidden += row["mes"] == "2025-10"
                continue
            value = int(row[column])
            assert not 1 <= value < min_cell, f"{key} {column}={value} published"
            assert value == mart.get(key, {}).get(source, 0)
        if row["victimas"] == "*":
            # An "of which" count never outlives its whole.
            assert row["victimas_feminicidio"] == row["victimas_violencia_intrafamiliar"] == "*"
    assert hidden == delivery.suppressed_cells > 0
    october_cells = 3 * sum(1 for r in rows if r["mes"] == "2025-10")
    print(f"external: {october_hidden} of {october_cells} October cells as *")
    # Each month's table (municipalities x ICCS divisions): re-protecting it from the published
    # pattern adds no body cell, so the pattern is closed and no hidden cell is a bridge.
    for month in {r["mes"] for r in rows}:
        month_rows = [r for r in rows if r["mes"] == month]
        munis = sorted({r["codigo_municipio"] for r in month_rows})
        crimes = sorted({r["codigo_iccs"] for r in month_rows})
        table = [[0] * len(crimes) for _ in munis]
        hidden_cells = set()
        for r in month_rows:
            cell = (munis.index(r["codigo_municipio"]), crimes.index(r["codigo_iccs"]))
            key = (month, r["codigo_municipio"], r["codigo_iccs"])
            table[cell[0]][cell[1]] = int(mart[key]["victims"]) if key in mart else 0
            if r["victimas"] == "*":
                hidden_cells.add(cell)
        assert protect_table(table, min_cell, hidden_cells).interior() == hidden_cells
    dictionary = _read_csv(folder / "diccionario_de_datos.csv")
    documented = {r["columna"]: r for r in dictionary}
    assert set(documented) == set(rows[0])
    assert all(r["tipo"] and r["descripcion"] and r["fuente"] for r in documented.values())
    assert documented["victimas"]["tipo"] == "bigint"
    # The rule in words, generated from the publication rules: never "de 1 a 0".
    assert documented["victimas"]["confidencialidad"].startswith(
        f"Suprimido (*) si vale de 1 a {min_cell - 1} (tamaño mínimo de celda {min_cell},"
    )
    assert "destinatario externo" in documented["victimas"]["confidencialidad"]
    audit = db.execute(
        "select recipient, disclosure_level, suppressed_cells, format, success, triggered_by,"
        " is_redelivery from ops.deliveries order by delivery_id desc limit 1"
    ).fetchone()
    assert audit == (
        "ministerio_seguridad_externo",
        "external",
        hidden,
        "csv",
        True,
        "manual",
        False,
    )


def test_csv_for_spanish_excel_has_semicolons_decimal_commas_and_a_bom(marts, tmp_path):
    """The ministry's dialect, read as bytes: BOM, `;`, CRLF; and a decimal comma (a rate
    column) in a spec that asks for it in cp1252."""
    delivery = deliver("ministerio_seguridad", "2025-10", settings=marts)
    raw = next(delivery.folder.glob("ministerio_*.csv")).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfmes;codigo_departamento;departamento;codigo_municipio;")
    first = raw.split(b"\r\n")[1]
    assert first.startswith(b"2025-10;") and first.count(b";") == 9 and b"," not in first
    dictionary = (delivery.folder / "diccionario_de_datos.csv").read_bytes()
    assert dictionary.startswith(b"\xef\xbb\xbfconjunto;columna;descripcion;unidad;")

    from observatorio.delivery.specs import CsvDialect
    from observatorio.delivery.writers import write_csv

    path = tmp_path / "tasas.csv"
    dialect = CsvDialect(delimiter=";", decimal=",", encoding="cp1252", bom=False)
    write_csv(path, ["municipio", "tasa"], [["Peñas Blancas", 12.5], ["Ñuñoa", 3]], dialect)
    assert path.read_bytes() == b"municipio;tasa\r\nPe\xf1as Blancas;12,5\r\n\xd1u\xf1oa;3\r\n"
    with pytest.raises(ExtractError, match=r"tasas.csv: row 2, column 'municipio': .* cp1252"):
        write_csv(path, ["municipio", "tasa"], [["Łódź", 1.5]], dialect)


def test_department_xlsx_sees_only_its_departments_and_keeps_national_pattern(marts, db, tmp_path):
    from openpyxl import load_workbook

    national = deliver(_external_copy(tmp_path), settings=marts, specs_dir=tmp_path)
    national_hidden = {
        (r["mes"], r["codigo_municipio"], r["codigo_iccs"])
        for r in _read_csv(next(national.folder.glob("ministerio_*.csv")))
        if r["victimas"] == "*"
    }
    delivery = deliver("gobernacion_central", settings=marts)
    manifest = _check_manifest(delivery.folder)
    workbook = load_workbook(delivery.folder / manifest["files"][0]["file"])
    print("extract", manifest["files"][0]["file"], manifest["files"][0]["bytes"], "bytes")
    assert workbook.sheetnames == ["victimas_municipio"]
    sheet = workbook["victimas_municipio"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["mes", "codigo_departamento", "codigo_municipio"]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(2)]
    assert rows and {r["codigo_departamento"] for r in rows} == {"01"}
    assert len(rows) == manifest["files"][0]["rows"]
    mart = _mart(db)
    stars = 0
    for r in rows:
        key = (r["mes"], r["codigo_municipio"], r["codigo_iccs"])
        if key in national_hidden:
            assert r["victimas"] == "*", f"{key} hidden nationally but shown to the department"
        if r["victimas"] != "*":
            assert isinstance(r["victimas"], int) and not 1 <= r["victimas"] <= 9
            assert r["victimas"] == mart.get(key, {"victims": 0})["victims"]
        stars += r["victimas"] == "*"
    assert stars > 0  # an external recipient gets `*`
    for cell in sheet.iter_rows(2):
        for c in cell:
            assert c.data_type != "f", f"formula in {c.coordinate}"
    level = db.execute(
        "select disclosure_level from ops.deliveries where spec_name = 'gobernacion_central'"
        " order by delivery_id desc limit 1"
    ).fetchone()
    assert level == ("external",)


def test_analytics_parquet_is_department_grain_with_english_headers(marts, db):
    import pyarrow.parquet as pq

    delivery = deliver("unidad_analitica", settings=marts)
    manifest = _check_manifest(delivery.folder)
    table = pq.read_table(delivery.folder / manifest["files"][0]["file"])
    print("extract", manifest["files"][0]["file"], manifest["files"][0]["bytes"], "bytes")
    assert table.column_names == [
        "month",
        "department_code",
        "department",
        "iccs_code",
        "iccs_offence",
        "victims",
        "femicide_victims",
        "intrafamily_victims",
        "victims_suppressed",
        "femicide_victims_suppressed",
        "intrafamily_victims_suppressed",
    ]
    assert str(table.schema.field("victims").type) == "int64"
    totals = {
        (r[0], r[1], r[2]): r[3]
        for r in db.execute(
            "select month, department_code, iccs_division_code, sum(victims)::bigint"
            " from marts.mart_crime_reports_monthly group by 1, 2, 3"
        ).fetchall()
    }
    rows = table.to_pylist()
    assert len(rows) == manifest["files"][0]["rows"]
    for r in rows:
        key = (r["month"], r["department_code"], r["iccs_code"])
        if r["victims_suppressed"]:
            assert r["victims"] is None
        else:
            assert r["victims"] == totals.get(key, 0) and not 1 <= r["victims"] <= 9
    assert (delivery.folder / "data_dictionary.csv").is_file()
    dictionary = _read_csv(delivery.folder / "data_dictionary.csv", ",")
    documented = {r["column"]: r for r in dictionary}
    assert documented["victims"]["description"].endswith(" Summed.")
    assert documented["victims"]["unit"] == "number of cases"
    assert documented["victims"]["confidentiality"].startswith("Suppressed (*) when 1 to 9")


def test_cli_redelivers_a_past_period_and_audits_it(marts, db):
    from typer.testing import CliRunner

    from observatorio.cli.app import app

    runner = CliRunner()
    first = runner.invoke(app, ["extract", "ministerio_seguridad", "--period", "2025-10"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["extract", "ministerio_seguridad", "--period", "2025-10"])
    assert second.exit_code == 0, second.output
    folder = Path(second.output.strip().splitlines()[-1])
    months = {r["mes"] for r in _read_csv(next(folder.glob("ministerio_*.csv")))}
    assert months == {"2025-10"}
    audits = db.execute(
        "select period, is_redelivery, success from ops.deliveries where period = '2025-10'"
        " order by delivery_id"
    ).fetchall()
    assert audits[-2:] == [("2025-10", False, True), ("2025-10", True, True)] or audits[-1] == (
        "2025-10",
        True,
        True,
    )
    bad = runner.invoke(app, ["extract", "ministerio_seguridad", "--period", "2025-13"])
    assert bad.exit_code == 1 and "is not a month YYYY-MM" in bad.output


def test_failed_delivery_is_audited_and_leaves_no_partial_folder(marts, db, tmp_path):
    spec = json.loads(json.dumps(BASE))
    spec["recipient"] = "destinatario_roto"
    spec["datasets"][0]["mart"] = "mart_that_does_not_exist"
    (tmp_path / "roto.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    with pytest.raises(ExtractError, match="mart 'mart_that_does_not_exist' is not a model"):
        deliver("roto", settings=marts, specs_dir=tmp_path)
    row = db.execute(
        "select success, error from ops.deliveries where spec_name = 'roto'"
    ).fetchone()
    assert row[0] is False and "mart_that_does_not_exist" in row[1]
    outbox = marts.outbox_dir / "destinatario_roto"
    assert not outbox.exists() or not any(outbox.iterdir())


@pytest.mark.parametrize(
    ("moment", "period"),
    [
        (datetime(2025, 11, 1, tzinfo=UTC), "2025-10"),  # the end of October's interval
        (datetime(2025, 11, 15, 9, 30, tzinfo=UTC), "2025-10"),  # an Asset-triggered run
        (datetime(2026, 1, 1, tzinfo=UTC), "2025-12"),
        (datetime(2026, 1, 31, 23, 59, tzinfo=UTC), "2025-12"),
    ],
)
def test_a_run_delivers_the_last_month_closed_by_its_moment(moment, period):
    assert period_before(moment) == period
    run = ScheduledRun.from_airflow("manual__x", None, moment, None)
    assert (run.period, run.attempt) == (period, 1)


def _run(run_id: str, day: int, attempt: int = 1) -> ScheduledRun:
    moment = datetime(2025, 11, day, tzinfo=UTC)
    return ScheduledRun.from_airflow(run_id, moment, moment, attempt)


def test_a_cleared_run_delivers_its_period_again_and_other_runs_follow_the_schedule(marts, db):
    """unidad_analitica is @weekly: once per ISO week of the runs' moments, per period."""
    db.execute("delete from ops.deliveries where spec_name = 'unidad_analitica'")
    outbox = marts.outbox_dir / "unidad_analitica"
    first = Path(deliver_for_run("unidad_analitica", _run("run_a", 3), marts))
    assert first == outbox / "unidad_analitica_2025-10"
    data = next(first.glob("*.parquet"))
    first_bytes = data.read_bytes()
    import pyarrow.parquet as pq

    assert set(pq.read_table(data).column("month").to_pylist()) == {"2025-10"}
    # Another run in the same week (the marts rebuilt again): nothing is sent twice.
    assert "not due" in deliver_for_run("unidad_analitica", _run("run_b", 5), marts)
    # The first run cleared: the next try delivers 2025-10 again, in place of the first.
    again = Path(deliver_for_run("unidad_analitica", _run("run_a", 3, attempt=2), marts))
    assert again == first and data.read_bytes() == first_bytes
    assert [p.name for p in outbox.iterdir() if "2025-10" in p.name] == [first.name]
    # A run in the next week delivers the period again, as a weekly spec asks.
    assert Path(deliver_for_run("unidad_analitica", _run("run_c", 12), marts)) == first
    audits = db.execute(
        "select run_id, attempt, period, is_redelivery, success, scheduled_for, files"
        " from ops.deliveries where spec_name = 'unidad_analitica' order by delivery_id"
    ).fetchall()
    assert [a[:5] for a in audits] == [
        ("run_a", 1, "2025-10", False, True),
        ("run_a", 2, "2025-10", True, True),
        ("run_c", 1, "2025-10", True, True),
    ]
    assert audits[0][5] == datetime(2025, 11, 3, tzinfo=UTC)
    data_files = [
        {f["file"]: f["sha256"] for f in a[6] if f["file"].endswith(".parquet")} for a in audits
    ]
    assert data_files[0] == data_files[1] == data_files[2]


def test_deliveries_never_change_the_schema(marts, db):
    """ops.deliveries' columns come from the warehouse's bootstrap, not from a delivery."""
    from observatorio.core.warehouse import BOOTSTRAP_SQL

    assert "deliveries.sql" in [p.name for p in BOOTSTRAP_SQL]
    columns = {
        r[0]
        for r in db.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'ops' and table_name = 'deliveries'"
        ).fetchall()
    }
    assert {"spec_name", "run_id", "attempt", "scheduled_for", "is_redelivery"} <= columns
    source = "".join(
        p.read_text(encoding="utf-8")
        for p in (Path(__file__).parents[2] / "observatorio" / "delivery").rglob("*.py")
    ).lower()
    assert "alter table" not in source and "comment on" not in source


def _batches_with_incidents(db, period: str, department: str | None = None) -> set[str]:
    """Independently: the police batches whose latest report versions hold incidents of
    `period` (in `department`), read from the fact the mart counts."""
    query = (
        "select distinct f.batch_id from marts.fct_crime_reports f"
        " left join reference.ref_municipalities m using (municipality_code)"
        " where to_char(f.incident_date, 'YYYY-MM') = %s"
        " and (%s::text is null or m.department_code = %s)"
    )
    return {r[0] for r in db.execute(query, (period, department, department)).fetchall()}


def test_manifest_lists_exactly_the_batches_behind_the_delivered_cells(marts, db):
    loaded = {
        r[0]: r[1]
        for r in db.execute(
            "select batch_id, source_file from ops.batch_ledger"
            " where status = 'loaded' and source = 'police__reports'"
        ).fetchall()
    }
    assert len(loaded) == 2
    october = deliver("ministerio_seguridad", "2025-10", settings=marts)
    manifest = _check_manifest(october.folder)
    lineage = json.loads((october.folder / "lineage.json").read_text())
    assert manifest["lineage"] == lineage
    listed = {b["batch_id"] for b in lineage["batches"]}
    expected = _batches_with_incidents(db, "2025-10")
    # September's file holds no October incident: only October's batch is behind the cells.
    assert listed == expected and len(listed) == 1 < len(loaded)
    assert [loaded[b] for b in listed] == ["denuncias_20251001_20251031.csv"]
    assert lineage["batches_from"] == ["marts.fct_crime_reports"]
    september = deliver("ministerio_seguridad", "2025-09", settings=marts)
    sept = json.loads((september.folder / "lineage.json").read_text())
    assert {b["batch_id"] for b in sept["batches"]} == _batches_with_incidents(db, "2025-09")
    print("manifest batches: 2025-10", len(listed), "2025-09", len(sept["batches"]), "of", 2)
    # A department's delivery: the batches with incidents in its municipalities.
    central = deliver("gobernacion_central", "2025-10", settings=marts)
    central_batches = json.loads((central.folder / "lineage.json").read_text())["batches"]
    assert {b["batch_id"] for b in central_batches} == _batches_with_incidents(db, "2025-10", "01")
    ledger = dict(db.execute("select batch_id, file_sha256 from ops.batch_ledger").fetchall())
    assert all(b["file_sha256"] == ledger[b["batch_id"]] for b in lineage["batches"])
    run = lineage["openlineage"]["producing_runs"]["marts.mart_crime_reports_monthly"]
    assert lineage["openlineage"]["namespace"] == run["namespace"] == "observatorio-local"
    assert run["state"] == "COMPLETE" and run["run_id"] and run["parent_run_id"]


def test_empty_extract_warns_and_exits_1_unless_the_spec_allows_it(marts, db):
    from typer.testing import CliRunner

    from observatorio.cli.app import app

    runner = CliRunner()
    empty = runner.invoke(app, ["extract", "ministerio_seguridad", "--period", "2024-10"])
    assert empty.exit_code == 1, empty.output
    assert "error: ministerio_seguridad 2024-10: the extract is empty" in empty.output
    assert "allow_empty: true" in empty.output and "Traceback" not in empty.output
    assert not (marts.outbox_dir / "ministerio_seguridad" / "ministerio_seguridad_2024-10").exists()
    audit = db.execute(
        "select success, rows_delivered, disclosure_level, error from ops.deliveries"
        " where spec_name = 'ministerio_seguridad' order by delivery_id desc limit 1"
    ).fetchone()
    assert audit[:3] == (False, 0, "owner") and "EmptyExtractError" in audit[3]
    # The inter-institutional table allows an empty month (no linkage ran here: no victims
    # to review): it is delivered, with a warning, and each sheet says why it is empty.
    allowed = runner.invoke(
        app, ["extract", "mesa_interinstitucional__police", "--period", "2025-10"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert (
        "warning: mesa_interinstitucional__police 2025-10: the extract is empty" in allowed.output
    )
    from openpyxl import load_workbook

    folder = Path(allowed.stdout.strip().splitlines()[-1])
    workbook = load_workbook(next(folder.glob("*.xlsx")))
    assert len(workbook.sheetnames) == 1
    for sheet in workbook:
        assert sheet.max_row == 2 and sheet.freeze_panes == "A2"
        assert str(sheet["A2"].value).startswith("Sin filas para 2025-10: ")


def internal_codes(db) -> set[str]:
    """Every internal code a recipient must not read as a label, generated from the
    definitions (indicator codes, their sources, the reporting sources) and the source
    systems' codes."""
    from observatorio.indicators.definitions import load_definitions

    definitions = load_definitions()
    codes = set(definitions.codes)
    codes |= {p for i in definitions.indicators for p in i.source.split("+") if p}
    codes |= {s.source for s in definitions.reporting_sources}
    codes |= {r[0] for r in db.execute("select source_system_code from marts.dim_source_system")}
    return codes - {"all"}


def _codes_in(text: object, codes: set[str]) -> set[str]:
    import re

    return set(re.findall(r"[A-Za-z0-9_]+", str(text or ""))) & codes


def test_xlsx_opens_ready_to_read_with_names_and_no_internal_codes(marts, db, tmp_path):
    """The department's workbook: widths, frozen bold header, count format; the
    inter-institutional sheets with institutions and statuses named (rendered from rows
    shaped like the review list, with the names the warehouse holds), municipality names
    beside codes; and no internal code as a label in the workbooks or the dictionaries."""
    from openpyxl import load_workbook

    from observatorio.delivery.datasets import rendered_rows
    from observatorio.delivery.disclosure import ProtectedRows
    from observatorio.delivery.extracts import as_sheet, code_lists_of
    from observatorio.delivery.labels import load_labels
    from observatorio.delivery.writers import write_xlsx

    codes = internal_codes(db)
    assert {"police", "homicide_count_police", "femicide_count"} <= codes
    delivery = deliver("gobernacion_central", "2025-10", settings=marts)
    sheet = load_workbook(next(delivery.folder.glob("*.xlsx")))["victimas_municipio"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2" and all(c.font.b for c in sheet[1])
    for n, name in enumerate(header):
        letter = sheet.cell(1, n + 1).column_letter
        longest = max(len(str(c.value or "")) for c in sheet[letter])
        assert sheet.column_dimensions[letter].width >= min(longest, 58), name
    counts = [header.index(h) for h in COUNT_COLUMNS]
    numbers = [r[i] for r in sheet.iter_rows(2) for i in counts if isinstance(r[i].value, int)]
    assert numbers and {c.number_format for c in numbers} == {"#,##0"}
    names = dict(
        db.execute("select municipality_code, municipality_name from reference.ref_municipalities")
    )
    for row in sheet.iter_rows(2, values_only=True):
        assert row[header.index("municipio")] == names[row[header.index("codigo_municipio")]]
    # The inter-institutional workbook, from rows shaped like the police's part of
    # marts.mart_victim_review_by_institution.
    spec = load_spec("mesa_interinstitucional__police")
    dataset = spec.datasets[0]
    municipality = sorted(names)[0]
    review = [
        {
            "institution": "police",
            "month": "2025-10",
            "municipality_code": municipality,
            "victim_id": f"VIC-{n:04d}",
            "missing_institution": "police",
            "final_status": status,
            "systems": "forensic, prosecution",
            "record_count": 2,
            "is_unidentified": False,
            "is_late_death": n == 1,
            "own_record_key": None,
        }
        for n, status in enumerate(["confirmed_homicide", "undetermined_intent"])
    ]
    labels = load_labels(db, spec.glossary, code_lists_of(spec), "es")
    head, rows = rendered_rows(spec, dataset, ProtectedRows(review, {}), labels)
    path = tmp_path / "mesa.xlsx"
    write_xlsx(path, [as_sheet(spec, dataset, head, rows, "2025-10")])
    mesa = load_workbook(path)[dataset.name]
    cells = {h: [r[i] for r in mesa.iter_rows(2, values_only=True)] for i, h in enumerate(head)}
    institutions = dict(
        db.execute("select source_system_code, institution_es from marts.dim_source_system")
    )
    assert cells["institucion_sin_registro"] == [institutions["police"]] * 2
    assert (
        cells["instituciones_que_la_registran"]
        == [f"{institutions['forensic']}, {institutions['prosecution']}"] * 2
    )
    assert cells["estado_final"] == [
        "Homicidio confirmado (dos o más sistemas)",
        "Intención no determinada",
    ]
    assert cells["municipio"] == [names[municipality]] * 2
    # No internal code as a label: headers and text cells of both workbooks, and the label
    # columns of the dictionaries (the technical lineage column `origen` is for engineers).
    texts = [*header, *head]
    texts += [c for r in sheet.iter_rows(2, values_only=True) for c in r if isinstance(c, str)]
    texts += [c for r in mesa.iter_rows(2, values_only=True) for c in r if isinstance(c, str)]
    mesa_delivery = deliver("mesa_interinstitucional__police", "2025-10", settings=marts)
    for folder in (delivery.folder, mesa_delivery.folder):
        for entry in _read_csv(folder / "diccionario_de_datos.csv", ","):
            texts += [v for k, v in entry.items() if k not in {"conjunto", "origen"}]
            assert "`" not in entry["descripcion"]
    found = {t: _codes_in(t, codes) for t in texts if _codes_in(t, codes)}
    assert not found, found
    # The femicide count is described by its definition's Spanish name.
    dictionary = _read_csv(delivery.folder / "diccionario_de_datos.csv", ",")
    femicide = next(r for r in dictionary if r["columna"] == "victimas_feminicidio")
    from observatorio.indicators.definitions import load_definitions

    assert femicide["descripcion"] == load_definitions().get("femicide_count").name_es + "."
    assert femicide["unidad"] == "número de casos"


XLSX_ARTIFACT = Path(__file__).parents[1] / "artifacts" / "extract_xlsx.png"


def test_the_department_workbook_renders_in_a_spreadsheet(marts, tmp_path):
    """LibreOffice opens the delivered workbook and prints it (PDF, then PNG with pdftoppm):
    the page shown to the issue is tests/artifacts/extract_xlsx.png."""
    import shutil
    import subprocess

    from PIL import Image

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    # .ci/run installs both; a machine without them fails here rather than skip the check.
    assert soffice is not None and shutil.which("pdftoppm") is not None, (
        "LibreOffice or pdftoppm missing: apt-get install libreoffice-calc poppler-utils"
    )
    delivery = deliver("gobernacion_central", "2025-10", settings=marts)
    workbook = next(delivery.folder.glob("*.xlsx"))
    profile = tmp_path / "lo-profile"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / workbook.with_suffix(".pdf").name
    assert pdf.is_file() and pdf.stat().st_size > 0
    XLSX_ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "70",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(XLSX_ARTIFACT.with_suffix("")),
        ],
        check=True,
    )
    image = Image.open(XLSX_ARTIFACT).convert("L")
    low, high = image.getextrema()
    assert high - low > 100, "the page is blank"
