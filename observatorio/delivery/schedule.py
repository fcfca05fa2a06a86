"""Delivery on Airflow's clock: which period a `deliver_extracts` run delivers, and whether a
spec is due in it. Nothing here reads the wall clock.

A run's *moment* is the end of its data interval (its `run_after` when it has none, as an
Asset-triggered run in Airflow 3), and the run delivers the last month that closed by then:
a run for the interval 2025-10-01..2025-11-01, or triggered on 2025-11-15, delivers 2025-10.
Clearing the run (same run id, next try) delivers the same month again; so does a run
triggered with that logical date, which is how a past month is delivered from Airflow.

A spec is due in a run unless another run already delivered the same spec and period in the
same window of the spec's schedule (the month of the moment for `@monthly`, its ISO week for
`@weekly`, ...): rebuilding the marts twice in a month sends nothing twice, while a run that
is cleared or retried always delivers again. Each attempt is one row of `ops.deliveries`
(`run_id`, `attempt`, `scheduled_for`); a re-delivery replaces the period's outbox folder as
a whole and is flagged `is_redelivery`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg


@dataclass(frozen=True)
class ScheduledRun:
    """One attempt of a `deliver_extracts` run, as Airflow describes it."""

    run_id: str
    moment: datetime
    attempt: int = 1

    @classmethod
    def from_airflow(
        cls,
        run_id: str,
        data_interval_end: datetime | None,
        run_after: datetime,
        try_number: int | None = None,
    ) -> ScheduledRun:
        moment = data_interval_end or run_after
        if moment.tzinfo is None:
            raise ValueError(f"run {run_id}: {moment} has no time zone")
        return cls(run_id=run_id, moment=moment.astimezone(UTC), attempt=max(1, try_number or 1))

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> ScheduledRun:
        """From a task's Airflow context (`airflow.sdk.get_current_context()`)."""
        dag_run = context["dag_run"]
        return cls.from_airflow(
            run_id=dag_run.run_id,
            data_interval_end=dag_run.data_interval_end,
            run_after=dag_run.run_after,
            try_number=context["ti"].try_number,
        )

    @property
    def period(self) -> str:
        return period_before(self.moment)


def period_before(moment: datetime) -> str:
    """The last month (YYYY-MM) that had closed by `moment`, in UTC."""
    moment = moment.astimezone(UTC)
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def window(schedule: str, moment: datetime) -> tuple[int, ...]:
    """The schedule's window `moment` falls in: a spec is delivered once per window."""
    moment = moment.astimezone(UTC)
    if schedule == "@daily":
        return (moment.year, moment.month, moment.day)
    if schedule == "@weekly":
        iso = moment.isocalendar()
        return (iso.year, iso.week)
    if schedule == "@monthly":
        return (moment.year, moment.month)
    if schedule == "@quarterly":
        return (moment.year, (moment.month - 1) // 3)
    return (moment.year,)


def is_due(conn: psycopg.Connection, spec_name: str, schedule: str, run: ScheduledRun) -> bool:
    """True unless another run delivered this spec and period in the run's schedule window.

    A run that has already tried this spec and period (a retry, or a cleared run) is due:
    clearing a run is how an operator asks for its period again.
    """
    tried = conn.execute(
        "select 1 from ops.deliveries where spec_name = %s and period = %s and run_id = %s limit 1",
        (spec_name, run.period, run.run_id),
    ).fetchone()
    if tried is not None:
        return True
    others = conn.execute(
        "select scheduled_for from ops.deliveries where spec_name = %s and period = %s"
        " and success and run_id is not null and scheduled_for is not null",
        (spec_name, run.period),
    ).fetchall()
    current = window(schedule, run.moment)
    return all(window(schedule, row[0]) != current for row in others)
