"""Pseudonym key rotation (issue 17): every stored pseudonym re-keyed in one transaction, the
new chain's fingerprint recorded, and a person ingested before and after the rotation still
one person, through the real loader, dbt and the `observatorio keys rotate` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingestion import raw_tables
from ingestion.key_rotation import find_pseudonym_columns
from observatorio.core.settings import SettingsError, get_settings
from observatorio.orchestration.ingest import ingest_file
from observatorio.transform.dbt import run_dbt
from tests.police_files import national_id, report_row, write_reports

SOURCE = "police__reports"
NEW_KEY = "rotated-key-for-the-test-0123456789abcdef"
PERSON_ID = national_id(100000001)
BUILD = ["build", "--select", "+dim_person_pseudonym", "--indirect-selection", "cautious"]


def _pseudonyms(db: Any, report: str) -> tuple[str, list[str], str]:
    return db.execute(
        "select victim_national_id_pseudonym, victim_name_tokens, victim_name_pseudonym"
        " from raw.police__reports where report_id = %s",
        (report,),
    ).fetchone()


def _rotate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("observatorio")),
            "keys",
            "rotate",
            "--new-key-env",
            "NEW_KEY",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_person_keeps_one_pseudonym_across_a_rotation(
    clean_warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
):
    db = clean_warehouse
    settings = get_settings()
    # The session's other tests ingest with the session's key: once done, forget this test's
    # rotation (its rows go with the next clean-up), so the next batch records that key again.
    request.addfinalizer(lambda: db.execute("truncate ops.key_fingerprint, ops.key_rotations"))
    # Tables other tests built from raw rows that clean_warehouse dropped hold pseudonyms no
    # raw table holds any more, which rotation (rightly) refuses to guess a purpose for: this
    # warehouse starts with no dbt table, as a real one's raw rows are never dropped.
    for (table,) in db.execute(
        "select format('%I.%I', schemaname, tablename) from pg_tables"
        " where schemaname in ('staging', 'intermediate', 'marts', 'snapshots', 'bi')"
    ).fetchall():
        db.execute(f"drop table if exists {table} cascade")
    # Each batch a partition of its own (a large batch's way): rotation re-keys the raw table
    # once, its partitions with it (re-keyed twice, the later batch's pseudonyms would differ).
    monkeypatch.setattr(raw_tables, "ATTACH_FROM_ROWS", 1)
    before = write_reports(tmp_path / "denuncias_20240105.csv", [report_row(1), report_row(2)])
    assert ingest_file(SOURCE, before, settings).status == "loaded"
    run_dbt(BUILD, settings)
    old_id, old_tokens, old_name = _pseudonyms(db, "DEN-2024-0000001")
    old_fingerprint = db.execute("select fingerprint from ops.key_fingerprint").fetchone()[0]
    # Found generically: the contracts' raw columns and dbt's tables, each with its purpose.
    columns = {c.label: c.purpose for c in find_pseudonym_columns(db)}
    assert columns["raw.police__reports.victim_national_id_pseudonym"] == "national_id"
    assert columns["raw.police__reports.victim_name_tokens"] == "name_token"
    assert columns["marts.dim_person_pseudonym.person_id_pseudonym"] == "national_id"

    # A key that is too short is refused before anything changes.
    env = {**os.environ, "NEW_KEY": "short", "OBSERVATORIO_DEMO": "0"}
    env["OBSERVATORIO_PSEUDONYM_KEY"] = "the-current-key-of-the-test-0123456789"
    refused = _rotate(env)
    assert refused.returncode != 0 and "NEW_KEY" in refused.stderr + refused.stdout
    env = {**os.environ, "NEW_KEY": NEW_KEY}
    done = _rotate(env)
    assert done.returncode == 0, done.stderr
    assert NEW_KEY not in done.stdout + done.stderr

    new_id, new_tokens, new_name = _pseudonyms(db, "DEN-2024-0000001")
    assert new_id != old_id and new_name != old_name and set(new_tokens).isdisjoint(old_tokens)
    assert new_tokens == sorted(new_tokens)
    # The dbt tables were re-keyed in the same transaction: the person is still there.
    dim = db.execute(
        "select count(*) from marts.dim_person_pseudonym where person_id_pseudonym = %s",
        (new_id,),
    ).fetchone()[0]
    assert dim == 1
    recorded, rotations = db.execute(
        "select k.fingerprint, (select count(*) from ops.key_rotations) from ops.key_fingerprint k"
    ).fetchone()
    assert recorded != old_fingerprint and rotations == 1

    # The old key alone no longer ingests; the chain (retired + new) does.
    again = write_reports(
        tmp_path / "denuncias_20240201.csv",
        [report_row(1, numero_denuncia="DEN-2024-0000900", fecha_hecho="01/02/2024")],
    )
    with pytest.raises(SettingsError, match="fingerprint"):
        ingest_file(SOURCE, again, get_settings())
    monkeypatch.setenv("OBSERVATORIO_PSEUDONYM_RETIRED_KEYS", settings.pseudonym_key().decode())
    monkeypatch.setenv("OBSERVATORIO_PSEUDONYM_KEY", NEW_KEY)
    rotated = get_settings()
    assert rotated.key_fingerprint() == recorded
    assert ingest_file(SOURCE, again, rotated).status == "loaded"
    after_id, after_tokens, after_name = _pseudonyms(db, "DEN-2024-0000900")
    assert (after_id, after_tokens, after_name) == (new_id, new_tokens, new_name)

    # Linkage by national-ID pseudonym puts both reports on the one person.
    run_dbt(BUILD, rotated)
    person = db.execute(
        "select crime_report_victim_records from marts.dim_person_pseudonym"
        " where person_id_pseudonym = %s",
        (new_id,),
    ).fetchall()
    assert person == [(2,)]
    assert PERSON_ID not in str(done.stdout)
