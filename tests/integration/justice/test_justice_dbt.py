"""Two incremental pulls through the loader and dbt: marts equal the simulator's justice tables."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from ingestion.connectors.sql import extract
from ingestion.loader import BatchResult, publish_batch, stage_file
from observatorio.orchestration.ingest import gate_batches
from observatorio.transform.dbt import run_dbt
from simulator.justice import load_database, snapshot

TABLES = ("cases", "parties", "hearings", "judgements")
MID = date(2024, 6, 30)
SELECT = "+marts.justice +intermediate.justice snap_justice__cases snap_justice__judgements"
DECISIONS = {
    "desestimada": "dismissed",
    "salida_alternativa": "alternative_resolution",
    "acusacion": "indictment",
    None: "pending",
}


def _pull_and_load(url: str, settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Pull every table, then stage, gate (one GX run for all) and publish the files."""
    landed, staged = {}, []
    for table in TABLES:
        pulled = extract(f"justice__{table}", url, settings=settings)
        landed[table] = pulled.rows
        if pulled.status == "nothing_new":  # no judgement yet at mid-year
            continue
        batch = stage_file(f"justice__{table}", Path(pulled.file), settings)  # type: ignore[arg-type]
        assert not isinstance(batch, BatchResult), batch.message
        staged.append(batch)
    for batch, verdict in zip(staged, gate_batches(staged, settings), strict=True):
        assert not isinstance(verdict, BatchResult), verdict.message
        assert publish_batch(batch, verdict, settings).status == "loaded"
    return landed


def _build(settings) -> None:  # type: ignore[no-untyped-def]
    # Cautious: tests of the shared seeds that also touch other domains' marts stay out.
    run_dbt(["build", "--select", SELECT, "--indirect-selection", "cautious"], settings)


def test_marts_equal_the_simulators_tables_and_snapshots_answer_as_of(
    pg_source_db, justice_sim, justice_state, settings
):
    db = justice_state
    load_database(justice_sim, pg_source_db, as_of=MID)
    first = _pull_and_load(pg_source_db, settings)
    assert first["judgements"] == 0  # raw.justice__judgements does not exist yet
    _build(settings)
    load_database(justice_sim, pg_source_db)
    second = _pull_and_load(pg_source_db, settings)
    _build(settings)

    final = {t: snapshot(justice_sim, t, None) for t in TABLES}
    # Raw holds every pull, overlap re-reads included; the marts one row per entity.
    raw_cases = db.execute("select count(*) from raw.justice__cases").fetchone()[0]
    assert raw_cases == first["cases"] + second["cases"] > len(final["cases"])
    counts = {
        "cases": "marts.fct_prosecution_cases",
        "judgements": "marts.fct_court_judgements",
        "parties": "intermediate.int_justice_parties_deduplicated",
        "hearings": "intermediate.int_justice_hearings_deduplicated",
    }
    for table, relation in counts.items():
        got = db.execute(f"select count(*) from {relation}").fetchone()[0]
        assert got == len(final[table]) > 0, relation

    facts = {
        r[0]: r[1:]
        for r in db.execute(
            "select case_id, police_report_number, prosecutor_decision, case_status,"
            " opened_date, municipality_code from marts.fct_prosecution_cases"
        ).fetchall()
    }
    for case in final["cases"]:
        report, decision, status, opened, municipality = facts[str(case["case_id"])]
        assert report == case["report_number"]
        assert decision == DECISIONS[case["decision"]]  # type: ignore[index]
        assert (status, opened, municipality) == (
            case["status"],
            case["opened_date"],
            case["municipality_code"],
        )
    verdicts = Counter(
        r[0] for r in db.execute("select verdict from marts.fct_court_judgements").fetchall()
    )
    expected = Counter(
        "conviction" if j["verdict"] == "condena" else "acquittal" for j in final["judgements"]
    )
    assert verdicts == expected

    # SCD2: the status of each case as known at the end of MID, from the snapshot.
    as_of = dict(
        db.execute(
            "select case_id, case_status from snapshots.snap_justice__cases"
            " where dbt_valid_from < %s and (dbt_valid_to is null or dbt_valid_to >= %s)",
            (date(2024, 7, 1), date(2024, 7, 1)),
        ).fetchall()
    )
    assert as_of == {c["case_id"]: c["status"] for c in snapshot(justice_sim, "cases", MID)}
    versions = db.execute("select count(*) from snapshots.snap_justice__cases").fetchone()[0]
    assert versions > len(final["cases"])
