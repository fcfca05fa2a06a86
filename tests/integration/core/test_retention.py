"""Retention deletes old source files, leftovers and deliveries, records it, keeps the rest."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from observatorio.core.retention import apply_retention, retention_days
from observatorio.core.settings import SettingsError

DAY = 86_400


def _file(path: Path, age_days: float, text: str = "numero_denuncia;cedula_victima\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o664)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def state(settings, db):  # type: ignore[no-untyped-def]
    db.execute("truncate ops.retention_log")
    home = settings.home
    files = {
        "old_archive": _file(settings.archive_dir / "police__reports" / "denuncias_1.csv", 91),
        "new_archive": _file(settings.archive_dir / "police__reports" / "denuncias_2.csv", 89),
        "old_rejected": _file(settings.rejected_dir / "police__reports" / "denuncias_3.csv", 120),
        "old_claim": _file(settings.landing_dir / ".claimed" / "police__reports" / "d_4.csv", 8),
        "old_part": _file(settings.landing_dir / "health" / "forensic_deaths" / ".x.part", 30),
        "waiting": _file(settings.landing_dir / "police" / "reports" / "denuncias_5.csv", 400),
        "old_outbox": _file(settings.outbox_dir / "ministerio" / "2024-01" / "a.csv", 31),
        "new_outbox": _file(settings.outbox_dir / "ministerio" / "2024-02" / "b.csv", 1),
    }
    yield home, files
    for path in files.values():
        path.unlink(missing_ok=True)


def test_old_files_are_deleted_and_recorded_and_the_rest_kept(state, db, settings):
    _home, files = state
    report = apply_retention(settings)
    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"old_archive", "old_rejected", "old_claim", "old_part", "old_outbox"}
    # A file still waiting in an inbox is unread data, never deleted for its age.
    assert files["waiting"].exists()
    assert report.deleted == {"archive": 1, "rejected": 1, "landing": 2, "outbox": 1}
    logged = db.execute(
        "select area, file_path, retained_days from ops.retention_log order by file_path"
    ).fetchall()
    assert len(logged) == 5
    assert ("archive", "archive/police__reports/denuncias_1.csv", 90) in logged
    # Emptied folders go too; every file left is private.
    assert not (settings.outbox_dir / "ministerio" / "2024-01").exists()
    for name in ("new_archive", "new_outbox", "waiting"):
        assert stat.S_IMODE(files[name].stat().st_mode) == 0o600
        assert stat.S_IMODE(files[name].parent.stat().st_mode) == 0o700
    # Idempotent: a second pass deletes nothing more.
    assert apply_retention(settings).deleted == {}


def test_ages_are_configurable_and_checked(monkeypatch, state, settings):
    _home, files = state
    monkeypatch.setenv("OBSERVATORIO_RETAIN_ARCHIVE_DAYS", "30")
    assert retention_days("archive") == 30
    apply_retention(settings)
    assert not files["new_archive"].exists()
    monkeypatch.setenv("OBSERVATORIO_RETAIN_OUTBOX_DAYS", "soon")
    with pytest.raises(SettingsError, match="OBSERVATORIO_RETAIN_OUTBOX_DAYS"):
        apply_retention(settings)
