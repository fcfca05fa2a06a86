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

import email.utils
import hashlib
import json
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import httpx

from ingestion import watermarks
from ingestion.contract import Contract, load_contract
from ingestion.landing import inbox
from observatorio.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FAIL_FAST_HINTS = {
    401: "the API refused the credentials (401 Unauthorized)",
    403: "the credentials are not allowed to read this resource (403 Forbidden)",
    404: "no such resource (404 Not Found): check the base URL and the endpoint path",
}


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


class RestApiError(RuntimeError):
    """A pull failed; the message names the endpoint and what to do (never a secret)."""


class RestConfigError(RestApiError):
    """No usable credentials or endpoint are configured."""


class RestRequestRejected(RestApiError):
    """The API answered with a status that retrying cannot fix (401, 403, 404, other 4xx)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RestApiUnavailable(RestApiError):
    """The API kept failing (429, 5xx, timeouts) after every allowed attempt."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to insist: attempts per request, and the exponential backoff between them.

    The delay before retry n (n = 1, 2, ...) is drawn from [c/2, c] with
    c = min(max_delay, base_delay * 2**(n-1)) ("equal jitter"), and is never shorter than the
    server's `Retry-After`. A `Retry-After` above `max_retry_after` fails the pull instead of
    holding a worker for that long.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    timeout: float = 30.0
    # Bounds of one pull: an API that pages forever, or serves without end, fails the pull
    # (nothing landed, watermark kept) instead of filling the disk.
    max_pages: int = 10_000
    max_bytes: int = 4 * 1024**3

    def __post_init__(self) -> None:
        if (
            self.max_attempts < 1
            or self.base_delay < 0
            or self.max_delay < 0
            or self.max_pages < 1
            or self.max_bytes < 1
        ):
            raise RestConfigError(f"invalid retry policy {self}")

    def backoff(self, retry: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * float(2 ** (retry - 1)))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    @classmethod
    def from_extra(
        cls, extra: Mapping[str, Any], default: RetryPolicy | None = None
    ) -> RetryPolicy:
        """The policy with overrides from a connection's extra (`max_attempts`, ...)."""
        base = default or cls()
        values = asdict(base)
        for name, current in asdict(base).items():
            if name in extra:
                try:
                    values[name] = type(current)(extra[name])
                except (TypeError, ValueError) as exc:
                    raise RestConfigError(
                        f"connection extra {name!r} must be a number, got {extra[name]!r}"
                    ) from exc
        return cls(**values)


