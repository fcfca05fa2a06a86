"""
### Generated ingest DAGs: one per contract that no hand-written DAG ingests

For every active contract (`ingestion/contracts/*.yaml`) that no `dags/ingest_*.py` names,
this file makes the file-drop DAG `ingest_<source>__<entity>`: claim → stage → gate →
publish → report, on the contract's `schedule:` (default daily). Each DAG's own `doc_md`
says what it runs and what to do when it fails (`observatorio.transform.contract_dags`).
In the demo every contract has a hand-written DAG, so this file makes none.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import dag

from observatorio.orchestration.defaults import DEFAULT_ARGS, START_DATE, ingest_landed_files
from observatorio.transform.contract_dags import ContractDag, contracts_without_dag, doc_md

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "ingestion" / "contracts"


def generated_dag(spec: ContractDag) -> object:
    @dag(
        dag_id=spec.dag_id,
        schedule=spec.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=[spec.source, "ingestion", "file-drop", "generated"],
        doc_md=doc_md(spec),
    )
    def ingest() -> None:
        ingest_landed_files(spec.name)

    return ingest()


for _spec in contracts_without_dag(CONTRACTS_DIR, Path(__file__).resolve().parent):
    globals()[_spec.dag_id] = generated_dag(_spec)
