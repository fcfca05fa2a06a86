"""Every DAG file imports cleanly, quickly, and carries what an on-call engineer needs."""

import time
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
EXPECTED = {"ingest_police_reports", "build_warehouse", "deliver_extracts"}


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    loaded = DagBag(dag_folder=str(DAGS_DIR))
    loaded.parse_seconds = time.perf_counter() - started
    return loaded


def test_no_import_errors_and_every_dag_present(bag):
    assert bag.import_errors == {}
    assert set(bag.dags) >= EXPECTED


def test_dag_id_matches_file_name(bag):
    for dag_id, dag in bag.dags.items():
        assert Path(dag.fileloc).stem == dag_id


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_has_docs_tags_owner_and_retries(bag, dag_id):
    dag = bag.dags[dag_id]
    assert dag.doc_md and "When it fails" in dag.doc_md
    assert dag.tags
    assert dag.max_active_runs == 1
    assert dag.start_date is not None and dag.start_date.tzinfo is not None
    for task in dag.tasks:
        assert task.owner and task.owner != "airflow"
        assert task.retries >= 2
        assert task.retry_exponential_backoff


def test_parsing_the_whole_dagbag_is_fast(bag):
    assert bag.parse_seconds < 2.0, f"DagBag parse took {bag.parse_seconds:.2f} s"
