"""The ingest DAGs' task bodies: claim, stage, gate, publish, each a plain-dict step.

Each step takes and returns JSON-able dicts (batch ids, counts, file paths; never a person's
data), so Airflow can pass them through XCom and map them over claimed files. A rejected
batch moves its file to `rejected/` and raises BatchRejected, which fails the task visibly.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from ingestion.landing import claim_files
from ingestion.loader import (
    BatchRejected,
    BatchResult,
    StagedBatch,
    gate_staged,
    move_file,
    publish_batch,
    stage_file,
)
from observatorio.settings import get_settings

__all__ = ["claim", "gate", "publish", "stage"]


def claim(source: str) -> list[str]:
    return claim_files(source, get_settings())


def _finish(result: BatchResult, path: str) -> dict[str, Any]:
    if Path(path).exists():
        move_file(Path(path), result.status, result.source)
    if result.status == "rejected":
        raise BatchRejected(result)
    return {"result": asdict(result)}


def stage(source: str, path: str) -> dict[str, Any]:
    outcome = stage_file(source, Path(path), get_settings())
    if isinstance(outcome, BatchResult):
        return _finish(outcome, path)
    return {"staged": outcome.to_dict()}


def gate(step: dict[str, Any]) -> dict[str, Any]:
    if "staged" not in step:
        return step
    staged = StagedBatch.from_dict(step["staged"])
    verdict = gate_staged(staged, get_settings())
    if isinstance(verdict, BatchResult):
        return _finish(verdict, staged.file)
    return {"staged": step["staged"], "warnings": verdict}


def publish(step: dict[str, Any]) -> dict[str, Any]:
    if "staged" not in step:
        return step
    staged = StagedBatch.from_dict(step["staged"])
    result = publish_batch(staged, step.get("warnings", []), get_settings())
    return _finish(result, staged.file)
