"""The REST connector against the simulator's real health API on 127.0.0.1, failures on."""

from __future__ import annotations

import json
import logging
import random
import socket
import time
from pathlib import Path

import pytest

from ingestion import watermarks
from ingestion.connectors.rest import (
    ApiCredentials,
    RestApiUnavailable,
    RestConfigError,
    RestRequestRejected,
    RetryPolicy,
    changed_since_watermark,
    pull,
    resolve_credentials,
)
from ingestion.landing import inbox
from tests.integration.health.conftest import TOKEN

SOURCE = "health__forensic_deaths"
FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01, timeout=5)


def _credentials(url: str, token: str = TOKEN) -> ApiCredentials:
    # The simulator's API is plain HTTP on 127.0.0.1: allowed only when said explicitly.
    return ApiCredentials(url, "the test's credentials", token=token, allow_insecure=True)


def _first_failure_seed(kind: int, rate: float) -> int:
    """A server seed whose first request fails with `kind` (429 or 503), as the API draws."""
    for seed in range(1000):
        x = random.Random(seed).random()
        if x < rate and (429 if x < rate / 2 else 503) == kind:
            return seed
    raise AssertionError("no seed found")


def _landed(settings, source: str = SOURCE) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted(inbox(source, settings).iterdir())


def _ids(files: list[Path]) -> list[str]:
    return [
        json.loads(line)["id_registro"]
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def test_429_and_503_are_retried_and_retry_after_is_honoured(
    clean_health, country, serve_api, settings
):
    server = serve_api(country.out, failure_rate=0.5, seed=3, retry_after=2)
    delays: list[float] = []
    result = pull(SOURCE, _credentials(server.url), policy=FAST, page_size=50, sleep=delays.append)
    records = country.records("forensic_deaths")
    assert result.status == "landed" and result.records == len(records) == 491
    assert result.pages == 10
    assert result.statuses["429"] > 0 and result.statuses["503"] > 0
    assert result.retries == result.statuses["429"] + result.statuses["503"] == len(delays)
    # Every wait after a 429 is the server's Retry-After (2 s) at least; after a 503 it is
    # the (tiny) exponential backoff of the policy.
    assert sum(d >= 2.0 for d in delays) == result.statuses["429"]
    assert all(d <= 0.01 for d in delays if d < 2.0)
    # One file, its records exactly the API's, in a name that encodes the window.
    [landed] = _landed(settings)
    assert landed.name.startswith("health__forensic_deaths_begin_20240305T192300_")
    assert sorted(_ids([landed])) == sorted(r["id_registro"] for r in records)
    assert watermarks.read(SOURCE, settings)["updated_since"] == "2024-03-05T19:23:00"


def test_retry_after_is_waited_for_in_real_time(clean_health, country, serve_api):
    server = serve_api(country.out, failure_rate=0.2, seed=_first_failure_seed(429, 0.2))
    started = time.monotonic()
    result = pull(SOURCE, _credentials(server.url), policy=FAST)
    assert result.statuses["429"] >= 1
    assert time.monotonic() - started >= 1.0  # the API's Retry-After: 1


def test_401_fails_fast_with_a_clear_message_and_the_token_is_never_logged(
    clean_health, country, serve_api, settings, caplog
):
    server = serve_api(country.out, failure_rate=0.0)
    wrong = "wrong-token-5d1c0b9a"
    delays: list[float] = []
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RestRequestRejected) as failure:
        pull(SOURCE, _credentials(server.url, wrong), policy=FAST, sleep=delays.append)
    message = str(failure.value)
    assert failure.value.status == 401
    assert "401 Unauthorized" in message and "/api/v1/forensic-deaths" in message
    assert "the test's credentials" in message and "Not retried" in message
    assert delays == []
    assert _landed(settings) == [] and watermarks.read(SOURCE, settings) is None
    # A successful pull logs neither.
    assert pull(SOURCE, _credentials(server.url), policy=FAST).status == "landed"
    assert wrong not in caplog.text and TOKEN not in caplog.text
    assert "Authorization" not in caplog.text and wrong not in message


