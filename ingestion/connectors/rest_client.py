"""The REST connector's client side: errors, the retry policy and its bounds, credentials and
the transport rule (https only, but for a loopback host with `allow_insecure`), and the
requester that retries 429/5xx/timeouts with backoff and never logs a secret.

Credentials come from the Airflow connection `<api>_api` (inside a task: any Airflow
connection source; elsewhere its environment form `AIRFLOW_CONN_<API>_API`, URI or JSON)
or from `OBSERVATORIO_<API>_API_URL` with `..._TOKEN` (bearer) or `..._USERNAME` and
`..._PASSWORD` (basic). Used by `ingestion.connectors.rest`.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
FAIL_FAST_HINTS = {
    401: "the API refused the credentials (401 Unauthorized)",
    403: "the credentials are not allowed to read this resource (403 Forbidden)",
    404: "no such resource (404 Not Found): check the base URL and the endpoint path",
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
