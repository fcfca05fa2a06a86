"""File drops over SFTP for real: Airflow's SFTP hook against an asyncssh server on 127.0.0.1
(started in the test), through the ingest tasks claim → stage → gate → publish → report."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.connectors import sftp
from ingestion.landing import claim_files, claimed_dir, inbox
from ingestion.loader import BatchRejected
from observatorio.orchestration import ingest as tasks
from tests.police_files import report_row, write_reports
from tests.sftp_server import EventLoopThread, SftpServer, connection_json, loop, start_sftp_server

__all__ = ["loop"]  # the shared fixture

SOURCE = "police__reports"
CONN_ENV = "AIRFLOW_CONN_OBSERVATORIO_SFTP_POLICE__REPORTS"
REMOTE_DIR = "drops/denuncias"


@pytest.fixture
def local_folders(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """No landed, claimed, archived, rejected or SFTP-state files of earlier tests."""

    def clear() -> None:
        for folder in (
            inbox(SOURCE, settings),
            claimed_dir(SOURCE, settings),
            sftp.state_dir(SOURCE, settings),
            settings.archive_dir / SOURCE,
            settings.rejected_dir / SOURCE,
        ):
            shutil.rmtree(folder, ignore_errors=True)

    clear()
    yield
    clear()


@pytest.fixture
def server(loop: EventLoopThread, tmp_path, monkeypatch, local_folders) -> Iterator[SftpServer]:  # type: ignore[no-untyped-def]
    running = start_sftp_server(loop, tmp_path / "sftp_root")
    (running.root / REMOTE_DIR).mkdir(parents=True)
    monkeypatch.setenv(CONN_ENV, connection_json(running.port, remote_dir=REMOTE_DIR))
    yield running
    running.close()


def remote(server: SftpServer, folder: str = "") -> list[str]:
    path = server.root / REMOTE_DIR / folder
    return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []


def drop(server: SftpServer, name: str, rows: list[list[str]]) -> Path:
    return write_reports(server.root / REMOTE_DIR / name, rows)


def run(source: str = SOURCE) -> dict[str, int]:
    return tasks.report(tasks.publish(tasks.gate(tasks.stage(source, tasks.claim(source)))))


def test_drops_are_claimed_ingested_and_moved_to_archive_or_rejected(
    server, clean_warehouse, settings
):
    good = drop(server, "denuncias_20240105.csv", [report_row(i) for i in range(1, 6)])
    shutil.copy(good, server.root / REMOTE_DIR / "denuncias_20240105_reenvio.csv")
    bad_rows = [report_row(i, edad_victima="-1" if i % 2 else "30") for i in range(10, 20)]
    drop(server, "denuncias_20240106.csv", bad_rows)
    drop(server, "denuncias_20240107.csv.part", [report_row(30)])  # still uploading
    (server.root / REMOTE_DIR / "leeme.txt").write_text("not an export")

    with pytest.raises(BatchRejected, match=r"denuncias_20240106\.csv: .*threshold"):
        run()

    assert remote(server, "archive") == ["denuncias_20240105.csv", "denuncias_20240105_reenvio.csv"]
    assert remote(server, "rejected") == ["denuncias_20240106.csv"]
    assert remote(server, "processing") == []
    assert remote(server) == ["denuncias_20240107.csv.part", "leeme.txt"]
    db = clean_warehouse
    assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 5
    outcomes = db.execute(
        "select file_name, outcome from ops.file_receipts order by file_name"
    ).fetchall()
    assert outcomes == [
        ("denuncias_20240105.csv", "loaded"),
        ("denuncias_20240105_reenvio.csv", "skipped"),
        ("denuncias_20240106.csv", "rejected"),
    ]
    assert sorted(p.name for p in (settings.archive_dir / SOURCE).iterdir()) == [
        "denuncias_20240105.csv",
        "denuncias_20240105_reenvio.csv",
    ]
    assert [p.name for p in (settings.rejected_dir / SOURCE).iterdir()] == [
        "denuncias_20240106.csv"
    ]
    assert list(claimed_dir(SOURCE, settings).rglob("*")) == []
    assert list(sftp.state_dir(SOURCE, settings).iterdir()) == []

    # The finished upload is taken by the next run; nothing else is read again.
    (server.root / REMOTE_DIR / "denuncias_20240107.csv.part").rename(
        server.root / REMOTE_DIR / "denuncias_20240107.csv"
    )
    assert run() == {"loaded": 1, "skipped": 0, "rejected": 0}
    assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 6
    assert "denuncias_20240107.csv" in remote(server, "archive")


def test_each_step_resumes_without_fetching_a_file_twice(
    server, loop, clean_warehouse, settings, monkeypatch
):
    drop(server, "denuncias_20240201.csv", [report_row(i) for i in range(1, 4)])
    run_id = "ingest_police_reports.manual__1"  # the same run, tried again after each failure
    first = sftp.pull(SOURCE, settings, run_id)
    assert first is not None
    assert (first.claimed, first.downloaded) == (
        ["denuncias_20240201.csv"],
        ["denuncias_20240201.csv"],
    )
    local = claimed_dir(SOURCE, settings, run_id) / "denuncias_20240201.csv"
    inode = local.stat().st_ino

    # A claim that died after the remote rename but before its download: the file waits in
    # processing/, and the next pull downloads only that one.
    write_reports(
        server.root / REMOTE_DIR / "processing" / "denuncias_20240202.csv",
        [report_row(i) for i in range(4, 6)],
    )
    second = sftp.pull(SOURCE, settings, run_id)
    assert second is not None
    assert second.claimed == [] and second.downloaded == ["denuncias_20240202.csv"]
    assert second.already_local == ["denuncias_20240201.csv"]
    assert local.stat().st_ino == inode

    # The server goes away before the batches end: they are published all the same, and
    # their remote copies wait in processing/ with the outcome recorded locally.
    server.close()
    step = tasks.stage(SOURCE, claim_files(SOURCE, settings, run_id))
    assert tasks.report(tasks.publish(tasks.gate(step))) == {
        "loaded": 2,
        "skipped": 0,
        "rejected": 0,
    }
    assert remote(server, "processing") == ["denuncias_20240201.csv", "denuncias_20240202.csv"]
    db = clean_warehouse
    assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 5

    # Back online (another port): the next pull moves them without downloading anything.
    back = start_sftp_server(loop, server.root)
    monkeypatch.setenv(CONN_ENV, connection_json(back.port, remote_dir=REMOTE_DIR))
    try:
        third = sftp.pull(SOURCE, settings)
        assert third is not None
        assert third.downloaded == [] and third.settled == [
            "denuncias_20240201.csv",
            "denuncias_20240202.csv",
        ]
        assert remote(server, "archive") == ["denuncias_20240201.csv", "denuncias_20240202.csv"]
        assert remote(server, "processing") == []
        assert run() == {"loaded": 0, "skipped": 0, "rejected": 0}
    finally:
        back.close()
    assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 5


def test_a_refetched_file_is_not_loaded_twice(server, clean_warehouse, settings):
    drop(server, "denuncias_20240301.csv", [report_row(i) for i in range(1, 4)])
    assert run() == {"loaded": 1, "skipped": 0, "rejected": 0}
    # The worker died after its local archive, before the remote move and its record: the
    # file is fetched again, and the ledger's content hash skips it.
    archived = server.root / REMOTE_DIR / "archive" / "denuncias_20240301.csv"
    archived.rename(server.root / REMOTE_DIR / "processing" / archived.name)
    assert run() == {"loaded": 0, "skipped": 1, "rejected": 0}
    db = clean_warehouse
    assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 3
    assert remote(server, "archive") == ["denuncias_20240301.csv"]
    assert remote(server, "processing") == []
    # A changed file under the same name is a new batch; both copies stay in the archive.
    drop(server, "denuncias_20240301.csv", [report_row(i) for i in range(4, 6)])
    assert run() == {"loaded": 1, "skipped": 0, "rejected": 0}
    assert db.execute("select count(*) from raw.police__reports").fetchone()[0] == 5
    archive = remote(server, "archive")
    assert len(archive) == 2 and all(n.startswith("denuncias_20240301.") for n in archive)


def test_a_wrong_password_fails_the_claim_and_takes_nothing(server, monkeypatch, settings):
    drop(server, "denuncias_20240401.csv", [report_row(1)])
    monkeypatch.setenv(CONN_ENV, connection_json(server.port, "wrong", remote_dir=REMOTE_DIR))
    with pytest.raises(Exception, match=r"(?i)auth"):
        tasks.claim(SOURCE)
    assert remote(server) == ["denuncias_20240401.csv"]
    assert not claimed_dir(SOURCE, settings).exists() or not any(
        p.is_file() for p in claimed_dir(SOURCE, settings).rglob("*")
    )


def test_without_a_connection_only_the_landing_folder_is_read(
    local_folders, clean_warehouse, settings, monkeypatch
):
    monkeypatch.delenv(CONN_ENV, raising=False)
    assert sftp.configured_drop(SOURCE) is None
    assert sftp.pull(SOURCE, settings) is None
    target = inbox(SOURCE, settings)
    target.mkdir(parents=True, exist_ok=True)
    write_reports(target / "denuncias_20240501.csv", [report_row(1)])
    assert [Path(p).name for p in tasks.claim(SOURCE)] == ["denuncias_20240501.csv"]


def test_the_main_job_finds_a_drop_where_the_claim_task_would(airflow_db, monkeypatch):
    """`has_drop` (asked before the main job starts an ingest DAG) finds the connection where
    the DAG's claim task finds it: its environment form, or its row in Airflow's metadata
    database (a connection added in the UI). Outside a task Airflow's own lookup
    (`configured_drop`) sees the environment only."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    monkeypatch.delenv(CONN_ENV, raising=False)
    assert not sftp.has_drop(SOURCE) and sftp.configured_drop(SOURCE) is None
    monkeypatch.setenv(CONN_ENV, connection_json(2222, remote_dir=REMOTE_DIR))
    assert sftp.has_drop(SOURCE)
    monkeypatch.delenv(CONN_ENV)
    conn_id = sftp.connection_id(SOURCE)
    with create_session() as session:
        session.add(Connection(conn_id=conn_id, conn_type="sftp", host="127.0.0.1"))
    try:
        assert sftp.has_drop(SOURCE)
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == conn_id).delete()
    assert not sftp.has_drop(SOURCE)


@pytest.mark.slow
def test_the_ingest_dag_pulls_from_sftp_inside_airflow(server, clean_warehouse, airflow_db):
    """The connection is looked up from inside a real task (Airflow's own connection
    sources), and the run's tasks claim, ingest and settle the drop."""
    from airflow.dag_processing.dagbag import DagBag

    drop(server, "denuncias_20240601.csv", [report_row(i) for i in range(1, 4)])
    bag = DagBag(dag_folder=str(airflow_db.dags_dir / "ingest_police_reports.py"))
    assert not bag.import_errors, bag.import_errors
    run_ = bag.dags["ingest_police_reports"].test()
    assert run_.state == "success"
    assert remote(server, "archive") == ["denuncias_20240601.csv"]
    assert remote(server) == [] and remote(server, "processing") == []
    assert clean_warehouse.execute("select count(*) from raw.police__reports").fetchone()[0] == 3
