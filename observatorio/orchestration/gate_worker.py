"""The gate in a second process, ready before a large file is staged.

Importing Great Expectations costs about 3.5 s of one core (scipy, altair, pandas and GX's
own thousands of classes), and `ingest_file` used to pay it after staging, on the critical
path. For a large file, `ingest_file` now starts this worker first: it imports the gate while
the parent stages on the other core, then gates the staged batch when asked. The batch is
the same and so is every row the gate writes; only the wall time changes (one million rows:
see the README's ingestion figures).

The worker is used only where it can pay (`GATE_WORKER_FROM_BYTES`) and where the gate is not
already imported (a process ingesting many files pays the import once, in-process). If the
worker dies before it is ready, the parent gates in-process; if it dies while gating, the
parent raises `GateWorkerError` and the batch stays staged, as after a failed gate task.

Protocol, over the worker's stdin and stdout (pickles; stdout is reserved for them, anything
the libraries print goes to stderr): the worker writes `READY` once the gate is imported,
reads one request `(staged batch dicts, settings)`, and writes `("verdicts", [...])` or
`("error", exception)`.
"""

from __future__ import annotations

import importlib
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from ingestion.loader import BatchResult
from ingestion.staged import StagedBatch
from observatorio.core.settings import Settings

__all__ = ["GATE_WORKER_FROM_BYTES", "GateWorker", "GateWorkerError", "gate_worker_for"]

log = logging.getLogger(__name__)

# From this size a file's staging takes about as long as importing the gate (a police export
# stages at about 20 MB a second on 2 cores; one million rows are 167 MB), so the import is
# hidden behind it. Below, the second interpreter would cost more than it hides.
GATE_WORKER_FROM_BYTES = 64 * 1024 * 1024
READY = b"R"
NICENESS = 10
# The modules the worker imports (its arguments) before it says READY: the gate, its suites
# (Great Expectations itself) and the client of its OpenLineage events, all imported lazily.
WARM_MODULES = (
    "expectations.gate",
    "expectations.generated",
    "expectations.geography",
    "observatorio.lineage.openlineage",
    "openlineage.client.client",
    "openlineage.client.event_v2",
)


class GateWorkerError(RuntimeError):
    """The gate's worker process ended without a verdict."""


def gate_worker_for(path: Path) -> GateWorker | None:
    """A worker for `path` when it pays: a large file, in a process without the gate yet."""
    if "great_expectations" in sys.modules:
        return None
    try:
        if path.stat().st_size < GATE_WORKER_FROM_BYTES:
            return None
    except OSError:
        return None  # staging names the missing file
    try:
        return GateWorker()
    except OSError as exc:
        log.warning("the gate's worker did not start (%s); gating in this process", exc)
        return None


class GateWorker:
    """One worker process for one request (`submit`, then `verdicts`: `gate_batches`, run by
    the worker); `close` ends it whatever happened."""

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        path = os.environ.get("PYTHONPATH")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, path] if path else [root])}
        level = str(logging.getLogger().getEffectiveLevel())
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, level, *WARM_MODULES],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def ready(self) -> bool:
        """Wait for the worker's import; False (and a warning) when it ended first."""
        assert self._process.stdout is not None
        if self._process.stdout.read(len(READY)) == READY:
            return True
        log.warning(
            "the gate's worker ended before it was ready (exit code %s); gating in this process",
            self._process.wait(),
        )
        return False

    def submit(self, staged: list[StagedBatch], settings: Settings) -> None:
        """Hand the worker its batches; `verdicts` waits for what it made of them."""
        assert self._process.stdin is not None
        try:
            pickle.dump(([b.to_dict() for b in staged], settings), self._process.stdin)
            self._process.stdin.close()
        except BrokenPipeError:
            pass  # the worker ended: `verdicts` says how

    def verdicts(self) -> list[BatchResult | list[str]]:
        """The verdict of each batch submitted, as `gate_batches` gives them."""
        assert self._process.stdout is not None
        try:
            kind, value = pickle.load(self._process.stdout)
        except (EOFError, pickle.UnpicklingError) as exc:
            code = self._process.wait()
            raise GateWorkerError(
                f"the gate's worker process ended without a verdict (exit code {code});"
                " the batch stays staged"
            ) from exc
        if kind == "error":
            raise value
        return list(value)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> GateWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _reply(out: IO[bytes], kind: str, value: Any) -> None:
    try:
        payload = pickle.dumps((kind, value))
    except Exception:  # an exception that does not pickle: its type and message still do
        payload = pickle.dumps(("error", RuntimeError(f"{type(value).__name__}: {value}")))
    out.write(payload)
    out.flush()


def serve(level: int, modules: list[str]) -> int:
    """The worker's body: import the gate (`modules`), say READY, gate one request, reply."""
    # stdout carries the pickles alone: whatever a library prints goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # The parent's threshold: its records at that level or above, as it would show them.
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setLevel(level)
    # Staging is the critical path: the import yields the cores to it (and, once the batch
    # is staged, the parent waits and nothing else competes).
    os.nice(NICENESS)
    try:
        for module in modules:
            importlib.import_module(module)
    except Exception as exc:  # the parent then gates in-process, and says why
        log.warning("the gate's worker could not import the gate: %s: %s", type(exc).__name__, exc)
        return 1
    from observatorio.orchestration.gating import gate_batches

    out.write(READY)
    out.flush()
    try:
        dicts, settings = pickle.load(sys.stdin.buffer)
    except EOFError:
        return 0  # the parent needed no gate (the file was skipped or rejected in staging)
    try:
        verdicts = gate_batches([StagedBatch.from_dict(d) for d in dicts], settings)
    except Exception as exc:
        log.debug("the gate failed", exc_info=True)
        _reply(out, "error", exc)
        return 0
    _reply(out, "verdicts", verdicts)
    return 0


if __name__ == "__main__":
    raise SystemExit(serve(int(sys.argv[1]), sys.argv[2:]))
