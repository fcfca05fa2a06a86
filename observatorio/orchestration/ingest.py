"""Ingestion end to end: stage (ingestion) → gate (expectations) → publish (ingestion).

The ingest DAGs' task bodies (claim, stage, gate, publish and report, over a run's files) and
`ingest_file`, the same path for one file (the CLI and tests). This is where the loader and
the gate meet, so neither imports the other: `ingestion` knows nothing of Great Expectations,
and `expectations` reads the contracts and the staged batches `ingestion` describes.

Each step takes and returns JSON-able dicts (batch ids, counts, file paths; never a
person's data), so Airflow passes them through XCom. A run handles every file it claimed:
good batches are published (and the Asset emitted) even when another file of the same run
is rejected; `report` then fails the run, naming each rejected file and why. When a source
entity has an SFTP drop configured, `claim` pulls from it first and each step settles the
remote copies of the batches it finished (see `ingestion.connectors.sftp`).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ingestion.connectors import sftp
from ingestion.landing import claim_files, new_run_id, release_claim
from ingestion.loader import (
    BatchRejected,
    BatchResult,
    move_file,
    prepare_publish,
    publish_batch,
    stage_file,
)
from ingestion.staged import StagedBatch
from observatorio.core.settings import Settings, get_settings
from observatorio.core.warehouse import ensure_warehouse
from observatorio.orchestration.gate_worker import GateWorker, gate_worker_for
from observatorio.orchestration.gating import gate_batches, gate_staged

__all__ = ["claim", "gate", "gate_batches", "ingest_file", "publish", "report", "stage"]


def claim(source: str, run_id: str | None = None) -> list[str]:
    """This run's files: SFTP drops and landed files, claimed into the run's own folder.

    `run_id` scopes the claims (the DAG passes its dag and run ids, so a retried task takes
    its own claims again); without one, each call is a run of its own.
    """
    settings = get_settings()
    run_id = run_id or new_run_id()
    sftp.pull(source, settings, run_id)
    return claim_files(source, settings, run_id)


def _finish(result: BatchResult, path: str) -> dict[str, Any]:
    if Path(path).exists():
        move_file(Path(path), result.status, result.source)
    release_claim(Path(path).parent)
    return asdict(result)


def stage(source: str, paths: list[str]) -> dict[str, Any]:
    """Parse and stage each claimed file; files that end early (skipped, rejected) finish here."""
    settings = get_settings()
    ensure_warehouse(settings)
    staged: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    in_run: set[str] = set()
    for path in paths:
        outcome = stage_file(source, Path(path), settings, in_run)
        if isinstance(outcome, BatchResult):
            done.append(_finish(outcome, path))
        else:
            staged.append(outcome.to_dict())
    sftp.settle(done, settings)
    return {"staged": staged, "done": done}


def gate(step: dict[str, Any]) -> dict[str, Any]:
    """Run the Great Expectations gate over every staged batch of the run, in one GX run."""
    staged = [StagedBatch.from_dict(s) for s in step["staged"]]
    passed: list[dict[str, Any]] = []
    done = list(step["done"])
    for batch, verdict in zip(staged, gate_batches(staged, get_settings()), strict=True):
        if isinstance(verdict, BatchResult):
            done.append(_finish(verdict, batch.file))
        else:
            passed.append({"staged": batch.to_dict(), "warnings": verdict})
    sftp.settle(done)
    return {"passed": passed, "done": done}


def publish(step: dict[str, Any]) -> dict[str, Any]:
    """Publish every batch that passed the gate, each in its own transaction."""
    settings = get_settings()
    done = list(step["done"])
    for item in step["passed"]:
        batch = StagedBatch.from_dict(item["staged"])
        done.append(_finish(publish_batch(batch, item["warnings"], settings), batch.file))
    sftp.settle(done, settings)
    return {"done": done}


def report(step: dict[str, Any]) -> dict[str, int]:
    """Count the run's outcomes; raise BatchRejected (failing the run) if any batch was rejected."""
    results = [BatchResult(**r) for r in step["done"]]
    counts = {s: sum(r.status == s for r in results) for s in ("loaded", "skipped", "rejected")}
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:
        first = rejected[0]
        first.message = "; ".join(r.message for r in rejected)
        raise BatchRejected(first)
    return counts


def ingest_file(
    source: str, path: Path, settings: Settings | None = None, move: bool = False
) -> BatchResult:
    """Stage, gate and publish (or reject) one file: the whole path, for the CLI and tests.

    A large file is gated by a worker process that imports the gate while this one stages
    (`observatorio.orchestration.gate_worker`): the same verdict, sooner."""
    settings = settings or get_settings()
    ensure_warehouse(settings)
    # A large file: the gate is imported in a second process while this one stages it.
    with contextlib.ExitStack() as stack:
        worker = gate_worker_for(path)
        if worker is not None:
            stack.enter_context(worker)
        staged = stage_file(source, path, settings)
        if isinstance(staged, BatchResult):
            result = staged
        else:
            verdict = (
                _gate_beside_publish(worker, staged, settings)
                if worker is not None and worker.ready()
                else gate_staged(staged, settings)
            )
            result = (
                verdict
                if isinstance(verdict, BatchResult)
                else publish_batch(staged, verdict, settings)
            )
    if move:
        move_file(path, result.status, source, settings)
    return result


def _gate_beside_publish(
    worker: GateWorker, staged: StagedBatch, settings: Settings
) -> BatchResult | list[str]:
    """The worker gates the batch while this process prepares its publish."""
    worker.submit([staged], settings)
    prepare_publish(staged, settings)
    return worker.verdicts()[0]
