"""Fixtures for the file-drop sources beyond police reports: detentions, complaints, use of
force, the victimisation survey and the citizen consultations.

The simulated countries are generated once per session. `SourceKit` lands one contract's
exports, resets one source's state (raw table, ledger, folders; the incremental models are
dropped, and rebuilt from every source's raw rows), rewrites an export with a specific
defect, runs a DAG with `dag.test()` and builds selected dbt models.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator.demo import Demo, simulate

# Police operational events are rare: at the tiny scale a month holds no complaint at all,
# and every daily file is a batch the gate validates. A week of the medium country gives
# all three entities in few files: ~1,700 detentions, ~110 use-of-force incidents and a few
# complaints in ~22 files (4 s to generate). Its survey (12,000 respondents) has victims of
# every type; the tiny country's 300 respondents report no victimisation at all.
WEEK_DEMO = Demo(seed=23, scale="medium", days=7)
# Consultations depend on the length of the period, not the scale: a tiny year holds ~15.
YEAR_DEMO = Demo(seed=23, scale="tiny", days=365)


@dataclass(frozen=True)
class CsvLayout:
    encoding: str
    delimiter: str
    lineterminator: str


POLICE_CSV = CsvLayout("cp1252", ";", "\r\n")
SURVEY_CSV = CsvLayout("utf-8", ",", "\n")


@dataclass
class SourceKit:
    settings: Any
    warehouse_url: str

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.warehouse_url, autocommit=True) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.query(sql, params)[0][0]

    def exports(self, source: str, simulation: Path) -> list[Path]:
        from ingestion.contract import load_contract

        pattern = load_contract(source).export_path
        assert pattern, f"{source} has no export_path"
        return sorted((simulation / "exports").glob(pattern))

    def land(self, source: str, simulation: Path) -> list[Path]:
        """Drop one contract's simulated exports into its inbox, as `make run` does."""
        from ingestion.landing import inbox

        target = inbox(source, self.settings)
        target.mkdir(parents=True, exist_ok=True)
        files = self.exports(source, simulation)
        for path in files:
            shutil.copy2(path, target / path.name)
        return files

    def reset(self, *sources: str) -> None:
        """Forget everything about these sources: raw table, ledger, results, folders, and
        what the incremental models built from them (every source's: the next build remakes
        the others' from their raw rows)."""
        import psycopg

        from ingestion.landing import claimed_dir, inbox
        from tests.conftest import forget_built_records

        for source in sources:
            self.query(f"drop table if exists raw.{source} cascade")
            for table in ("ops.quarantine", "ops.batch_ledger", "ops.file_receipts"):
                self.query(f"delete from {table} where source = %s", (source,))
            self.query("delete from ops.validation_results where suite_name = %s", (source,))
            for folder in (
                inbox(source, self.settings),
                claimed_dir(source, self.settings),
                self.settings.archive_dir / source,
                self.settings.rejected_dir / source,
            ):
                shutil.rmtree(folder, ignore_errors=True)
        staged = self.query(
            "select tablename from pg_tables where schemaname = 'ingest'"
            " and split_part(tablename, '__', 1) || '__' || split_part(tablename, '__', 2)"
            " = any(%s)",
            (list(sources),),
        )
        for (table,) in staged:
            self.query(f'drop table if exists ingest."{table}"')
        with psycopg.connect(self.warehouse_url, autocommit=True) as conn:
            forget_built_records(conn)

    def ledger(self, source: str) -> dict[str, int]:
        """Batches by status and row totals of one source."""
        rows = self.query(
            "select status, count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),"
            " coalesce(sum(rows_quarantined), 0) from ops.batch_ledger where source = %s"
            " group by status",
            (source,),
        )
        totals = {"read": 0, "loaded": 0, "quarantined": 0}
        for status, batches, read, loaded, quarantined in rows:
            totals[f"batches_{status}"] = int(batches)
            totals["read"] += int(read)
            totals["loaded"] += int(loaded)
            totals["quarantined"] += int(quarantined)
        return totals

    def read_csv(self, path: Path, layout: CsvLayout) -> tuple[list[str], list[list[str]]]:
        with path.open(encoding=layout.encoding, newline="") as handle:
            rows = list(csv.reader(handle, delimiter=layout.delimiter))
        return rows[0], rows[1:]

    def write_csv(
        self, path: Path, header: list[str], rows: Iterable[list[str]], layout: CsvLayout
    ) -> Path:
        buffer = io.StringIO()
        writer = csv.writer(
            buffer, delimiter=layout.delimiter, lineterminator=layout.lineterminator
        )
        writer.writerow(header)
        writer.writerows(rows)
        path.write_text(buffer.getvalue(), encoding=layout.encoding, newline="")
        return path

    def rewrite_csv(
        self,
        source: Path,
        target: Path,
        layout: CsvLayout,
        mutate: Callable[[list[dict[str, str]]], list[dict[str, str]]],
    ) -> Path:
        """A copy of a simulated export with `mutate` applied to its rows (as dicts)."""
        header, rows = self.read_csv(source, layout)
        changed = mutate([dict(zip(header, row, strict=True)) for row in rows])
        return self.write_csv(target, header, ([r[h] for h in header] for r in changed), layout)

    def run_dag(self, dag_id: str) -> Any:
        """Run one DAG for real with `dag.test()` and return its DagRun."""
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(self.settings.dags_dir / f"{dag_id}.py"))
        assert not bag.import_errors, bag.import_errors
        return bag.dags[dag_id].test()

    def dbt_build(self, *models: str) -> Any:
        """`dbt build` of the models and everything upstream of them (seeds, staging).

        Tests are selected cautiously: only those whose every parent is selected, so tests
        of other sources' models on a shared seed are not run against tables this session
        never built.
        """
        from observatorio.transform.dbt import run_dbt

        select = " ".join(f"+{model}" for model in models)
        return run_dbt(
            ["build", "--select", select, "--indirect-selection", "cautious"], self.settings
        )

    def truth_indicator_by_month(self, simulation: Path, indicator: str) -> dict[str, int]:
        totals: dict[str, int] = {}
        with (simulation / "truth" / "indicators.csv").open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["indicator_code"] == indicator and int(row["value"]):
                    totals[row["month"]] = totals.get(row["month"], 0) + int(row["value"])
        return totals


@pytest.fixture(scope="session")
def kit(settings, warehouse_url) -> SourceKit:  # type: ignore[no-untyped-def]
    return SourceKit(settings, warehouse_url)


@pytest.fixture(scope="session")
def week_simulation(settings) -> Path:  # type: ignore[no-untyped-def]
    return simulate(settings, WEEK_DEMO)


@pytest.fixture(scope="session")
def year_simulation(settings) -> Path:  # type: ignore[no-untyped-def]
    return simulate(settings, YEAR_DEMO)


@pytest.fixture(scope="session")
def police_layout() -> CsvLayout:
    return POLICE_CSV


@pytest.fixture(scope="session")
def survey_layout() -> CsvLayout:
    return SURVEY_CSV
