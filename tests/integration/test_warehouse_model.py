"""The warehouse model around the facts: shared dimensions, ICCS coverage, report history
("as known on date X"), the BI role's grants and the exposures, after a real `dbt build` on
a month of the simulated country at the small scale.

Expected values come from the simulator's declarations (`simulator.reference`) and from the
rows published to `raw` (what the police actually sent), never from the models under test.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestion.connectors import sql
from observatorio.core.warehouse import ensure_warehouse
from observatorio.orchestration import ingest as tasks
from observatorio.transform.dbt import build
from simulator.demo import Demo
from tests.integration.demo_load import load_demo

# A month at the small scale: enough homicide victims who die days after the attack (their
# report is re-sent reclassified) and enough offences with no ICCS mapping.
DEMO = Demo(seed=3, scale="small", days=31)
ROOT = Path(__file__).resolve().parents[2]
BI_ROLE = "observatorio_bi"
DIMENSION_KEYS = {
    "dim_date": "date_day",
    "dim_municipality": "municipality_code",
    "dim_municipality_population": "municipality_year_id",
    "dim_offence": "iccs_code",
    "dim_national_offence": "national_offence_code",
    "dim_source_system": "source_system_code",
    "dim_person_pseudonym": "person_id_pseudonym",
}


@pytest.fixture(scope="module")
def built(settings, warehouse_url) -> dict[str, Any]:
    import psycopg

    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
        # Snapshots keep the history of earlier tests' countries: start this one's afresh.
        conn.execute("drop schema if exists snapshots cascade")
    # The schema comes back from the bootstrap: dbt's role may not create schemas.
    ensure_warehouse(settings)
    load_demo(settings, warehouse_url, DEMO)
    started = time.monotonic()
    results = build(settings)
    return {
        "results": results,
        "build_seconds": time.monotonic() - started,
        "manifest": json.loads((settings.dbt_target_dir / "manifest.json").read_text()),
    }


@pytest.fixture
def conn(built, warehouse_url):
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        yield connection


def _scalar(conn, query: str, *params: object) -> Any:
    return conn.execute(query, params).fetchone()[0]


@pytest.mark.parametrize(("model", "key"), sorted(DIMENSION_KEYS.items()))
def test_every_dimension_has_a_unique_non_null_key(conn, model, key):
    rows, keys, nulls = conn.execute(
        f"select count(*), count(distinct {key}), count(*) - count({key}) from marts.{model}"
    ).fetchone()
    assert rows > 0, model
    assert (keys, nulls) == (rows, 0), model


def test_dimensions_cover_every_fact_and_reference_row(conn):
    from simulator.reference import penal_code

    # Every day a fact mentions, in whole years; every fact municipality, unknown one included.
    uncovered = _scalar(
        conn,
        "select count(*) from marts.fct_crime_reports as f"
        " left join marts.dim_date as d on f.incident_date = d.date_day where d.date_day is null",
    )
    assert uncovered == 0
    first, last = conn.execute("select min(date_day), max(date_day) from marts.dim_date").fetchone()
    assert (first.month, first.day, last.month, last.day) == (1, 1, 12, 31)
    iso = conn.execute(
        "select iso_year, iso_week, month, iso_day_of_week from marts.dim_date"
        " where date_day = '2024-12-30'"
    ).fetchone()
    assert iso == (2025, 1, "2024-12", 1)
    missing_municipalities = _scalar(
        conn,
        "select count(*) from (select municipality_code from marts.fct_crime_reports union"
        " select municipality_code from marts.fct_detentions) as f where municipality_code"
        " not in (select municipality_code from marts.dim_municipality)",
    )
    assert missing_municipalities == 0
    assert _scalar(conn, "select count(*) from marts.dim_municipality where not is_unknown") == 60
    # Population by year adds up to the seed, and the ICCS hierarchy is complete.
    assert _scalar(
        conn, "select sum(population) from marts.dim_municipality_population"
    ) == _scalar(conn, "select sum(population) from reference.ref_population")
    levels = dict(
        conn.execute("select iccs_level, count(*) from marts.dim_offence group by 1").fetchall()
    )
    assert levels == {1: 11, 2: 63, 3: 148, 4: 98}
    names = conn.execute(
        "select level_1_name_en, level_2_name_es from marts.dim_offence where iccs_code = '01031'"
    ).fetchone()
    assert names == (
        "Acts leading to death or intending to cause death",
        "Homicidio no intencional",
    )
    mapping = dict(
        conn.execute(
            "select national_offence_code, iccs_code from marts.dim_national_offence"
        ).fetchall()
    )
    assert mapping == {o.code: (o.iccs_code or None) for o in penal_code().values()}
    systems = {r[0] for r in conn.execute("select source_system_code from marts.dim_source_system")}
    assert systems == {
        "police",
        "prosecution",
        "courts",
        "forensic",
        "hospital",
        "survey",
        "consultations",
    }


def test_person_dimension_holds_only_pseudonyms_of_every_system(conn):
    columns = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'dim_person_pseudonym'"
        )
    }
    assert not {c for c in columns if re.search(r"name|birth|age|sex|token", c)}, columns
    assert (
        _scalar(
            conn,
            "select count(*) from marts.dim_person_pseudonym"
            " where person_id_pseudonym !~ '^[0-9a-f]{64}$'",
        )
        == 0
    )
    expected = {
        r[0]
        for r in conn.execute(
            "select national_id_pseudonym from raw.justice__parties"
            " union select victim_national_id_pseudonym from raw.police__reports"
            " union select detainee_national_id_pseudonym from raw.police__detentions"
            " union select person_national_id_pseudonym from raw.health__hospital_admissions"
        )
        if r[0] is not None
    }
    seen = {
        r[0] for r in conn.execute("select person_id_pseudonym from marts.dim_person_pseudonym")
    }
    # Forensic records join later (only violent deaths are facts); all the others are here.
    assert expected <= seen
    linked = _scalar(
        conn, "select count(*) from marts.dim_person_pseudonym where source_system_count > 1"
    )
    assert linked > 0


def test_police_operation_facts_keep_one_latest_version_per_record(conn):
    for fact, raw, key in (
        ("fct_detentions", "police__detentions", "detention_id"),
        ("fct_police_complaints", "police__complaints", "complaint_id"),
        ("fct_use_of_force", "police__use_of_force", "incident_id"),
    ):
        expected = conn.execute(f"select count(distinct {key}), count(*) from raw.{raw}").fetchone()
        got = conn.execute(f"select count(*), sum(version_count) from marts.{fact}").fetchone()
        assert got == expected, fact
        stale = _scalar(
            conn,
            f"select count(*) from marts.{fact} as f where f.recorded_at < (select"
            f" max(r.recorded_at) from raw.{raw} as r where r.{key} = f.{key})",
        )
        assert stale == 0, fact


def test_coverage_lists_every_unmapped_code_and_warns(conn, built):
    from simulator.reference import penal_code

    unmapped = {o.code for o in penal_code().values() if not o.iccs_code}
    assert unmapped == {"CP-221", "CP-299"}
    mapped = {o.code for o in penal_code().values() if o.iccs_code}
    expected: dict[tuple[str, str], int] = {}
    for source, raw, key in (
        ("police_reports", "police__reports", "report_id || '-' || victim_seq"),
        ("police_detentions", "police__detentions", "detention_id"),
        ("prosecution_cases", "justice__cases", "case_id"),
    ):
        # The current version of each record, straight from what the sources sent.
        for code, records in conn.execute(
            f"select offence_code, count(*) from (select distinct on ({key}) {key},"
            f" offence_code from raw.{raw} order by {key}, {_latest(raw)}) as latest"
            " where offence_code is not null group by offence_code"
        ):
            if code not in mapped:
                expected[(source, code)] = records
    got = {
        (r[0], r[1]): r[2]
        for r in conn.execute(
            "select record_source, national_offence_code, record_count"
            " from marts.mart_offence_code_coverage"
        )
    }
    assert got == expected
    assert unmapped <= {code for _, code in got}
    warned = [
        r
        for r in built["results"].results
        if r.node.unique_id.startswith("test.observatorio.has_no_rows_mart_offence_code_coverage")
    ]
    assert [str(r.status) for r in warned] == ["warn"]
    assert all(str(r.status) != "error" for r in built["results"].results)


def _latest(raw: str) -> str:
    order = "updated_at" if raw.startswith("justice__") else "recorded_at"
    return f"{order} desc, _ingested_at desc, _batch_id desc, _source_row desc"


def test_as_of_returns_the_classification_known_at_each_instant(conn):
    # A victim who died days after the attack: the police sent the report as an assault,
    # then re-sent it as a homicide. Found in raw, i.e. in what the police sent.
    reclassified = conn.execute(
        "select first.report_id, first.victim_seq, first.offence_code, first.recorded_at,"
        " later.offence_code, later.recorded_at"
        " from raw.police__reports as first"
        " inner join raw.police__reports as later on later.report_id = first.report_id"
        " and later.victim_seq = first.victim_seq and later.recorded_at > first.recorded_at"
        " and later.offence_code <> first.offence_code"
        " where not exists (select from raw.police__reports as other"
        " where other.report_id = first.report_id and other.victim_seq = first.victim_seq"
        " and other.recorded_at not in (first.recorded_at, later.recorded_at))"
        " order by first.report_id limit 5"
    ).fetchall()
    assert reclassified, "the simulated month should contain reclassified reports"
    for report_id, seq, old_code, old_at, new_code, new_at in reclassified:
        victim = f"{report_id}-{seq}"

        def code_as_of(instant, victim=victim):  # type: ignore[no-untyped-def]
            row = conn.execute(
                "select national_offence_code, is_intentional_homicide"
                " from marts.crime_reports_as_of(%s) where report_victim_id = %s",
                (instant, victim),
            ).fetchone()
            return row[0] if row else None

        assert code_as_of(old_at - timedelta(minutes=1)) is None
        assert code_as_of(old_at) == old_code
        assert code_as_of(new_at - timedelta(minutes=1)) == old_code
        assert code_as_of(new_at) == new_code
        # A date means its first moment, so the day after the re-send sees the new code.
        assert code_as_of(new_at.date() + timedelta(days=1)) == new_code
        current = _scalar(
            conn,
            "select national_offence_code from marts.fct_crime_reports where report_victim_id = %s",
            victim,
        )
        assert current == new_code
    # The snapshot holds one open version per report victim, the one the fact holds.
    assert (
        _scalar(
            conn,
            "select count(*) from snapshots.snap_police__reports as s"
            " inner join marts.fct_crime_reports as f using (report_victim_id)"
            " where s.dbt_valid_to is null and s.national_offence_code is distinct from"
            " f.national_offence_code",
        )
        == 0
    )


def test_bi_logins_read_bi_and_no_mart(conn, settings):
    import psycopg
    from psycopg import errors

    from observatorio.core.warehouse import login_url

    # The bootstrap creates the role only when missing: running it again changes nothing.
    ensure_warehouse()
    assert _scalar(conn, "select count(*) from pg_roles where rolname = %s", BI_ROLE) == 1
    with psycopg.connect(login_url(settings, "bi_ministerio_seguridad")) as bi:
        assert bi.execute("select count(*) from bi.indicators_monthly").fetchone()[0] > 0
        assert bi.execute("select count(*) from bi.dim_indicator").fetchone()[0] > 0
        bi.rollback()
        for relation in (
            "marts.fct_crime_reports",
            "marts.dim_person_pseudonym",
            "marts.dim_date",
            "raw.police__reports",
            "staging.stg_police__reports",
            "intermediate.int_crime_reports_classified",
            "ops.batch_ledger",
            "reference.ref_population",
            "snapshots.snap_police__reports",
        ):
            with pytest.raises(errors.InsufficientPrivilege, match="permission denied"):
                bi.execute(f"select 1 from {relation} limit 1")
            bi.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            bi.execute("delete from bi.dim_indicator")
        bi.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            bi.execute("select count(*) from marts.crime_reports_as_of(now()::timestamp)")
        bi.rollback()


def test_exposures_name_the_marts_each_consumer_reads(built):
    manifest = built["manifest"]
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    for spec_path in sorted((ROOT / "extracts").glob("*.yaml")):
        if spec_path.name.startswith("_"):
            continue  # the glossary of the specs' columns, not a spec
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
        # A file split per recipient (split_by) is one exposure, named after the file.
        exposure = exposures[f"extract_{spec.get('recipient') or spec_path.stem}"]
        models = {n.split(".")[-1] for n in exposure["depends_on"]["nodes"]}
        assert models == {d["mart"] for d in spec["datasets"]}, spec_path.name
    bulletin = "".join(
        p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "observatorio" / "delivery" / "bulletin").glob("*.py"))
    )
    read = set(re.findall(r"marts\.(\w+)", bulletin))
    models = {n.split(".")[-1] for n in exposures["monthly_bulletin"]["depends_on"]["nodes"]}
    assert models == read
    dashboards = [e for e in exposures.values() if e["type"] == "dashboard"]
    assert dashboards and all(e["depends_on"]["nodes"] for e in dashboards)
    print(f"dbt build on {DEMO.scale}/{DEMO.days} days: {built['build_seconds']:.1f} s")


# Last in the module: it changes the justice source and pulls again.
def test_prosecution_case_status_as_known_on_each_date(conn, settings, warehouse_url, monkeypatch):
    import psycopg
    from sqlalchemy.engine import make_url

    from observatorio.core.warehouse import sqlalchemy_url
    from simulator.demo import JUSTICE_SOURCE_DATABASE

    source_url = make_url(warehouse_url).set(database=JUSTICE_SOURCE_DATABASE)
    # The prosecutor archives a case that was under investigation: the justice database
    # updates the row in place and stamps `updated_at`, as the real one does.
    with psycopg.connect(source_url.render_as_string(hide_password=False)) as source:
        case_id, first_written = source.execute(
            "select case_id, updated_at from cases where status = 'en_investigacion'"
            " order by case_id limit 1"
        ).fetchone()
        archived_at = source.execute(
            "select max(updated_at) + interval '1 minute' from cases"
        ).fetchone()[0]
        source.execute(
            "update cases set status = 'archivada', decision = 'desestimada',"
            " decision_date = %s, updated_at = %s where case_id = %s",
            (archived_at.date(), archived_at, case_id),
        )
    monkeypatch.setenv(
        "OBSERVATORIO_JUSTICE_URL", sqlalchemy_url(warehouse_url, database=JUSTICE_SOURCE_DATABASE)
    )
    sql.extract("justice__cases")
    tasks.report(
        tasks.publish(tasks.gate(tasks.stage("justice__cases", tasks.claim("justice__cases"))))
    )
    build(settings, select="fct_prosecution_case_versions")

    def as_of(instant):  # type: ignore[no-untyped-def]
        return conn.execute(
            "select version_number, case_status, prosecutor_decision"
            " from marts.prosecution_cases_as_of(%s) where case_id = %s",
            (instant, case_id),
        ).fetchone()

    # The first pull saw the case in one version only: nothing is known before it.
    assert as_of(first_written - timedelta(seconds=1)) is None
    assert as_of(first_written) == (1, "en_investigacion", "pending")
    assert as_of(archived_at - timedelta(seconds=1)) == (1, "en_investigacion", "pending")
    assert as_of(archived_at) == (2, "archivada", "dismissed")
    # The overlap window re-reads rows of the first pull: each version still counts once.
    versions = conn.execute(
        "select count(*), count(*) filter (where is_latest_version)"
        " from marts.fct_prosecution_case_versions where case_id = %s",
        (case_id,),
    ).fetchone()
    assert versions == (2, 1)


def test_a_key_the_table_enforces_is_checked_in_the_catalog(built, conn):
    # macro enforced_by_catalog: the dimension's primary key answers its `unique` test, so
    # PostgreSQL reads none of its rows (a scan of 10M pseudonyms at 10M police rows).
    tested = {
        r.node.name: str(getattr(r.node, "compiled_code", "")) for r in built["results"].results
    }
    unique = tested["unique_dim_person_pseudonym_person_id_pseudonym"]
    plan = "\n".join(r[0] for r in conn.execute(f"explain (analyze, costs off) {unique}"))
    assert re.search(r"Scan on dim_person_pseudonym .*never executed", plan), plan
    # A table without the key is checked row by row: a copy with a duplicate fails the test.
    conn.execute("create table public.dim_copy as select * from marts.dim_person_pseudonym")
    try:
        conn.execute("insert into public.dim_copy select * from public.dim_copy limit 1")
        copy = unique.replace('"observatorio"."marts"."dim_person_pseudonym"', "public.dim_copy")
        copy = copy.replace('"marts"."dim_person_pseudonym"', "public.dim_copy")
        assert "dim_person_pseudonym" not in copy, copy
        assert conn.execute(f"select count(*) from ({copy}) as failures").fetchone()[0] == 1
    finally:
        conn.execute("drop table public.dim_copy")
