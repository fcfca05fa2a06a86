"""Incremental pulls from paginated JSON REST APIs (the health system's), landed as files.

`pull(source)` reads the source's `updated_since` watermark, walks the endpoint's pages over
httpx and streams every record changed since then into a hidden part-file in the source's
landing inbox. Only when the last page is in is the file fsynced and atomically renamed to a
deterministic name that encodes the window (`<source>_<since>_<until>_<digest>.jsonl`); only
then does the watermark advance. An interrupted pull lands nothing and keeps the watermark,
so the next run asks for the same window again. The API's `updated_since` is inclusive, so
the watermark also keeps the ids already landed at its timestamp: records at that exact
instant are landed once, and a late record stamped with the same minute still gets through.
Called by the `extract_*` tasks of `dags/ingest_health.py` and by `tests/integration/health/`.

Credentials come from the Airflow connection `<api>_api` (inside a task: any Airflow
connection source; elsewhere its environment form `AIRFLOW_CONN_<API>_API`, URI or JSON)
or from `OBSERVATORIO_<API>_API_URL` with `..._TOKEN` (bearer) or `..._USERNAME` and
`..._PASSWORD` (basic). 429, 5xx, timeouts and dropped connections are retried with
exponential backoff and jitter, never sooner than the server's `Retry-After`; 401, 403, 404
and other 4xx fail at once. Tokens and passwords never reach logs, errors or XCom.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlencode

import httpx

from ingestion import watermarks
from ingestion.connectors.rest_client import (
    ApiCredentials,
    RestApiError,
    RestApiUnavailable,
    RestConfigError,
    RestRequestRejected,
    RetryPolicy,
    _Requester,
    airflow_credentials,
    credentials_from_connection,
    require_secure_transport,
    resolve_credentials,
)
from ingestion.contract import Contract, load_contract
from ingestion.landing import inbox
from observatorio.core.settings import Settings, get_settings

log = logging.getLogger(__name__)
__all__ = [
    "ENDPOINTS",
    "ApiCredentials",
    "Endpoint",
    "PullResult",
    "RestApiError",
    "RestApiUnavailable",
    "RestConfigError",
    "RestRequestRejected",
    "RetryPolicy",
    "airflow_credentials",
    "changed_since_watermark",
    "credentials_from_connection",
    "pull",
    "require_secure_transport",
    "resolve_credentials",
]


@dataclass(frozen=True)
class Endpoint:
    """Where a source entity is served: the API (credentials `<api>_api`) and the route."""

    api: str
    path: str
    page_size: int = 1000
    since_param: str = "updated_since"


# Source entity (contract name) -> its endpoint. The contract names the cursor and key fields.
ENDPOINTS: dict[str, Endpoint] = {
    "health__forensic_deaths": Endpoint("health", "/api/v1/forensic-deaths"),
    "health__hospital_admissions": Endpoint("health", "/api/v1/hospital-admissions"),
}


# --- the pull --------------------------------------------------------------------------------

STAMP_RE = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True)
class PullResult:
    """What one pull did; plain data (no records, no secrets) so it can go through XCom.

    `status`, `source`, `file_sha256` and `query` have the meaning they have for the SQL
    connector's results, so the same ledger bookkeeping applies to both.
    """

    source: str
    status: Literal["landed", "nothing_new"]
    records: int
    pages: int
    requests: int
    retries: int
    waited_seconds: float
    statuses: dict[str, int]
    file: str | None
    file_sha256: str | None
    window_start: str | None
    window_end: str | None
    cursor: dict[str, Any] | None
    query: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _fields(contract: Contract) -> tuple[str, str]:
    """(cursor field, key field) as the API names them, from the contract."""
    by_name = {c.name: c.source for c in contract.columns}
    if not contract.cursor or not contract.primary_key:
        raise RestConfigError(
            f"{contract.path}: a REST pull needs `cursor: [<updated column>]` and `primary_key`"
        )
    return by_name[contract.cursor[0]], by_name[contract.primary_key[0]]


class _Source(NamedTuple):
    """What `pull` and `changed_since_watermark` both ask of a source before any request."""

    contract: Contract
    endpoint: Endpoint
    cursor_field: str
    key_field: str
    credentials: ApiCredentials
    policy: RetryPolicy


def _source(source: str, credentials: ApiCredentials | None, policy: RetryPolicy | None) -> _Source:
    contract = load_contract(source)
    endpoint = ENDPOINTS.get(contract.name)
    if endpoint is None:
        raise RestConfigError(f"no REST endpoint is registered for {contract.name!r}")
    cursor_field, key_field = _fields(contract)
    credentials = credentials or resolve_credentials(endpoint.api)
    policy = policy or RetryPolicy.from_extra(credentials.extra)
    return _Source(contract, endpoint, cursor_field, key_field, credentials, policy)


def _stamp(value: str | None) -> str:
    return STAMP_RE.sub("", value)[:15] if value else "begin"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _declared_fields(record: Any, declared: frozenset[str]) -> tuple[Any, set[str]]:
    """The record with only the contract's fields, and the names of the others."""
    if not isinstance(record, dict):
        return record, set()
    return {k: v for k, v in record.items() if k in declared}, set(record) - declared


