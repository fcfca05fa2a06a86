"""`ingest_justice` run for real with dag.test() against a PostgreSQL justice database."""

from __future__ import annotations

import pytest

from simulator.justice import load_database, snapshot

pytestmark = pytest.mark.slow
TABLES = ("cases", "parties", "hearings", "judgements")


def _run() -> str:
    from airflow.dag_processing.dagbag import DagBag

    from observatorio.core.settings import get_settings

    bag = DagBag(dag_folder=str(get_settings().dags_dir / "ingest_justice.py"))
    assert bag.import_errors == {}
    return str(bag.dags["ingest_justice"].test().state)


def test_dag_pulls_every_table_and_records_the_queries(
    pg_source_db, justice_sim, justice_state, airflow_db, monkeypatch
):
    load_database(justice_sim, pg_source_db)
    # The Airflow connection `justice_db`, in its environment form.
    monkeypatch.setenv("AIRFLOW_CONN_JUSTICE_DB", pg_source_db.replace("+psycopg", ""))
    assert _run() == "success"
    db = justice_state
    for table in TABLES:
        raw = db.execute(f"select count(*) from raw.justice__{table}").fetchone()[0]
        assert raw == len(snapshot(justice_sim, table, None)), table
    ledger = db.execute(
        "select source, status, source_query from ops.batch_ledger order by source"
    ).fetchall()
    assert [(s, st) for s, st, _ in ledger] == [(f"justice__{t}", "loaded") for t in sorted(TABLES)]
    assert all(q and q.lower().startswith("select") for _, _, q in ledger)
    marks = dict(db.execute("select source, cursor_value from ops.watermarks").fetchall())
    for table in TABLES:
        latest = max(str(r["updated_at"]) for r in snapshot(justice_sim, table, None))
        assert marks[f"justice__{table}"]["updated_at"] == latest.replace(" ", "T")