def test_404_fails_fast(clean_health, country, serve_api):
    server = serve_api(country.out, failure_rate=0.0)
    with pytest.raises(RestRequestRejected, match=r"404 Not Found.*base URL"):
        pull(SOURCE, _credentials(server.url + "/wrong-prefix"), policy=FAST)


def test_timeouts_and_refused_connections_are_retried_then_fail_clearly(clean_health, settings):
    # A socket that accepts connections and never answers: every read times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        delays: list[float] = []
        policy = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01, timeout=0.2)
        with pytest.raises(RestApiUnavailable, match=r"after 3 attempts.*timed out"):
            pull(SOURCE, _credentials(url), policy=policy, sleep=delays.append)
        assert len(delays) == 2
    with pytest.raises(RestApiUnavailable, match="connection failed"):
        pull(SOURCE, _credentials(url), policy=policy, sleep=delays.append)
    assert _landed(settings) == [] and watermarks.read(SOURCE, settings) is None


def _serve_snapshot(serve_api, out: Path, deaths: list[dict], admissions: list[dict]):  # type: ignore[no-untyped-def]
    folder = out / "exports" / "health"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "forensic_deaths.json").write_text(json.dumps(deaths), encoding="utf-8")
    (folder / "hospital_admissions.json").write_text(json.dumps(admissions), encoding="utf-8")
    return serve_api(out, failure_rate=0.0)


