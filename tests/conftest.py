"""Test session setup: an isolated warehouse and Airflow home for the whole suite.

With OBSERVATORIO_WAREHOUSE_URL unset, the suite runs on its own embedded PostgreSQL under
`.observatorio/test-<pid>` on a free port, so concurrent sessions never share a server; it
is stopped and deleted when the session ends. With it set, the suite
creates a database `<name>_test` beside the one named (and `airflow_test` for Airflow's
metadata), so `make test` never touches the data of the warehouse it is pointed at.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_HOME = ROOT / ".observatorio" / f"test-{os.getpid()}"
# The home `make manifest` wrote to, whose dbt manifest the session takes if it is current
# (an xdist worker: the one its controller was given).
HOME_BEFORE = Path(
    os.environ.get("OBSERVATORIO_TEST_GIVEN_HOME")
    or os.environ.get("OBSERVATORIO_HOME")
    or ROOT / ".observatorio"
).resolve()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _configure_environment() -> None:
    from sqlalchemy.engine import make_url

    # Once per process: importing this module again (as `tests.conftest`) must not pick new
    # ports while the session's server is running on the old ones.
    if os.environ.get("OBSERVATORIO_TEST_SESSION") == str(os.getpid()):
        return
    os.environ["OBSERVATORIO_TEST_SESSION"] = str(os.getpid())
    # A pytest-xdist worker inherits the controller's environment, rewritten below: it starts
    # again from the warehouse URL the suite was given.
    os.environ.setdefault("OBSERVATORIO_TEST_GIVEN_HOME", str(HOME_BEFORE))
    os.environ.setdefault(
        "OBSERVATORIO_TEST_GIVEN_URL", os.environ.get("OBSERVATORIO_WAREHOUSE_URL", "")
    )
    os.environ["OBSERVATORIO_HOME"] = str(TEST_HOME)
    os.environ["OBSERVATORIO_DEMO"] = "1"
    os.environ["OBSERVATORIO_WAREHOUSE_PORT"] = str(_free_port())
    os.environ["OBSERVATORIO_AIRFLOW_PORT"] = str(_free_port())
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    external = os.environ["OBSERVATORIO_TEST_GIVEN_URL"]
    if external:
        url = make_url(external)
        # Each xdist worker has databases of its own: `<name>_test_gw0`, `airflow_test_gw0`.
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        suffix = f"_test_{worker}" if worker else "_test"
        os.environ["OBSERVATORIO_WAREHOUSE_URL"] = url.set(
            database=f"{url.database}{suffix}"
        ).render_as_string(hide_password=False)
        os.environ["OBSERVATORIO_AIRFLOW_DB"] = f"airflow{suffix}"
        os.environ["OBSERVATORIO_TEST_ADMIN_URL"] = url.set(database="postgres").render_as_string(
            hide_password=False
        )


def _recreate_external_databases() -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = os.environ["OBSERVATORIO_TEST_ADMIN_URL"]
    databases = [
        make_url(os.environ["OBSERVATORIO_WAREHOUSE_URL"]).database,
        os.environ["OBSERVATORIO_AIRFLOW_DB"],
    ]
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in databases:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


_configure_environment()


def _is_xdist_controller(config: pytest.Config) -> bool:
    """The process that hands tests to pytest-xdist workers (`make test`) and runs none: each
    worker starts its own warehouse and Airflow home, as a session of its own."""
    return config.pluginmanager.has_plugin("dsession")


def pytest_sessionstart(session: pytest.Session) -> None:
    from observatorio.core import warehouse
    from observatorio.core.settings import get_settings

    if _is_xdist_controller(session.config):
        return
    settings = get_settings()
    if settings.is_embedded:
        warehouse.reset_embedded(settings)
    shutil.rmtree(TEST_HOME, ignore_errors=True)
    TEST_HOME.mkdir(parents=True, exist_ok=True)
    if not settings.is_embedded:
        _recreate_external_databases()
    # Airflow reads its configuration once, at import: set it before any test imports it.
    from observatorio.orchestration import airflow_env

    airflow_env.apply(settings)
    # The dbt manifest, a build artefact as in a deployment: `make manifest`'s if current,
    # else one `dbt parse`. DAG files only read it.
    from observatorio.transform import manifest

    if not manifest.adopt(HOME_BEFORE, settings):
        manifest.refresh(settings)


TESTS = ROOT / "tests"
# Conftests every test shares; any other folder's conftest holds session fixtures (a simulated
# country, a justice system) that its tests share.
SHARED_CONFTESTS = {TESTS, TESTS / "integration"}


def _work_unit(path: Path) -> str:
    """What one xdist worker runs whole: a test module, or a folder whose conftest has session
    fixtures (so that no two workers build the same fixture, nor a module's twice)."""
    for folder in path.parents:
        if folder in SHARED_CONFTESTS or TESTS not in folder.parents:
            break
        if (folder / "conftest.py").exists():
            return str(folder.relative_to(TESTS))
    return str(path.relative_to(TESTS))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test`'s scheduler: xdist's by-scope one with our work units as scopes (its own
    `--dist loadgroup` cannot rename pytest 9's node ids)."""
    from xdist.scheduler import LoadScopeScheduling

    if config.getoption("dist") != "load":
        return None  # a --dist asked for on the command line

    class WorkUnitScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(config.rootpath / nodeid.split("::", 1)[0])

    return WorkUnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the work units holding `slow` tests (whole DAGs, the pipeline) come first,
    and the scheduler hands them out in this order (`--no-loadscope-reorder`): the last unit to
    start is a short one, so the workers end together."""
    if not hasattr(config, "workerinput"):
        return
    slow = {_work_unit(item.path) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: _work_unit(item.path) not in slow)


# A CI run of the whole suite that ran fewer tests than this lost some on the way (a module
# that stopped being collected, a fixture that skips everything): it fails.
CI_MINIMUM_TESTS_RUN = 350
_tests_run = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _tests_run
    if report.when == "call" and not report.skipped:
        _tests_run += 1


def _check_minimum_tests_run(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker ran its share; the controller counts them all
    whole_suite = session.config.args_source == pytest.Config.ArgsSource.TESTPATHS
    option = session.config.option
    filtered = option.keyword or option.markexpr or option.collectonly
    if not (os.environ.get("CI") and whole_suite and not filtered):
        return
    if _tests_run < CI_MINIMUM_TESTS_RUN:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"CI ran {_tests_run} tests; the whole suite has at least {CI_MINIMUM_TESTS_RUN}"
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from observatorio.core import warehouse
    from observatorio.core.settings import get_settings

    _check_minimum_tests_run(session)
    if _is_xdist_controller(session.config):
        return
    settings = get_settings()
    if "airflow.settings" in sys.modules:
        # Close Airflow's pooled connections before the server goes away, not at exit.
        sys.modules["airflow.settings"].dispose_orm()
    if settings.is_embedded:
        warehouse.stop_embedded(settings)
        if not os.environ.get("OBSERVATORIO_KEEP_TEST_HOME"):
            shutil.rmtree(TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def settings():  # type: ignore[no-untyped-def]
    from observatorio.core.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def warehouse_url(settings) -> str:  # type: ignore[no-untyped-def]
    from observatorio.core.warehouse import ensure_warehouse

    return ensure_warehouse(settings)


@pytest.fixture
def db(warehouse_url: str) -> Iterator[object]:
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def loader_db(settings, warehouse_url: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A connection as the loader role: what ingestion stages is the loader's."""
    import psycopg

    from observatorio.core.warehouse import warehouse_url as role_url

    with psycopg.connect(role_url(settings, role="loader"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def clean_warehouse(db) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Empty raw, ops and ingest so a test sees only its own batches."""
    _truncate(db)
    yield db


def _truncate(conn) -> None:  # type: ignore[no-untyped-def]
    rows = conn.execute(
        "select format('%I.%I', schemaname, tablename) from pg_tables"
        " where schemaname in ('raw', 'ingest')"
    ).fetchall()
    for (table,) in rows:
        conn.execute(f"drop table if exists {table} cascade")
    # Watermarks too: a connector must not resume from another test's cursor.
    conn.execute(
        "truncate ops.batch_ledger, ops.file_receipts, ops.quarantine,"
        " ops.validation_results, ops.deliveries, ops.watermarks, ops.build_ledger"
        " restart identity"
    )
    forget_built_records(conn)


def forget_built_records(conn) -> None:  # type: ignore[no-untyped-def]
    """Drop the incremental models and the snapshots, for a test that removed raw rows.

    They keep the records of batches they built from (and read only what new batches
    change), so rows removed from raw outside a batch would stay in them: the next build
    starts them from scratch, as a warehouse rebuilt from its files would."""
    for table in _stateful_relations():
        conn.execute(f"drop table if exists {table} cascade")


def _stateful_relations() -> list[str]:
    """The incremental models and the snapshots: what a build adds to rather than replaces."""
    from observatorio.transform import manifest

    nodes = manifest.load()["nodes"].values()
    return sorted(
        f"{node['schema']}.{node['alias']}"
        for node in nodes
        if node["resource_type"] == "snapshot"
        or (node["resource_type"] == "model" and node["config"]["materialized"] == "incremental")
    )


@pytest.fixture(scope="session")
def postgres_server_url(warehouse_url: str, settings) -> str:  # type: ignore[no-untyped-def]
    """The warehouse's PostgreSQL server as a SQLAlchemy URL without a database, for tests
    that need source databases of their own beside the warehouse (a justice system's): its
    administrator, since no Observatorio role may create databases."""
    from sqlalchemy.engine import URL, make_url

    from observatorio.core.warehouse import admin_url

    administrator = admin_url(settings)
    assert administrator, "the test server needs an administrator to make source databases"
    url = make_url(administrator)
    server = URL.create("postgresql+psycopg", url.username, url.password, url.host, url.port)
    return server.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def mariadb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A MariaDB server URL without a database: the machine's, or one the session starts."""
    from tests.local_servers import mariadb_server

    with mariadb_server(tmp_path_factory.mktemp("mariadb")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server URL without a db number: the machine's, or one the session starts."""
    from tests.local_servers import redis_server

    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def airflow_db(warehouse_url: str, settings):  # type: ignore[no-untyped-def]
    """Airflow's metadata database, migrated once per session."""
    from observatorio.orchestration.runner import migrate_airflow

    migrate_airflow(settings)
    return settings
