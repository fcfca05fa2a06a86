"""Defaults and Assets shared by the DAG files: only airflow.sdk, cheap to import at parse time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Asset

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)

DEFAULT_ARGS = {
    "owner": "observatorio-data-engineering",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}


def raw_asset(source: str) -> Asset:
    """The Asset a source's ingest DAG emits when it publishes a batch to `raw`."""
    return Asset(name=f"raw.{source}", uri=f"observatorio://warehouse/raw/{source}")


MARTS = Asset(name="marts", uri="observatorio://warehouse/marts")