def test_resume_after_interruption_lands_every_record_exactly_once(
    clean_health, country, serve_api, settings, tmp_path, monkeypatch
):
    records = country.records("forensic_deaths")
    admissions = country.records("hospital_admissions")
    cut = sorted(r["actualizado_en"] for r in records)[len(records) // 2]
    early = [r for r in records if r["actualizado_en"] <= cut]
    late_id = next(r["id_registro"] for r in records if r["actualizado_en"] > cut)

    # 1. The API keeps failing mid-pull: nothing is landed and the watermark stays unset.
    flaky = serve_api(country.out, failure_rate=0.9, seed=5)
    with pytest.raises(RestApiUnavailable, match="Nothing was landed"):
        pull(
            SOURCE,
            _credentials(flaky.url),
            policy=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001),
            page_size=100,
        )
    assert list(inbox(SOURCE, settings).iterdir()) == []  # no part-file left behind either
    assert watermarks.read(SOURCE, settings) is None

    # 2. The first half of the history; the worker dies after landing, before the watermark.
    snapshot = _serve_snapshot(serve_api, tmp_path / "day1", early, admissions)

    def crash(*args: object) -> None:
        raise KeyboardInterrupt("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(watermarks, "advance", crash)
        with pytest.raises(KeyboardInterrupt):
            pull(SOURCE, _credentials(snapshot.url), policy=FAST, page_size=100)
    [first] = _landed(settings)
    assert watermarks.read(SOURCE, settings) is None

    # 3. The retry pulls the same window: the same file name and bytes, now the watermark moves.
    again = pull(SOURCE, _credentials(snapshot.url), policy=FAST, page_size=100)
    assert _landed(settings) == [first] and again.file == str(first)
    assert watermarks.read(SOURCE, settings)["updated_since"] == cut
    # The probe the main job asks before starting the DAG: the same snapshot has nothing new.
    probe = changed_since_watermark(SOURCE, _credentials(snapshot.url), policy=FAST)
    assert (probe.has_new, probe.detail) == (
        False,
        f"no record changed since {cut} at /api/v1/forensic-deaths",
    )

    # 4. The full history, where a record not landed yet was re-stamped with the watermark's
    #    own minute (the API's `updated_since` is inclusive): only new records are landed.
    later = [dict(r, actualizado_en=cut) if r["id_registro"] == late_id else r for r in records]
    full = _serve_snapshot(serve_api, tmp_path / "day2", later, admissions)
    # Only the re-stamped record is new at first sight: the probe sees it too.
    tie = [r for r in later if r["actualizado_en"] <= cut]
    assert len(tie) == len(early) + 1
    restamped = _serve_snapshot(serve_api, tmp_path / "tie", tie, admissions)
    assert changed_since_watermark(SOURCE, _credentials(restamped.url), policy=FAST).has_new
    assert changed_since_watermark(SOURCE, _credentials(full.url), policy=FAST).has_new
    result = pull(SOURCE, _credentials(full.url), policy=FAST, page_size=100)
    assert result.records == len(records) - len(early)
    assert not changed_since_watermark(SOURCE, _credentials(full.url), policy=FAST).has_new
    assert pull(SOURCE, _credentials(full.url), policy=FAST).status == "nothing_new"
    # Every record in exactly one landed file (the loader then dedups whole files only).
    landed = _ids(_landed(settings))
    assert sorted(landed) == sorted(r["id_registro"] for r in records)


def test_credentials_from_the_airflow_connection_or_the_environment(monkeypatch):
    for name in (
        "AIRFLOW_CONN_HEALTH_API",
        "OBSERVATORIO_HEALTH_API_URL",
        "OBSERVATORIO_HEALTH_API_TOKEN",
        "OBSERVATORIO_HEALTH_API_USERNAME",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RestConfigError, match=r"AIRFLOW_CONN_HEALTH_API.*OBSERVATORIO_HEALTH"):
        resolve_credentials("health")

    monkeypatch.setenv("OBSERVATORIO_HEALTH_API_URL", "http://127.0.0.1:8765/")
    monkeypatch.setenv("OBSERVATORIO_HEALTH_API_TOKEN", "env-token-123")
    with pytest.raises(RestConfigError, match="plain HTTP"):
        resolve_credentials("health")
    monkeypatch.setenv("OBSERVATORIO_HEALTH_API_ALLOW_INSECURE", "1")
    direct = resolve_credentials("health")
    assert (direct.base_url, direct.token) == ("http://127.0.0.1:8765", "env-token-123")
    assert direct.headers()["Authorization"] == "Bearer env-token-123"
    assert "env-token-123" not in repr(direct)

    # The Airflow connection wins: URI form, the token as password (URL-encoded). The URI's
    # `http` is Airflow's connection type, not a transport: with no scheme said, https.
    monkeypatch.setenv("AIRFLOW_CONN_HEALTH_API", "http://:tok%2Fen-42@api.salud.test:8443")
    uri = resolve_credentials("health")
    assert (uri.base_url, uri.token, uri.auth()) == (
        "https://api.salud.test:8443",
        "tok/en-42",
        None,
    )
    assert uri.origin == "Airflow connection 'health_api'"

    # JSON form, basic auth over https, retry settings in the extra.
    monkeypatch.setenv(
        "AIRFLOW_CONN_HEALTH_API",
        json.dumps(
            {
                "conn_type": "https",
                "host": "api.salud.test",
                "login": "observatorio",
                "password": "pw-77",
                "extra": {"max_attempts": 3, "base_delay": 0.5},
            }
        ),
    )
    basic = resolve_credentials("health")
    assert basic.base_url == "https://api.salud.test" and basic.username == "observatorio"
    assert "Authorization" not in basic.headers() and basic.auth() is not None
    assert RetryPolicy.from_extra(basic.extra) == RetryPolicy(max_attempts=3, base_delay=0.5)
    assert "pw-77" not in repr(basic)

    monkeypatch.setenv("AIRFLOW_CONN_HEALTH_API", "{not json")
    with pytest.raises(RestConfigError, match="not a valid Airflow connection") as bad:
        resolve_credentials("health")
    assert "not json" not in str(bad.value)
