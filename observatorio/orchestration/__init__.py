"""Orchestration: what Airflow needs from Observatorio. DAG defaults and Assets, the Airflow
environment, the Cosmos task group and its watchers, alerts, the in-process runner behind
`make run`, and `compat` (every workaround for an Airflow or Cosmos version, in one place).

May import `core`, `transform`, `lineage`, `linkage`, `delivery`, `ingestion` and
`expectations`; never `cli` or the simulator.
"""
