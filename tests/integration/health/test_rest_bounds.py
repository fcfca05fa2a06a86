"""The REST connector's bounds and transport rules (issue 17): plain HTTP only to a loopback
host when asked for, a looping or endless API fails the pull with nothing left behind, and
fields the contract does not declare never reach the landing folder."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ingestion import watermarks
from ingestion.connectors.rest import (
    ApiCredentials,
    RestApiError,
    RestConfigError,
    RetryPolicy,
    pull,
)
from ingestion.landing import inbox

SOURCE = "health__forensic_deaths"
TOKEN = "bounds-token"


def _record(n: int, **more: Any) -> dict[str, Any]:
    return {
        "id_registro": f"NML-2024-{n:06d}",
        "fecha_defuncion": "2024-01-02",
        "codigo_municipio": "01001",
        "causa_basica_cie10": "X95",
        "actualizado_en": f"2024-01-03T00:00:{n % 60:02d}",
        **more,
    }


@pytest.fixture
def api() -> Iterator[Callable[[Callable[[int], dict[str, Any]]], str]]:
    """Serve pages from a function of the page number on 127.0.0.1; returns the base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(page_body: Callable[[int], dict[str, Any]]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
                body = json.dumps(page_body(page)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _credentials(url: str) -> ApiCredentials:
    return ApiCredentials(url, "the test's API", token=TOKEN, allow_insecure=True)


def _leftovers(settings: Any) -> list[str]:
    folder = inbox(SOURCE, settings)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_plain_http_needs_a_loopback_host_and_an_explicit_allowance() -> None:
    with pytest.raises(RestConfigError, match="https"):
        ApiCredentials("http://api.salud.example", "conn", token=TOKEN, allow_insecure=True)
    with pytest.raises(RestConfigError, match="allow_insecure"):
        ApiCredentials("http://127.0.0.1:8080", "conn", token=TOKEN)
    with pytest.raises(RestConfigError, match="https"):
        ApiCredentials("ftp://127.0.0.1", "conn", token=TOKEN, allow_insecure=True)
    assert ApiCredentials("https://api.salud.example", "conn", token=TOKEN).base_url
    assert ApiCredentials("http://localhost:1", "conn", token=TOKEN, allow_insecure=True)


def test_a_looping_api_fails_after_max_pages_and_leaves_nothing(
    clean_health: Any, settings: Any, api: Any
) -> None:
    # Every page says there is another one.
    url = api(lambda page: {"data": [_record(page)], "next_page": page + 1})
    policy = RetryPolicy(max_attempts=1, max_pages=25)
    with pytest.raises(RestApiError, match="after 25 pages"):
        pull(SOURCE, _credentials(url), policy=policy, page_size=1)
    assert _leftovers(settings) == []
    assert watermarks.read(SOURCE, settings) is None


def test_an_endless_api_fails_at_the_byte_budget_and_leaves_nothing(
    clean_health: Any, settings: Any, api: Any
) -> None:
    big = "x" * 4000
    url = api(lambda page: {"data": [_record(page, municipio=big)], "next_page": page + 1})
    policy = RetryPolicy(max_attempts=1, max_bytes=50_000)
    with pytest.raises(RestApiError, match="more than 50000 bytes"):
        pull(SOURCE, _credentials(url), policy=policy, page_size=1)
    assert _leftovers(settings) == []


def test_fields_outside_the_contract_are_not_landed(
    clean_health: Any, settings: Any, api: Any
) -> None:
    planted = {"direccion": "Calle Falsa 123", "telefono": "+57 300 0000000"}
    url = api(
        lambda page: {
            "data": [_record(n, **planted) for n in range(1, 4)],
            "next_page": None,
            "total": 3,
        }
    )
    result = pull(SOURCE, _credentials(url), policy=RetryPolicy(max_attempts=1))
    assert result.status == "landed" and result.records == 3
    [landed] = [p for p in inbox(SOURCE, settings).iterdir()]
    text = landed.read_text(encoding="utf-8")
    assert "Calle Falsa" not in text and "300 0000000" not in text
    assert {key for line in text.splitlines() for key in json.loads(line)} == {
        "id_registro",
        "fecha_defuncion",
        "codigo_municipio",
        "causa_basica_cie10",
        "actualizado_en",
    }