@dataclass(frozen=True)
class ApiCredentials:
    """Base URL and authentication of one API. Secrets are kept out of repr()."""

    base_url: str
    origin: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # Plain HTTP is allowed only to a loopback host and only when asked for explicitly.
    allow_insecure: bool = False

    def __post_init__(self) -> None:
        require_secure_transport(self.base_url, self.allow_insecure, self.origin)

    def auth(self) -> httpx.Auth | None:
        if self.username:
            return httpx.BasicAuth(self.username, self.password or "")
        return None

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "observatorio-rest-connector"}
        if self.token and not self.username:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def secrets(self) -> list[str]:
        return [s for s in (self.token, self.password) if s]


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def require_secure_transport(base_url: str, allow_insecure: bool, origin: str) -> None:
    """Health and police records travel over HTTPS only.

    Plain `http://` is accepted for a loopback host (a test server, an SSH tunnel's end) and
    only with an explicit `allow_insecure` (connection extra, or
    `OBSERVATORIO_<API>_API_ALLOW_INSECURE=1`); anything else is refused before any request.
    """
    parts = urlsplit(base_url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme == "https":
        return
    loopback = host in LOOPBACK_HOSTS or host.startswith("127.")
    if scheme == "http" and loopback:
        if allow_insecure:
            return
        raise RestConfigError(
            f"{origin}: {scheme}://{host} is plain HTTP; set allow_insecure for a loopback test "
            "server, or use https"
        )
    raise RestConfigError(
        f"{origin}: the API must be reached over https (got {scheme or 'no scheme'}://{host}); "
        "plain HTTP is only allowed to a loopback host with allow_insecure"
    )


def _connection_env(api: str) -> str:
    return f"AIRFLOW_CONN_{api.upper()}_API"


def _direct_env(api: str, what: str) -> str:
    return f"OBSERVATORIO_{api.upper()}_API_{what}"


def credentials_from_connection(conn: Any, origin: str) -> ApiCredentials:
    """Credentials from an Airflow `Connection` (http or https).

    Bearer: the token in `password` (or extra `token`), login empty. Basic: login and
    password, or extra `auth_type: basic`. The host may carry its scheme
    (`https://api.example.org`); otherwise the connection type (or a `schema` of
    `http`/`https`) decides it, and any other `schema` is a path prefix.
    """
    extra = dict(conn.extra_dejson or {})
    host = str(conn.host or "").rstrip("/")
    if not host:
        raise RestConfigError(f"{origin} has no host")
    schema = str(conn.schema or "")
    if "://" in host:
        base = host
    else:
        # No scheme said (the connection type is not one: Airflow's URI form puts `http` there
        # for every HTTP connection) means https: never fall back to plain HTTP silently.
        scheme = extra.get("scheme") or (schema if schema in ("http", "https") else "https")
        base = f"{scheme}://{host}"
    if conn.port:
        base = f"{base}:{int(conn.port)}"
    if schema and schema not in ("http", "https"):
        base = f"{base}/{schema.strip('/')}"
    insecure = _truthy(extra.get("allow_insecure", False))
    auth_type = str(extra.get("auth_type", "basic" if conn.login else "bearer")).lower()
    if auth_type not in ("basic", "bearer"):
        raise RestConfigError(f"{origin}: extra auth_type must be bearer or basic")
    if auth_type == "basic":
        return ApiCredentials(
            base,
            origin,
            username=conn.login or "",
            password=conn.password or "",
            extra=extra,
            allow_insecure=insecure,
        )
    token = extra.get("token") or conn.password
    if not token:
        raise RestConfigError(f"{origin} has no token (put it in the password field)")
    return ApiCredentials(base, origin, token=str(token), extra=extra, allow_insecure=insecure)


def _parse_connection_env(value: str, conn_id: str) -> Any:
    from airflow.sdk import Connection

    text = value.strip()
    try:
        if text.startswith("{"):
            return Connection.from_json(text, conn_id=conn_id)
        return Connection.from_uri(text, conn_id=conn_id)
    except Exception as exc:  # the message may quote the value: never pass it on
        raise RestConfigError(
            f"{_connection_env(conn_id.removesuffix('_api'))} is not a valid Airflow connection "
            f"URI or JSON ({type(exc).__name__})"
        ) from None


def resolve_credentials(api: str) -> ApiCredentials:
    """The API's credentials from the environment: the Airflow connection, then our own vars."""
    conn_id = f"{api}_api"
    value = os.environ.get(_connection_env(api))
    if value:
        conn = _parse_connection_env(value, conn_id)
        return credentials_from_connection(conn, f"Airflow connection {conn_id!r}")
    url = os.environ.get(_direct_env(api, "URL"))
    if url:
        origin = _direct_env(api, "URL")
        insecure = _truthy(os.environ.get(_direct_env(api, "ALLOW_INSECURE"), ""))
        username = os.environ.get(_direct_env(api, "USERNAME"))
        if username:
            password = os.environ.get(_direct_env(api, "PASSWORD"), "")
            return ApiCredentials(
                url.rstrip("/"),
                origin,
                username=username,
                password=password,
                allow_insecure=insecure,
            )
        token = os.environ.get(_direct_env(api, "TOKEN"))
        if not token:
            raise RestConfigError(
                f"{origin} is set but neither {_direct_env(api, 'TOKEN')} nor "
                f"{_direct_env(api, 'USERNAME')} is"
            )
        return ApiCredentials(url.rstrip("/"), origin, token=token, allow_insecure=insecure)
    raise RestConfigError(
        f"no {api} API configured: set the Airflow connection {conn_id!r} "
        f"({_connection_env(api)}) or {_direct_env(api, 'URL')} and {_direct_env(api, 'TOKEN')}"
    )


def airflow_credentials(api: str) -> ApiCredentials | None:
    """Inside an Airflow task: the connection `<api>_api` from any Airflow connection source
    (environment, secrets backend, metadata database), or None when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowRuntimeError

    conn_id = f"{api}_api"
    try:
        conn = Connection.get(conn_id)
    except AirflowRuntimeError:
        return None
    except Exception as exc:  # AirflowNotFoundException lives in airflow.exceptions
        if type(exc).__name__ == "AirflowNotFoundException":
            return None
        raise
    return credentials_from_connection(conn, f"Airflow connection {conn_id!r}")


# --- requests --------------------------------------------------------------------------------


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait (`Retry-After`: seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float((moment - datetime.now(UTC)).total_seconds()))


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class _Requester:
    """GETs with the retry policy; one instance per pull."""

    def __init__(
        self,
        client: httpx.Client,
        credentials: ApiCredentials,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        rng: random.Random,
    ) -> None:
        self.client = client
        self.credentials = credentials
        self.policy = policy
        self.sleep = sleep
        self.rng = rng
        self.stats = RequestStats()

    def _count(self, outcome: str) -> None:
        self.stats.statuses[outcome] = self.stats.statuses.get(outcome, 0) + 1

    def get_json(self, path: str, params: dict[str, Any]) -> Any:
        where = f"GET {path}?{urlencode(params)}"
        last_problem = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            self.stats.requests += 1
            server_wait: float | None = None
            try:
                response = self.client.get(path, params=params)
            except httpx.TimeoutException as exc:
                self._count("timeout")
                last_problem = f"timed out after {self.policy.timeout:g} s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                self._count("connection_error")
                last_problem = _scrub(
                    f"connection failed ({type(exc).__name__}: {exc})", self.credentials.secrets()
                )
            else:
                status = response.status_code
                self._count(str(status))
                if status == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise RestApiError(
                            f"{where} on {self.credentials.base_url}: the answer is not JSON"
                        ) from None
                if status not in RETRYABLE_STATUS and not 500 <= status < 600:
                    hint = FAIL_FAST_HINTS.get(status, f"the API rejected the request ({status})")
                    raise RestRequestRejected(
                        f"{where} on {self.credentials.base_url}: {hint}. Check "
                        f"{self.credentials.origin}. Not retried.",
                        status,
                    )
                server_wait = _retry_after(response)
                last_problem = f"HTTP {status}" + (
                    f" (Retry-After {server_wait:g} s)" if server_wait is not None else ""
                )
            if attempt == self.policy.max_attempts:
                break
            if server_wait is not None and server_wait > self.policy.max_retry_after:
                raise RestApiUnavailable(
                    f"{where} on {self.credentials.base_url}: the API asked to wait "
                    f"{server_wait:g} s, more than the allowed {self.policy.max_retry_after:g} s"
                )
            delay = max(server_wait or 0.0, self.policy.backoff(attempt, self.rng))
            log.warning(
                "%s: %s; retry %d of %d in %.2f s",
                where,
                last_problem,
                attempt,
                self.policy.max_attempts - 1,
                delay,
            )
            self.stats.retries += 1
            self.stats.waited_seconds += delay
            self.sleep(delay)
        raise RestApiUnavailable(
            f"{where} on {self.credentials.base_url}: still failing after "
            f"{self.policy.max_attempts} attempts (last: {last_problem}). Nothing was landed and "
            "the watermark was kept; the next run asks for the same window again."
        )


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
    contract = load_contract(source)
    endpoint = ENDPOINTS.get(contract.name)
    if endpoint is None:
        raise RestConfigError(f"no REST endpoint is registered for {contract.name!r}")
    cursor_field, key_field = _fields(contract)
    credentials = credentials or resolve_credentials(endpoint.api)
    policy = policy or RetryPolicy.from_extra(credentials.extra)
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
