"""Ingestion: source contracts, parsing, pseudonymisation, loading, ledger and quarantine.

Every source batch enters the warehouse through `ingestion.loader.ingest_file` (file drops)
or the connectors that feed it; DAG tasks and the `observatorio ingest` command call it.
"""