def _page_records(body: Any, where: str) -> tuple[list[Any], Any, int | None]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise RestApiError(f"{where}: expected an object with a `data` list")
    total = body.get("total")
    return body["data"], body.get("next_page"), int(total) if isinstance(total, int) else None


def pull(
    source: str,
    credentials: ApiCredentials | None = None,
    *,
    settings: Settings | None = None,
    policy: RetryPolicy | None = None,
    page_size: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    transport: httpx.BaseTransport | None = None,
) -> PullResult:
    """Pull every record of `source` changed since its watermark and land it as one file.

    Lands nothing, and keeps the watermark, when nothing is new. Raises RestRequestRejected
    (401/403/404/4xx: fix the configuration, retrying will not help), RestApiUnavailable
    (retries exhausted: retry later) or RestApiError (a malformed answer).
    """
    settings = settings or get_settings()
    contract, endpoint, cursor_field, key_field, credentials, policy = _source(
        source, credentials, policy
    )
    size = page_size or int(credentials.extra.get("page_size", endpoint.page_size))

    stored = watermarks.read(contract.name, settings) or {}
    since: str | None = stored.get("updated_since")
    landed_at_since = set(stored.get("ids_at_cursor", [])) if since else set()
    base_params: dict[str, Any] = {"page_size": size}
    if since:
        base_params[endpoint.since_param] = since
    query = f"GET {endpoint.path}?{urlencode(base_params)}"

    folder = inbox(contract.name, settings)
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{contract.name}.{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    records = pages = landed_bytes = 0
    # Only the fields the contract declares are landed: a field added at the source (an
    # address, a narrative) never reaches the disk; its name is logged so the contract can
    # be extended deliberately.
    declared = frozenset(column.source for column in contract.columns)
    dropped_fields: set[str] = set()
    until: str | None = None
    ids_at_until: set[str] = set()
    first_total: int | None = None
    client = httpx.Client(
        base_url=credentials.base_url,
        headers=credentials.headers(),
        auth=credentials.auth(),
        timeout=policy.timeout,
        transport=transport,
    )
    requester = _Requester(client, credentials, policy, sleep, rng or random.Random())
    log.info("pulling %s: %s on %s", contract.name, query, credentials.base_url)
    try:
        with client, part.open("wb") as handle:
            page: Any = 1
            seen = 0
            while page is not None:
                where = f"{contract.name} page {page}"
                if pages >= policy.max_pages:
                    raise RestApiError(
                        f"{contract.name}: the API still offered a next page after "
                        f"{policy.max_pages} pages (max_pages); nothing was landed"
                    )
                body = requester.get_json(endpoint.path, {**base_params, "page": page})
                data, page, total = _page_records(body, where)
                if first_total is None:
                    first_total = total
                pages += 1
                for record in data:
                    seen += 1
                    stamp = record.get(cursor_field) if isinstance(record, dict) else None
                    key = str(record.get(key_field)) if isinstance(record, dict) else None
                    if stamp == since and key in landed_at_since:
                        continue  # landed by the previous pull at the watermark's instant
                    kept, dropped = _declared_fields(record, declared)
                    if dropped - dropped_fields:
                        dropped_fields |= dropped
                    line = json.dumps(kept, ensure_ascii=False, sort_keys=True) + "\n"
                    data_bytes = line.encode("utf-8")
                    landed_bytes += len(data_bytes)
                    if landed_bytes > policy.max_bytes:
                        raise RestApiError(
                            f"{contract.name}: more than {policy.max_bytes} bytes served "
                            "(max_bytes); nothing was landed"
                        )
                    handle.write(data_bytes)
                    digest.update(data_bytes)
                    records += 1
                    if isinstance(stamp, str) and key is not None:
                        if until is None or stamp > until:
                            until, ids_at_until = stamp, {key}
                        elif stamp == until:
                            ids_at_until.add(key)
            handle.flush()
            os.fsync(handle.fileno())
        if dropped_fields:
            log.warning(
                "%s: fields not in the contract were not landed: %s",
                contract.name,
                ", ".join(sorted(dropped_fields)),
            )
        if first_total is not None and seen < first_total:
            # Offset pages over a listing that shrank or reordered would skip records.
            raise RestApiError(
                f"{contract.name}: the API announced {first_total} records but served {seen}; "
                "the listing changed during the pull. Nothing was landed; run it again."
            )
        if records == 0:
            part.unlink()
            log.info("%s: nothing changed since %s", contract.name, since or "the beginning")
            return PullResult(
                contract.name,
                "nothing_new",
                0,
                pages,
                requester.stats.requests,
                requester.stats.retries,
                round(requester.stats.waited_seconds, 3),
                dict(requester.stats.statuses),
                None,
                None,
                since,
                since,
                {"updated_since": since} if since else None,
                query,
            )
        sha = digest.hexdigest()
        # The name is a function of the window and the content: the same pull repeated
        # (say, after a crash before the watermark moved) lands the same file again.
        name = f"{contract.name}_{_stamp(since)}_{_stamp(until)}_{sha[:12]}.jsonl"
        target = folder / name
        os.replace(part, target)
        _fsync_dir(folder)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if until == since:
        ids_at_until |= landed_at_since
    cursor = {"updated_since": until or since, "ids_at_cursor": sorted(ids_at_until)}
    # Only now, with the file durable under its final name, may the watermark move.
    watermarks.advance(contract.name, cursor, settings)
    stats = requester.stats
    log.info(
        "%s: landed %d records from %d pages as %s (%d requests, %d retries, %.1f s waited); "
        "watermark now %s",
        contract.name,
        records,
        pages,
        name,
        stats.requests,
        stats.retries,
        stats.waited_seconds,
        cursor["updated_since"],
    )
    return PullResult(
        source=contract.name,
        status="landed",
        records=records,
        pages=pages,
        requests=stats.requests,
        retries=stats.retries,
        waited_seconds=round(stats.waited_seconds, 3),
        statuses=dict(stats.statuses),
        file=str(target),
        file_sha256=sha,
        window_start=since,
        window_end=until,
        cursor={"updated_since": cursor["updated_since"]},
        query=query,
    )


def changed_since_watermark(
    source: str,
    credentials: ApiCredentials | None = None,
    *,
    settings: Settings | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    transport: httpx.BaseTransport | None = None,
) -> watermarks.Probe:
    """Whether `pull(source)` would land anything, from one small page.

    Asks for the records changed since the watermark as `pull` does, but one page of one
    record more than the ids already landed at the watermark's instant (the API's
    `updated_since` is inclusive): a record that is not one of those, or a next page, is
    new (beyond the page size, more ids at one instant than a page holds, it always says
    new and the pull decides). Same credentials, retries and route as `pull`; nothing is
    landed.
    """
    settings = settings or get_settings()
    contract, endpoint, cursor_field, key_field, credentials, policy = _source(
        source, credentials, policy
    )
    stored = watermarks.read(contract.name, settings) or {}
    since: str | None = stored.get("updated_since")
    landed = set(stored.get("ids_at_cursor", [])) if since else set()
    size = min(len(landed) + 1, int(credentials.extra.get("page_size", endpoint.page_size)))
    params: dict[str, Any] = {"page_size": size, "page": 1}
    if since:
        params[endpoint.since_param] = since
    client = httpx.Client(
        base_url=credentials.base_url,
        headers=credentials.headers(),
        auth=credentials.auth(),
        timeout=policy.timeout,
        transport=transport,
    )
    requester = _Requester(client, credentials, policy, sleep, rng or random.Random())
    with client:
        body = requester.get_json(endpoint.path, params)
    data, next_page, _ = _page_records(body, f"{contract.name} probe")
    new = next_page is not None or any(
        not isinstance(record, dict)
        or record.get(cursor_field) != since
        or str(record.get(key_field)) not in landed
        for record in data
    )
    where = f"since {since}" if since else "(no watermark yet)"
    return watermarks.Probe(
        contract.name,
        new,
        f"{'a record' if new else 'no record'} changed {where} at {endpoint.path}",
    )
