"""The health system's REST API, served from the records the simulator wrote.

``serve(out_dir)`` starts a stdlib HTTP server in a background thread on 127.0.0.1. Routes:

- ``GET /api/v1/forensic-deaths`` and ``GET /api/v1/hospital-admissions``: paginated with
  ``?page=N`` (from 1) and ``?page_size=M`` (1-1000, default 100); optional
  ``?updated_since=YYYY-MM-DD[THH:MM:SS]`` keeps records whose ``actualizado_en`` is at or
  after it. Body: ``{"data": [...], "page", "page_size", "total", "total_pages", "next_page"}``.
- ``GET /api/v1/status``: ``{"status": "ok"}``, no token needed.

Every data request needs ``Authorization: Bearer <token>`` (401 otherwise). An authorised
request fails with probability ``failure_rate``: half of the failures are 429 with a
``Retry-After`` header, half are 503. Failures come from ``random.Random(seed)``, so the same
sequence of requests sees the same failures.
"""

from __future__ import annotations

import json
import math
import random
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DEFAULT_TOKEN = "simulador-salud-token"  # a fake local service; not a secret
DEFAULT_FAILURE_RATE = 0.1
MAX_PAGE_SIZE = 1000
_RESOURCES = {
    "/api/v1/forensic-deaths": "forensic_deaths.json",
    "/api/v1/hospital-admissions": "hospital_admissions.json",
}


@dataclass
class HealthApiServer:
    """A running API; ``stop()`` shuts it down."""

    url: str
    _server: ThreadingHTTPServer
    _thread: threading.Thread
    requests: int = field(default=0)

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HealthApiServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _State:
    def __init__(
        self,
        records: dict[str, list[dict[str, Any]]],
        token: str,
        failure_rate: float,
        seed: int,
        retry_after: int,
    ) -> None:
        self.records = records
        self.token = token
        self.failure_rate = failure_rate
        self.retry_after = retry_after
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw_failure(self) -> int | None:
        """429, 503 or None for the next authorised request."""
        with self._lock:
            x = self._rng.random()
        if x >= self.failure_rate:
            return None
        return 429 if x < self.failure_rate / 2 else 503


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test and pipeline logs clean

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/api/v1/status":
                self._send(200, {"status": "ok"})
                return
            if parts.path not in state.records:
                self._send(404, {"error": "not_found", "path": parts.path})
                return
            if self.headers.get("Authorization", "") != f"Bearer {state.token}":
                self._send(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
                return
            failure = state.draw_failure()
            if failure == 429:
                self._send(
                    429, {"error": "too_many_requests"}, {"Retry-After": str(state.retry_after)}
                )
                return
            if failure == 503:
                self._send(503, {"error": "service_unavailable"})
                return
            try:
                body = _page(state.records[parts.path], parse_qs(parts.query))
            except ValueError as exc:
                self._send(400, {"error": "bad_request", "detail": str(exc)})
                return
            self._send(200, body)

        def _send(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, [str(default)])[0]
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {raw!r}")
    return int(raw)


def _page(records: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    page = _int_param(query, "page", 1, 1, 10**9)
    size = _int_param(query, "page_size", 100, 1, MAX_PAGE_SIZE)
    since = query.get("updated_since", [""])[0]
    if since:
        records = [r for r in records if r["actualizado_en"] >= since]
    total_pages = max(1, math.ceil(len(records) / size))
    return {
        "data": records[(page - 1) * size : page * size],
        "page": page,
        "page_size": size,
        "total": len(records),
        "total_pages": total_pages,
        "next_page": page + 1 if page < total_pages else None,
    }


def _health_folder(out_dir: Path) -> Path:
    nested = out_dir / "exports" / "health"
    return nested if nested.is_dir() else out_dir


def serve(
    out_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str = DEFAULT_TOKEN,
    failure_rate: float = DEFAULT_FAILURE_RATE,
    seed: int = 0,
    retry_after: int = 1,
) -> HealthApiServer:
    """Serve the health records under ``out_dir`` (or ``out_dir/exports/health``)."""
    folder = _health_folder(Path(out_dir))
    records: dict[str, list[dict[str, Any]]] = {}
    for route, file_name in _RESOURCES.items():
        with (folder / file_name).open(encoding="utf-8") as handle:
            records[route] = json.load(handle)
    state = _State(records, token, failure_rate, seed, retry_after)
    server = ThreadingHTTPServer((host, port), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="health-api", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return HealthApiServer(f"http://{bound_host!s}:{bound_port}", server, thread)
