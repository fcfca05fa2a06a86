"""Delivery: what leaves the warehouse. Extract specs, writers (CSV, XLSX, Parquet),
statistical disclosure control, channels (outbox, SFTP, email), the delivery audit, and the
monthly bulletin.

Imports `core`, `transform` and `lineage`; never Airflow at module level, never `cli`.
"""
