"""The SQL connector against real PostgreSQL 15 and MariaDB, replaying the justice history."""

from __future__ import annotations

import json
import logging
import os
from datetime import date, datetime, timedelta

import pytest

from ingestion import watermarks
from ingestion.connectors import sql as connector
from ingestion.landing import inbox
from simulator.justice import load_database, snapshot

MID = date(2024, 6, 30)
LATER = date(2024, 9, 30)
SOURCE = "justice__cases"


def _landed(path: str) -> list[dict[str, object]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _ts(row: dict[str, object]) -> datetime:
    value = row["updated_at"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def test_first_pull_lands_everything_then_only_changes_plus_overlap(
    source_db, justice_sim, justice_state, settings
):
    load_database(justice_sim, source_db, as_of=MID)
    # The probe the main job asks before starting the DAG agrees with every pull below.
    assert connector.changed_since_watermark(SOURCE, source_db, settings=settings).has_new
    first = connector.extract(SOURCE, source_db, settings=settings, batch_rows=50)
    assert not connector.changed_since_watermark(SOURCE, source_db, settings=settings).has_new
    known = snapshot(justice_sim, "cases", MID)
    assert first.status == "landed"
    assert first.rows == first.new_rows == len(known) > 100
    assert first.window_start is None
    rows = _landed(first.file)  # type: ignore[arg-type]
    assert sorted(r["case_id"] for r in rows) == sorted(r["case_id"] for r in known)
    # Ordered by the cursor, and the watermark is its last position.
    cursor = [(r["updated_at"], r["case_id"]) for r in rows]
    assert cursor == sorted(cursor)
    mark = watermarks.read(SOURCE, settings)
    assert mark == {"updated_at": rows[-1]["updated_at"], "case_id": rows[-1]["case_id"]}
    assert first.file.endswith(f"_begin_{_ts(rows[-1]).strftime('%Y%m%dT%H%M%S')}.jsonl")

    load_database(justice_sim, source_db, as_of=LATER)
    assert connector.changed_since_watermark(SOURCE, source_db, settings=settings).has_new
    second = connector.extract(SOURCE, source_db, settings=settings, batch_rows=50)
    after = snapshot(justice_sim, "cases", LATER)
    watermark = datetime.fromisoformat(str(mark["updated_at"]))
    changed = {r["case_id"] for r in after if _ts(r) > watermark}
    overlap = {r["case_id"] for r in after if watermark - timedelta(minutes=10) <= _ts(r)}
    landed = _landed(second.file)  # type: ignore[arg-type]
    assert second.new_rows == len(changed) > 0
    assert {r["case_id"] for r in landed} == overlap
    assert second.rows == len(overlap) < len(after)
    assert second.window_start == (watermark - timedelta(minutes=10)).isoformat()
    advanced = watermarks.read(SOURCE, settings)
    assert advanced is not None
    assert advanced["updated_at"] == max(_ts(r) for r in after).isoformat() > mark["updated_at"]

    # Nothing changed since: no file, the watermark stays; the probe says so beforehand.
    probe = connector.changed_since_watermark(SOURCE, source_db, settings=settings)
    assert not probe.has_new
    position = f"({advanced['updated_at']}, {advanced['case_id']})"
    assert probe.detail == f"no row after {position} in cases"
    third = connector.extract(SOURCE, source_db, settings=settings)
    assert (third.status, third.file) == ("nothing_new", None)
    assert watermarks.read(SOURCE, settings) == advanced
    assert sorted(p.name for p in inbox(SOURCE, settings).iterdir()) == sorted(
        os.path.basename(r.file)
        for r in (first, second)  # type: ignore[type-var]
    )

    # A row re-stamped with the watermark's own instant is new only after the watermark's id
    # in the cursor's order, for the probe as for the pull.
    at, last_id = datetime.fromisoformat(advanced["updated_at"]), advanced["case_id"]
    before = min(r["case_id"] for r in after if r["case_id"] < last_id)
    beyond = max(r["case_id"] for r in after if r["case_id"] > last_id)
    _restamp(source_db, before, at)
    assert not connector.changed_since_watermark(SOURCE, source_db, settings=settings).has_new
    assert connector.extract(SOURCE, source_db, settings=settings).status == "nothing_new"
    _restamp(source_db, beyond, at)
    assert connector.changed_since_watermark(SOURCE, source_db, settings=settings).has_new
    assert connector.extract(SOURCE, source_db, settings=settings).new_rows == 1


def _restamp(url: str, case_id: str, updated_at: datetime) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("update cases set updated_at = :at where case_id = :id"),
                {"at": updated_at, "id": case_id},
            )
    finally:
        engine.dispose()


def test_crash_before_rename_leaves_watermark_and_inbox_unchanged(
    source_db, justice_sim, justice_state, settings, monkeypatch
):
    load_database(justice_sim, source_db, as_of=MID)

    def crash(*_: object) -> None:
        raise OSError("disk gone before the rename")

    with monkeypatch.context() as patched:
        patched.setattr(connector.os, "replace", crash)
        with pytest.raises(OSError, match="before the rename"):
            connector.extract(SOURCE, source_db, settings=settings)
    assert watermarks.read(SOURCE, settings) is None
    assert list(inbox(SOURCE, settings).iterdir()) == []  # no partial file left behind
    retry = connector.extract(SOURCE, source_db, settings=settings)
    assert retry.rows == len(snapshot(justice_sim, "cases", MID))
    assert watermarks.read(SOURCE, settings) == retry.cursor


def test_rerunning_an_interval_lands_identical_content(
    pg_source_db, justice_sim, justice_state, settings
):
    load_database(justice_sim, pg_source_db, as_of=MID)
    hour = "2024-07-01T10:00:00+00:00"
    first = connector.extract(SOURCE, pg_source_db, settings=settings, interval=hour)
    os.unlink(first.file)  # type: ignore[arg-type]  # as if claimed and archived
    again = connector.extract(SOURCE, pg_source_db, settings=settings, interval=hour)
    assert (again.file, again.file_sha256, again.rows) == (
        first.file,
        first.file_sha256,
        first.rows,
    )
    # The next interval continues from the watermark, minus the overlap.
    load_database(justice_sim, pg_source_db, as_of=LATER)
    following = connector.extract(
        SOURCE, pg_source_db, settings=settings, interval="2024-07-01T11:00:00+00:00"
    )
    assert following.window_start is not None and 0 < following.rows < first.rows


def test_connection_comes_from_airflow_and_password_is_never_logged(
    pg_source_db, justice_sim, justice_state, settings, monkeypatch, caplog
):
    assert connector.url_from_airflow_connection("postgres://u:p%40ss@db:5432/justice") == (
        "postgresql+psycopg://u:p%40ss@db:5432/justice"
    )
    as_json = json.dumps(
        {"conn_type": "mysql", "login": "r", "password": "x", "host": "h", "schema": "j"}
    )
    assert connector.url_from_airflow_connection(as_json) == "mysql+pymysql://r:x@h/j"
    monkeypatch.delenv("AIRFLOW_CONN_JUSTICE_DB", raising=False)
    monkeypatch.delenv("OBSERVATORIO_JUSTICE_URL", raising=False)
    with pytest.raises(connector.ConnectorError, match="AIRFLOW_CONN_JUSTICE_DB"):
        connector.source_url()

    load_database(justice_sim, pg_source_db, as_of=MID)
    secret = "s3cret-Pa55"  # the server trusts local users, so any password connects
    with_password = pg_source_db.replace("postgres@", f"postgres:{secret}@")
    monkeypatch.setenv("AIRFLOW_CONN_JUSTICE_DB", with_password.replace("+psycopg", ""))
    caplog.set_level(logging.DEBUG)
    result = connector.extract("justice__parties", settings=settings)
    assert result.status == "landed" and result.rows > 0
    assert secret not in caplog.text and "***" in caplog.text
    # What goes to XCom carries no person: no national ID, no name.
    person = snapshot(justice_sim, "parties", MID)[0]
    assert str(person["national_id"]) not in json.dumps(result.as_json())
    assert str(person["full_name"]) not in json.dumps(result.as_json())
