"""Roles and row-level security, tried as an attacker would: each login reaches for what it
must not read or write, on the real warehouse after a real dbt build (and again after a
rebuild of `bi`)."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from observatorio.core import roles, warehouse
from observatorio.core.recipients import load_logins
from observatorio.core.roles import Role
from observatorio.orchestration.ingest import ingest_file
from observatorio.transform.dbt import build, run_dbt
from tests.police_files import report_row, write_reports

NATIONAL = "bi_ministerio_seguridad"
CENTRAL = "bi_gobernacion_central"  # department 01
ANALYST = "analyst_roles_test"
PERSON_COLUMN = re.compile(r"pseudonym|name_token|person|victim|detainee|birth|^age$|report_id")


def _insufficient(conn: psycopg.Connection[Any], statement: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement.encode())
    conn.rollback()


@pytest.fixture(scope="module")
def built(settings: Any, warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import _truncate

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _truncate(conn)
    folder = tmp_path_factory.mktemp("roles")
    rows = [
        report_row(1, codigo_municipio="01001"),
        report_row(2, codigo_municipio="01002"),
        report_row(3, codigo_municipio="03006", municipio="Puerto Claro"),
    ]
    path = write_reports(folder / "denuncias_20240105.csv", rows)
    assert ingest_file("police__reports", path, settings).status == "loaded"
    # `bi` and what it is built from; tests touching other models wait for their models.
    run_dbt(["build", "--select", "+path:models/bi", "--indirect-selection", "cautious"], settings)
    return settings


@pytest.fixture
def admin(built: Any) -> Iterator[psycopg.Connection[Any]]:
    from sqlalchemy.engine import make_url

    admin_url = warehouse.admin_url(built)
    assert admin_url is not None
    database = make_url(warehouse.warehouse_url(built)).database
    url = make_url(admin_url).set(database=database).render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def _login(settings: Any, login: str) -> psycopg.Connection[Any]:
    return psycopg.connect(warehouse.login_url(settings, login))


def _bi_tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "select tablename from pg_tables where schemaname = 'bi' order by 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_embedded_server_refuses_a_connection_without_password(settings: Any, warehouse_url: str):
    if not settings.is_embedded:
        pytest.skip("the embedded server's authentication")
    for user in (roles.EMBEDDED_SUPERUSER, Role.OWNER, NATIONAL):
        url = f"postgresql://{user}@127.0.0.1:{settings.warehouse_port}/postgres"
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(url, connect_timeout=5)
    wrong = f"postgresql://{Role.LOADER}:guess@127.0.0.1:{settings.warehouse_port}/observatorio"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=5)


def test_credentials_are_private_and_never_printed(settings: Any, warehouse_url: str):
    path = roles.credentials_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    credentials = roles.load_credentials(settings)
    for role in Role:
        secret = credentials.password(role)
        assert secret and len(secret) >= 32
        assert secret not in repr(credentials)
        assert secret not in warehouse.status(settings).url


def test_no_login_is_a_superuser_or_bypasses_row_security(admin: psycopg.Connection[Any]):
    names = [*Role, *roles.GROUP_ROLES, *(item.login for item in load_logins())]
    rows = admin.execute(
        "select rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles"
        " where rolname = any(%s)",
        (names,),
    ).fetchall()
    assert {r[0] for r in rows} == set(names)
    assert [r for r in rows if any(r[1:])] == []


def test_only_the_owner_may_reach_the_server_s_programs(built: Any):
    for role in (Role.OWNER, Role.LOADER, Role.TRANSFORMER, Role.DELIVERY):
        with warehouse.connect(built, role=role) as conn:
            _insufficient(conn, "copy (select 1) to program 'true'")
            _insufficient(conn, "copy (select 1) to '/tmp/observatorio-roles-test'")
            _insufficient(conn, "select pg_read_file('PG_VERSION')")
    for login in (NATIONAL, CENTRAL):
        with _login(built, login) as conn:
            _insufficient(conn, "copy (select 1) to program 'true'")


def test_airflow_reaches_its_own_database_only(built: Any):
    from sqlalchemy.engine import make_url

    url = make_url(warehouse.warehouse_url(built, role="airflow"))
    own = url.set(database=built.airflow_db).render_as_string(hide_password=False)
    with psycopg.connect(own) as conn:
        assert conn.execute("select current_user").fetchone() == (Role.AIRFLOW,)
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(url.render_as_string(hide_password=False))


def test_loader_writes_ingestion_tables_and_nothing_of_dbt(built: Any):
    with warehouse.connect(built, role="loader") as conn:
        assert conn.execute("select count(*) from ops.batch_ledger").fetchone()[0] >= 1
        conn.rollback()
        _insufficient(conn, "select 1 from marts.fct_crime_reports")
        _insufficient(conn, "create table marts.intruder (x int)")
        _insufficient(conn, "delete from marts.dim_date")
        _insufficient(conn, "create view staging.intruder as select 1")
        _insufficient(
            conn,
            "insert into ops.deliveries (recipient, spec_file, channel, success)"
            " values ('x', 'x', 'x', true)",
        )
        _insufficient(conn, "select 1 from bi.indicators_monthly")


def test_transformer_reads_ops_but_cannot_write_the_ledger(built: Any):
    with warehouse.connect(built, role="transformer") as conn:
        assert conn.execute("select count(*) from raw.police__reports").fetchone()[0] == 3
        conn.rollback()
        _insufficient(conn, "update ops.batch_ledger set status = 'rejected'")
        _insufficient(
            conn,
            "insert into ops.batch_ledger (batch_id, source, status) values ('x', 'x', 'loading')",
        )
        _insufficient(conn, "delete from raw.police__reports")
        _insufficient(conn, "create table ops.intruder (x int)")
        _insufficient(conn, "create schema intruder")


def test_delivery_reads_marts_and_appends_its_audit_only(built: Any):
    with warehouse.connect(built, role="delivery") as conn:
        conn.execute("select count(*) from marts.mart_indicators_monthly").fetchone()
        conn.execute("select count(*) from reference.ref_indicators").fetchone()
        conn.rollback()
        _insufficient(conn, "select 1 from raw.police__reports")
        _insufficient(conn, "delete from ops.deliveries")
        _insufficient(conn, "update ops.batch_ledger set error = 'x'")
        _insufficient(conn, "select 1 from ops.quarantine")


def test_bi_login_reads_the_bi_schema_and_nothing_else(built: Any):
    with _login(built, NATIONAL) as conn:
        for relation in (
            "marts.fct_crime_reports",
            "marts.dim_person_pseudonym",
            "marts.fct_homicide_victims",
            "marts.mart_indicators_monthly",
            "raw.police__reports",
            "staging.stg_police__reports",
            "intermediate.int_crime_reports_classified",
            "ops.batch_ledger",
            "ops.victim_register",
            "reference.ref_indicators",
            "snapshots.snap_police__reports",
        ):
            _insufficient(conn, f"select 1 from {relation} limit 1")
        tables = _bi_tables(conn)
        assert {"dim_indicator", "indicators_monthly", "justice_attrition"} <= set(tables)
        # The national ministry sees every department.
        departments = conn.execute(
            "select count(distinct department_code) from bi.dim_municipality"
        ).fetchone()[0]
        assert departments >= 5
        _insufficient(conn, "delete from bi.dim_municipality")
        _insufficient(conn, "alter table bi.dim_municipality disable row level security")
        _insufficient(conn, "drop policy recipient_rows on bi.dim_municipality")
        # Its own scope row and no one else's.
        scopes = conn.execute("select login from bi_access.recipient_scopes").fetchall()
        assert scopes == [(NATIONAL,)]


def _department_leaks(conn: psycopg.Connection[Any], tables: list[str]) -> dict[str, int]:
    leaks = {}
    for table in tables:
        columns = {
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'bi' and table_name = %s",
                (table,),
            ).fetchall()
        }
        if "department_code" not in columns:
            continue
        query = sql.SQL(
            "select count(*) from bi.{} where department_code is distinct from '01'"
        ).format(sql.Identifier(table))
        leaks[table] = conn.execute(query).fetchone()[0]
    return leaks


def _assert_department_login_sees_its_rows_only(settings: Any) -> None:
    with _login(settings, CENTRAL) as conn:
        tables = _bi_tables(conn)
        leaks = _department_leaks(conn, tables)
        assert set(leaks) >= {"dim_municipality", "indicators_monthly", "justice_attrition"}
        assert leaks == dict.fromkeys(leaks, 0)
        own = conn.execute("select count(*) from bi.indicators_monthly").fetchone()[0]
        assert own > 0
        assert conn.execute("select count(*) from bi.dim_indicator").fetchone()[0] > 0
        # National tables (no department) are not its rows.
        assert conn.execute("select count(*) from bi.data_quality_daily").fetchone()[0] == 0
        # Its group role alone has no scope: reading as it yields nothing.
        conn.execute(f"set role {roles.BI_ROLE}")
        assert conn.execute("select count(*) from bi.indicators_monthly").fetchone()[0] == 0
        assert conn.execute("select count(*) from bi.dim_indicator").fetchone()[0] == 0


def test_department_login_sees_its_department_s_rows_only(built: Any):
    _assert_department_login_sees_its_rows_only(built)
    with _login(built, NATIONAL) as conn:
        assert conn.execute("select count(*) from bi.data_quality_daily").fetchone()[0] > 0


def test_bi_holds_no_person_and_no_small_count(built: Any, admin: psycopg.Connection[Any]):
    columns = admin.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'bi'"
    ).fetchall()
    person = [(t, c) for t, c in columns if PERSON_COLUMN.search(c)]
    assert person == []
    small = admin.execute(
        "select count(*) from bi.indicators_monthly"
        " where numerator between 1 and 9 or denominator between 1 and 9"
    ).fetchone()[0]
    assert small == 0
    # The three reports made counts of 1: they are there, suppressed.
    suppressed = admin.execute(
        "select count(*) from bi.indicators_monthly where is_suppressed and numerator is null"
    ).fetchone()[0]
    assert suppressed > 0


def test_analyst_reads_person_level_marts_only(built: Any, admin: psycopg.Connection[Any]):
    admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(ANALYST)))
    admin.execute(
        sql.SQL("create role {} login password 'analyst-test-password-0123456789'").format(
            sql.Identifier(ANALYST)
        )
    )
    admin.execute(
        sql.SQL("grant {} to {}").format(
            sql.Identifier(roles.ANALYST_ROLE), sql.Identifier(ANALYST)
        )
    )
    from sqlalchemy.engine import make_url

    url = make_url(warehouse.warehouse_url(built)).set(
        username=ANALYST, password="analyst-test-password-0123456789"
    )
    try:
        with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
            # Person-level, deliberately: pseudonyms for linkage review.
            pseudonyms = conn.execute(
                "select count(victim_id_pseudonym) from marts.fct_crime_reports"
            ).fetchone()[0]
            assert pseudonyms == 3
            conn.rollback()
            for relation in (
                "raw.police__reports",
                "ops.batch_ledger",
                "staging.stg_police__reports",
                "bi.indicators_monthly",
            ):
                _insufficient(conn, f"select 1 from {relation} limit 1")
            _insufficient(conn, "delete from marts.fct_crime_reports")
    finally:
        admin.execute(sql.SQL("drop owned by {}").format(sql.Identifier(ANALYST)))
        admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(ANALYST)))


def test_policies_hold_after_a_rebuild(built: Any, admin: psycopg.Connection[Any]):
    before = admin.execute(
        "select oid from pg_class where relnamespace = 'bi'::regnamespace and relkind = 'r'"
    ).fetchall()
    build(built, select="path:models/bi")
    tables = admin.execute(
        "select c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        " pg_get_userbyid(c.relowner),"
        " (select count(*) from pg_policies as p"
        "  where p.schemaname = 'bi' and p.tablename = c.relname)"
        " from pg_class as c where c.relnamespace = 'bi'::regnamespace and c.relkind = 'r'"
    ).fetchall()
    assert {r[0] for r in tables}.isdisjoint({r[0] for r in before})  # really rebuilt
    assert len(tables) >= 6
    for _, name, enabled, forced, owner, policies in tables:
        assert (enabled, forced, owner, policies) == (True, True, Role.TRANSFORMER, 2), name
    # Views, if any, check the reader's rights, never their owner's.
    views = admin.execute(
        "select relname, reloptions from pg_class"
        " where relnamespace = 'bi'::regnamespace and relkind = 'v'"
    ).fetchall()
    assert [v for v in views if "security_invoker=true" not in (v[1] or [])] == []
    _assert_department_login_sees_its_rows_only(built)


def test_a_new_mart_is_covered_at_birth(built: Any):
    with warehouse.connect(built, role="transformer", autocommit=True) as conn:
        conn.execute("drop table if exists marts.born_today")
        conn.execute("create table marts.born_today as select 1 as x")
    try:
        with warehouse.connect(built, role="delivery") as conn:
            assert conn.execute("select x from marts.born_today").fetchone() == (1,)
        with _login(built, NATIONAL) as conn:
            _insufficient(conn, "select x from marts.born_today")
    finally:
        with warehouse.connect(built, role="transformer", autocommit=True) as conn:
            conn.execute("drop table if exists marts.born_today")


def test_recipient_logins_come_from_the_declaration(built: Any):
    declared = {item.login: item.department_code for item in load_logins()}
    assert declared[NATIONAL] is None and declared[CENTRAL] == "01"
    assert warehouse.ensure_recipient_logins(built) == list(declared)
