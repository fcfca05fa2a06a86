"""State does not grow without bound (issue 21): WAL settings of the embedded warehouse,
lineage event files folded per day, and `observatorio clean --keep-data`."""

from __future__ import annotations

import gzip
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from observatorio.lineage.compaction import compact_events

DAY = 86_400


def test_the_embedded_warehouse_keeps_its_wal_small(settings, db):
    if not settings.is_embedded:
        pytest.skip("WAL settings are the embedded server's; an external one is the DBA's")
    shown = {
        name: db.execute(f"show {name}").fetchone()[0]
        for name in ("wal_level", "max_wal_senders", "max_wal_size")
    }
    assert shown == {"wal_level": "minimal", "max_wal_senders": "0", "max_wal_size": "256MB"}


def _event(folder: Path, n: int, age_days: float) -> Path:
    path = folder / f"events-2024-01-01T00:00:{n:02d}.{n:06d}.json"
    body = {"eventType": "COMPLETE", "run": {"runId": f"r{n}"}, "note": "a\\nb"}
    path.write_text(json.dumps(body, indent=2), encoding="utf-8")
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


def test_event_files_of_finished_days_are_folded_and_old_days_deleted(settings, monkeypatch):
    folder = settings.lineage_dir
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        path.unlink()
    old = [_event(folder, n, 2.2) for n in range(5)]
    today = [_event(folder, n, 0) for n in range(5, 8)]
    ancient_day = (datetime.now(UTC) - timedelta(days=400)).date()
    ancient = folder / f"events-{ancient_day.isoformat()}.jsonl.gz"
    with gzip.open(ancient, "wb") as handle:
        handle.write(b"{}\n")

    result = compact_events(settings)

    assert result.files_folded == 5 and result.days_deleted == 1
    assert not any(p.exists() for p in old) and all(p.exists() for p in today)
    assert not ancient.exists()
    [daily] = sorted(folder.glob("events-*.jsonl.gz"))
    events = [json.loads(line) for line in gzip.decompress(daily.read_bytes()).splitlines()]
    assert [e["run"]["runId"] for e in events] == [f"r{n}" for n in range(5)]
    assert events[0]["note"] == "a\\nb"
    # Idempotent, and late events of a folded day are appended, not lost.
    _event(folder, 9, 2.2)
    compact_events(settings)
    events = [json.loads(line) for line in gzip.decompress(daily.read_bytes()).splitlines()]
    assert len(events) == 6


def test_clean_keep_data_frees_space_and_keeps_the_warehouse(settings, db):
    from observatorio.cli.app import app

    logs = settings.home / "dbt" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "dbt.log").write_bytes(b"x" * 200_000)
    cache = settings.home / "simulator" / "tiny-seed1-3d"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "summary.json").write_text("{}", encoding="utf-8")

    refused = CliRunner().invoke(app, ["clean"])
    assert refused.exit_code == 1 and logs.exists()

    done = CliRunner().invoke(app, ["clean", "--keep-data"])
    assert done.exit_code == 0, done.output
    assert "freed" in done.stdout
    assert not logs.exists() and not cache.exists()
    # The warehouse is untouched and answers.
    assert db.execute("select count(*) from ops.batch_ledger").fetchone()[0] >= 0
