"""Extract deliveries on the real warehouse: two months of the simulated country's police
reports, through ingestion and dbt, delivered as CSV, XLSX and Parquet with disclosure control,
audited, and re-delivered for a past period from the CLI."""

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
    """Simulate two months, ingest the police reports as one batch, build the police marts."""
    from observatorio.core.warehouse import connect
    from observatorio.orchestration.ingest import ingest_file
    from observatorio.transform.dbt import run_dbt
    from simulator import generate

    with connect(settings, autocommit=True) as conn:  # only this module's batch in raw
        for (table,) in conn.execute(
            "select format('%I.%I', schemaname, tablename) from pg_tables"
            " where schemaname in ('raw', 'ingest')"
        ).fetchall():
            conn.execute(f"drop table if exists {table} cascade")
        conn.execute("truncate ops.batch_ledger, ops.file_receipts, ops.quarantine")
    simulation = workdir / "simulation"
    generate(simulation, seed=SEED, scale="small", start=START, days=DAYS)
    lines: list[str] = []
    for path in sorted((simulation / "exports/police/reports").glob("denuncias_*.csv")):
        if "_reenvio" in path.name:  # identical re-sends: the ledger would skip them
            continue
        content = path.read_text(encoding="cp1252").splitlines()
        lines += content if not lines else content[1:]
    batch = workdir / "denuncias_20250901_20251031.csv"
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
            " to_regclass('marts.mart_victim_review_list')"
        ).fetchone()
        filled = (
            row[0]
            and row[1]
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
            lambda s: s["datasets"][0]["disclosure"].update(threshold=0),
            "datasets[0].disclosure.threshold: must be at least 1",
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


def test_national_csv_is_protected_documented_and_audited(marts, db):
    mart = _mart(db)
    delivery = deliver("ministerio_seguridad", settings=marts)
    folder = delivery.folder
    manifest = _check_manifest(folder)
    data_file = folder / manifest["files"][0]["file"]
    raw = data_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    with data_file.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert manifest["files"][0]["rows"] == len(rows) >= len(mart)
    hidden = 0
    for row in rows:
        key = (row["mes"], row["codigo_municipio"], row["codigo_iccs"])
        for column in ("victimas", "victimas_feminicidio", "victimas_violencia_intrafamiliar"):
            if row[column] == "*":
                hidden += 1
                continue
            value = int(row[column])
            assert not 1 <= value <= 9, f"{key} {column}={value} published"
            expected = mart.get(key, {"victims": 0})
            source = {
                "victimas": "victims",
                "victimas_feminicidio": "femicide_victims",
                "victimas_violencia_intrafamiliar": "intrafamily_victims",
            }[column]
            assert value == expected.get(source, 0)
        if row["victimas"] == "*":
            # An "of which" count never outlives its whole.
            assert row["victimas_feminicidio"] == row["victimas_violencia_intrafamiliar"] == "*"
    assert hidden == delivery.suppressed_cells > 0
    print("extract", data_file.name, data_file.stat().st_size, "bytes", len(rows), "rows")
    # Each month's table (municipalities x ICCS divisions): re-protecting it from the published
    # pattern adds no body cell, so the pattern is closed and no hidden cell is a bridge.
    from observatorio.delivery.disclosure import protect_table

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
        assert protect_table(table, initial=hidden_cells).interior() == hidden_cells

    dictionary = (folder / "diccionario_de_datos.csv").read_text(encoding="utf-8-sig")
    assert "Victims in police reports" in dictionary and "Suprimido (*)" in dictionary
    with (folder / "diccionario_de_datos.csv").open(encoding="utf-8-sig", newline="") as handle:
        documented = {r["columna"]: r for r in csv.DictReader(handle)}
    assert set(documented) == set(rows[0])
    assert all(r["tipo"] and r["descripcion"] and r["fuente"] for r in documented.values())
    assert documented["victimas"]["tipo"] == "bigint"
    lineage = json.loads((folder / "lineage.json").read_text())
    assert [b["source"] for b in lineage["batches"]] == ["police__reports"]
    assert lineage["as_of"] and lineage["batches"][0]["source_file"].startswith("denuncias_")
    # The manifest carries the same lineage: the batches in the fact the mart is built from,
    # with their files' checksums, and the OpenLineage run that built the mart.
    assert manifest["lineage"] == lineage
    assert lineage["batches_from"] == ["marts.fct_crime_reports"]
    in_fact = {r[0] for r in db.execute("select distinct batch_id from marts.fct_crime_reports")}
    assert {b["batch_id"] for b in lineage["batches"]} == in_fact
    ledger = dict(db.execute("select batch_id, file_sha256 from ops.batch_ledger").fetchall())
    assert all(b["file_sha256"] == ledger[b["batch_id"]] for b in lineage["batches"])
    run = lineage["openlineage"]["producing_runs"]["marts.mart_crime_reports_monthly"]
    assert lineage["openlineage"]["namespace"] == run["namespace"] == "observatorio-local"
    assert run["state"] == "COMPLETE" and run["run_id"] and run["parent_run_id"]
    assert run["job"].endswith(".mart_crime_reports_monthly.build.run")
    audit = db.execute(
        "select recipient, spec_name, channel, format, rows_delivered, success, files,"
        " suppressed_cells, triggered_by, is_redelivery from ops.deliveries"
        " order by delivery_id desc limit 1"
    ).fetchone()
    assert audit[:6] == (
        "ministerio_seguridad",
        "ministerio_seguridad",
        "outbox",
        "csv",
        len(rows),
        True,
    )
    assert [f["sha256"] for f in audit[6]] == [f["sha256"] for f in manifest["files"]]
    assert audit[7:] == (hidden, "manual", False)


def test_department_xlsx_sees_only_its_departments_and_keeps_national_pattern(marts, db):
    from openpyxl import load_workbook

    national = deliver("ministerio_seguridad", settings=marts)
    with next(national.folder.glob("ministerio_*.csv")).open(
        encoding="utf-8-sig", newline=""
    ) as handle:
        national_hidden = {
            (r["mes"], r["codigo_municipio"], r["codigo_iccs"])
            for r in csv.DictReader(handle)
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
    for r in rows:
        key = (r["mes"], r["codigo_municipio"], r["codigo_iccs"])
        if key in national_hidden:
            assert r["victimas"] == "*", f"{key} hidden nationally but shown to the department"
        if r["victimas"] != "*":
            assert isinstance(r["victimas"], int) and not 1 <= r["victimas"] <= 9
            assert r["victimas"] == mart.get(key, {"victims": 0})["victims"]
    for cell in sheet.iter_rows(2):
        for c in cell:
            assert c.data_type != "f", f"formula in {c.coordinate}"


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
    dictionary = (delivery.folder / "data_dictionary.csv").read_text(encoding="utf-8-sig")
    assert "(sum)" in dictionary and "confidentiality" in dictionary


def test_cli_redelivers_a_past_period_and_audits_it(marts, db):
    from typer.testing import CliRunner

    from observatorio.cli.app import app

    runner = CliRunner()
    first = runner.invoke(app, ["extract", "ministerio_seguridad", "--period", "2025-10"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["extract", "ministerio_seguridad", "--period", "2025-10"])
    assert second.exit_code == 0, second.output
    folder = Path(second.output.strip().splitlines()[-1])
    with next(folder.glob("ministerio_*.csv")).open(encoding="utf-8-sig", newline="") as handle:
        months = {r["mes"] for r in csv.DictReader(handle)}
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
