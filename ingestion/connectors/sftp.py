"""File drops on an SFTP server, through Airflow's SFTP provider, when one is configured.

A source entity reads its drops from SFTP when the Airflow connection
`observatorio_sftp_<source>__<entity>` exists (any connection source: the environment as
`AIRFLOW_CONN_OBSERVATORIO_SFTP_POLICE__REPORTS`, a secrets backend or the metadata
database). Its extra `remote_dir` names the remote inbox (default `<source>/<entity>`,
relative to the login's directory). Beside the inbox the connector keeps `processing/`,
`archive/` and `rejected/`, and every file goes through them like a local drop:

1. claim: an atomic rename `inbox/<name>` → `processing/<name>` (a second worker's rename
   fails, so each file is taken once; names starting with `.` or ending in `.part`,
   `.tmp` or `.filepart` are uploads in progress and are left alone);
2. download into the run's local claim folder (`landing/.claimed/<source>/<run>/`), through
   a `.part` file, so the standard path (stage → gate → publish) ingests it; a file another
   run has already downloaded (its marker says so) is left to that run;
3. settle: when its batch ends, `processing/<name>` → `archive/` or `rejected/`.

Every step can be resumed. A small marker per file under `landing/.sftp/<source>/` records
what was done: a file already downloaded is not fetched again, and a file whose batch ended
but whose remote move did not happen is moved on the next run without a download. Should a
file be fetched twice anyway (two workers on different hosts), the ledger's content SHA-256
keeps it from being loaded twice. `observatorio.orchestration.ingest.claim` calls `pull`; the
task steps call `settle` for the batches they finish.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import posixpath
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingestion.contract import Contract, load_contract
from ingestion.errors import BatchError
from ingestion.landing import claimed_dir, new_run_id
from observatorio.core.settings import Settings, get_settings

log = logging.getLogger(__name__)

CONNECTION_PREFIX = "observatorio_sftp_"
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".filepart")
FOLDERS = ("processing", "archive", "rejected")


class SftpDropError(RuntimeError):
    """The SFTP drop is misconfigured or a remote step failed; names the connection and file."""


def connection_id(source: str) -> str:
    """The Airflow connection that turns on SFTP drops for `<source>__<entity>`."""
    return f"{CONNECTION_PREFIX}{source}"


@dataclass(frozen=True)
class SftpDrop:
    """Where a source entity's files wait on the SFTP server."""

    source: str
    conn_id: str
    remote_dir: str

    def path(self, *parts: str) -> str:
        return posixpath.join(self.remote_dir, *parts)


def configured_drop(source: str, contract: Contract | None = None) -> SftpDrop | None:
    """The SFTP drop of a source entity, or None when its connection is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowRuntimeError

    conn_id = connection_id(source)
    try:
        conn = Connection.get(conn_id)
    except AirflowRuntimeError:
        return None
    except Exception as exc:  # AirflowNotFoundException lives in airflow.exceptions
        if type(exc).__name__ == "AirflowNotFoundException":
            return None
        raise
    contract = contract or load_contract(source)
    extra = conn.extra_dejson or {}
    remote_dir = str(extra.get("remote_dir") or f"{contract.source}/{contract.entity}")
    return SftpDrop(source=source, conn_id=conn_id, remote_dir=remote_dir.rstrip("/") or "/")


def has_drop(source: str) -> bool:
    """Whether `source` has an SFTP drop, asked without importing Airflow when it can be.

    Airflow looks a connection up in a secrets backend, then the environment, then its
    metadata database. Without a secrets backend (`AIRFLOW__SECRETS__BACKEND` or the
    `[secrets]` section of `$AIRFLOW_HOME/airflow.cfg`), the environment form and the row in
    the metadata database (`AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`, PostgreSQL) are the whole
    answer, read here in milliseconds; otherwise Airflow is asked (`configured_drop`).
    Called by the main job before it starts an ingest DAG.
    """
    conn_id = connection_id(source)
    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        return True
    defined = _in_metadata_database(conn_id) if not _secrets_backend() else None
    return configured_drop(source) is not None if defined is None else defined


def _secrets_backend() -> bool:
    import configparser

    if os.environ.get("AIRFLOW__SECRETS__BACKEND"):
        return True
    config = configparser.ConfigParser(interpolation=None)
    config.read(Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "airflow.cfg")
    return bool(config.get("secrets", "backend", fallback="").strip())


def _in_metadata_database(conn_id: str) -> bool | None:
    """Whether Airflow's metadata database holds the connection; None when it cannot tell."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not url.startswith("postgresql"):
        return None
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("select count(*) from connection where conn_id = :id"), {"id": conn_id}
            ).first()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    return bool(row and row[0])


