"""The health REST API: bearer auth, pagination and injected 429/503 failures."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from simulator.health_api import serve

TOKEN = "test-token"


def get(url: str, token: str | None = TOKEN) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


@pytest.fixture
def api(tiny_run):
    server = serve(tiny_run.out, token=TOKEN, failure_rate=0.0)
    yield server
    server.stop()


def test_requires_bearer_token(api):
    assert get(f"{api.url}/api/v1/forensic-deaths", token=None)[0] == 401
    assert get(f"{api.url}/api/v1/forensic-deaths", token="wrong")[0] == 401
    assert get(f"{api.url}/api/v1/status", token=None)[0] == 200
    assert get(f"{api.url}/api/v1/nothing")[0] == 404
    assert get(f"{api.url}/api/v1/forensic-deaths?page_size=0")[0] == 400


def test_pages_cover_every_record_once(api, tiny_run):
    for route, name in (
        ("forensic-deaths", "forensic_deaths"),
        ("hospital-admissions", "hospital_admissions"),
    ):
        records, page = [], 1
        while page is not None:
            status, _, body = get(f"{api.url}/api/v1/{route}?page={page}&page_size=7")
            assert status == 200
            records += body["data"]
            page = body["next_page"]
        assert records == tiny_run.health(name)
        assert body["total"] == len(records)


def test_failures_are_injected_deterministically(tiny_run):
    def statuses() -> list[tuple[int, str | None]]:
        server = serve(tiny_run.out, token=TOKEN, failure_rate=0.5, seed=9, retry_after=0)
        try:
            out = []
            for _ in range(40):
                status, headers, _ = get(f"{server.url}/api/v1/forensic-deaths?page_size=1")
                out.append((status, headers.get("Retry-After")))
            return out
        finally:
            server.stop()

    first = statuses()
    assert first == statuses()
    codes = [s for s, _ in first]
    assert {200, 429, 503} <= set(codes)
    assert all(retry == "0" for s, retry in first if s == 429)


def test_updated_since_filters(api, tiny_run):
    records = tiny_run.health("forensic_deaths")
    cut = sorted(r["actualizado_en"] for r in records)[len(records) // 2]
    started = time.perf_counter()
    _, _, body = get(f"{api.url}/api/v1/forensic-deaths?page_size=1000&updated_since={cut}")
    assert time.perf_counter() - started < 5
    assert body["data"] == [r for r in records if r["actualizado_en"] >= cut]