def state_dir(source: str, settings: Settings | None = None) -> Path:
    """Local markers and partial downloads of the SFTP drop (never read by the claim)."""
    settings = settings or get_settings()
    return settings.landing_dir / ".sftp" / source


def _marker(source: str, name: str, settings: Settings) -> Path:
    return state_dir(source, settings) / f"{name}.json"


def _read_marker(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write_marker(path: Path, data: Mapping[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(dict(data), sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def _is_candidate(name: str, contract: Contract) -> bool:
    if name.startswith(".") or name.endswith(IN_PROGRESS_SUFFIXES):
        return False
    return fnmatch.fnmatch(name, contract.file_pattern)


def _regular_files(client: Any, folder: str) -> list[tuple[str, int]]:
    entries = client.listdir_attr(folder)
    return sorted(
        (e.filename, int(e.st_size or 0))
        for e in entries
        if e.st_mode is not None and stat.S_ISREG(e.st_mode)
    )


def _ensure_folders(client: Any, drop: SftpDrop) -> None:
    try:
        client.stat(drop.remote_dir)
    except OSError as exc:
        raise SftpDropError(
            f"sftp {drop.conn_id}: the inbox {drop.remote_dir!r} does not exist "
            "(set the connection's extra remote_dir)"
        ) from exc
    for folder in FOLDERS:
        try:
            client.stat(drop.path(folder))
        except OSError:
            client.mkdir(drop.path(folder))


@dataclass
class PullResult:
    """What one pull did, by file name (never contents); JSON-able for logs and XCom."""

    claimed: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    already_local: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def pull(
    source: str, settings: Settings | None = None, run_id: str | None = None
) -> PullResult | None:
    """Claim and download a source entity's SFTP drops into the run's claim folder (see
    `ingestion.landing`); None when no drop is configured."""
    settings = settings or get_settings()
    contract = load_contract(source)
    drop = configured_drop(source, contract)
    if drop is None:
        return None
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    from ingestion.loader import check_file_name

    result = PullResult()
    local_dir = claimed_dir(source, settings, run_id or new_run_id())
    local_dir.mkdir(parents=True, exist_ok=True)
    state_dir(source, settings).mkdir(parents=True, exist_ok=True)
    with SFTPHook(ssh_conn_id=drop.conn_id).get_managed_conn() as client:
        _ensure_folders(client, drop)
        for name, _ in _regular_files(client, drop.remote_dir):
            if not _is_candidate(name, contract):
                continue
            try:
                check_file_name(name)
            except BatchError as exc:
                # Left in the inbox, where the sender sees it; it can never reach a local path.
                log.error("sftp %s: %s; left in the inbox", drop.conn_id, exc)
                result.refused.append(name)
                continue
            try:
                client.rename(drop.path(name), drop.path("processing", name))
            except OSError:
                # Another worker claimed it first, or an earlier copy of the same name is
                # still being processed: it stays in the inbox for the next run.
                log.info("sftp %s: %s not claimed (taken or pending)", drop.conn_id, name)
                continue
            result.claimed.append(name)
        _fetch_processing(client, drop, local_dir, settings, result)
    log.info(
        "sftp %s: claimed %d, downloaded %d, already local %d, settled %d",
        drop.conn_id,
        len(result.claimed),
        len(result.downloaded),
        len(result.already_local),
        len(result.settled),
    )
    return result


def _fetch_processing(
    client: Any, drop: SftpDrop, local_dir: Path, settings: Settings, result: PullResult
) -> None:
    """Download every file in `processing/` that is not local yet, or settle it if its batch
    already ended (a run that died between the local and the remote move)."""
    from ingestion.loader import check_file_name

    for name, size in _regular_files(client, drop.path("processing")):
        try:
            check_file_name(name)
        except BatchError:
            result.refused.append(name)
            continue
        marker_path = _marker(drop.source, name, settings)
        marker = _read_marker(marker_path)
        local = local_dir / name
        if marker is not None and marker.get("status"):
            _move_remote(client, drop, name, str(marker["status"]))
            marker_path.unlink(missing_ok=True)
            result.settled.append(name)
            continue
        if marker is not None and marker.get("size") == size:
            # Downloaded already, by this run's earlier try or by another run, whose claim
            # folder holds it: that run ingests it.
            result.already_local.append(name)
            continue
        if local.exists():
            # A local drop of the same name is waiting: fetch after it has finished.
            log.warning("sftp %s: %s also pending locally; fetched later", drop.conn_id, name)
            continue
        partial = state_dir(drop.source, settings) / f"{name}.part"
        client.get(drop.path("processing", name), str(partial))
        if partial.stat().st_size != size:
            partial.unlink(missing_ok=True)
            raise SftpDropError(f"sftp {drop.conn_id}: {name} arrived incomplete")
        _write_marker(
            marker_path, {"conn_id": drop.conn_id, "remote_dir": drop.remote_dir, "size": size}
        )
        os.replace(partial, local)
        result.downloaded.append(name)


def _move_remote(client: Any, drop: SftpDrop, name: str, status: str) -> str:
    folder = "rejected" if status == "rejected" else "archive"
    target = drop.path(folder, name)
    try:
        client.stat(target)
    except OSError:
        pass
    else:  # the same name was archived before: keep both, like the local archive
        stem, dot, suffix = name.partition(".")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = drop.path(folder, f"{stem}.{stamp}{dot}{suffix}")
    try:
        client.rename(drop.path("processing", name), target)
    except OSError:
        try:
            client.stat(drop.path("processing", name))
        except OSError:  # already moved, by a concurrent settle of the same file
            log.info("sftp %s: %s was already moved out of processing/", drop.conn_id, name)
            return target
        raise
    return target


def settle(results: Iterable[Mapping[str, Any]], settings: Settings | None = None) -> list[str]:
    """Move the remote copies of finished batches (`source`, `file`, `status` dicts, as the
    task steps return them) to `archive/` or `rejected/`. Files that did not come from SFTP
    are ignored, so no connection is opened for a run without SFTP drops."""
    settings = settings or get_settings()
    pending: dict[str, list[tuple[str, str, Path]]] = {}
    for result in results:
        source, name, status = str(result["source"]), str(result["file"]), str(result["status"])
        marker_path = _marker(source, name, settings)
        marker = _read_marker(marker_path)
        if marker is None:
            continue
        # Record the outcome first: if the remote move fails, the next pull finishes it.
        _write_marker(marker_path, {**marker, "status": status})
        pending.setdefault(source, []).append((name, status, marker_path))
    moved: list[str] = []
    if not pending:
        return moved
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    for source, files in pending.items():
        drop = configured_drop(source)
        if drop is None:
            log.warning("sftp drop of %s is no longer configured; remote files stay", source)
            continue
        # Best effort: the batches are already final, and failing the task here would hold
        # back the raw Asset of a published batch. The next pull finishes the moves.
        try:
            with SFTPHook(ssh_conn_id=drop.conn_id).get_managed_conn() as client:
                for name, status, marker_path in files:
                    moved.append(_move_remote(client, drop, name, status))
                    marker_path.unlink(missing_ok=True)
        except Exception as exc:
            log.error(
                "sftp %s: remote files not moved yet (%s: %s); the next pull moves them",
                drop.conn_id,
                type(exc).__name__,
                exc,
            )
    return moved
