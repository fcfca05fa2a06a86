"""Servers the tests need besides the warehouse: MariaDB (a justice source system) and Redis
(the Celery broker).

Each is taken from the machine when one answers on its standard port, and otherwise started
by the tests themselves from the distribution's programs (`.ci/run` installs them: Debian's
`mariadb-server` and `redis-server`), on a free port with a temporary data folder, and
stopped at the end. So a test never skips for want of a server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

MARIADB_URL = os.environ.get("OBSERVATORIO_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS_URL = os.environ.get("OBSERVATORIO_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _program(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    assert found, f"{name} is not installed: .ci/run installs it (apt-get install {name})"
    return found


def _wait_until(
    what: str, ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if ready():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not answer within 60 s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def scratch_database(kind: str, server: str, prefix: str) -> Iterator[str]:
    """A new, empty database on `server` (a SQLAlchemy URL without a database), dropped after."""
    import sqlalchemy as sa

    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = sa.create_engine(
        f"{server}/postgres" if kind == "postgresql" else f"{server}/",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"create database {name}"))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            suffix = " with (force)" if kind == "postgresql" else ""
            conn.execute(sa.text(f"drop database if exists {name}{suffix}"))
        admin.dispose()


def _mariadb_answers(url: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(f"{url}/", connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    return True


@contextlib.contextmanager
def mariadb_server(folder: Path) -> Iterator[str]:
    """A MariaDB server URL (`mysql+pymysql://root@host:port`, no database): the machine's
    when it answers, else a `mariadbd` of our own with its data under `folder`."""
    if _mariadb_answers(MARIADB_URL):
        yield MARIADB_URL
        return
    datadir, log = folder / "data", folder / "mariadbd.log"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            _program("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={datadir}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [
                _program("mariadbd"),
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--bind-address=127.0.0.1",
                f"--port={port}",
                f"--socket={folder / 'mariadb.sock'}",
                f"--pid-file={folder / 'mariadb.pid'}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"mysql+pymysql://root@127.0.0.1:{port}"
    try:
        _wait_until("mariadbd", lambda: _mariadb_answers(url), proc, log)
        yield url
    finally:
        _stop(proc)


def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis URL (`redis://host:port`, no db number): the machine's when it answers, else a
    `redis-server` of our own that keeps nothing on disk."""
    if _redis_answers(REDIS_URL):
        yield REDIS_URL
        return
    folder.mkdir(parents=True, exist_ok=True)
    port, log = free_port(), folder / "redis.log"
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [
                _program("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"redis://127.0.0.1:{port}"
    try:
        _wait_until("redis-server", lambda: _redis_answers(url), proc, log)
        yield url
    finally:
        _stop(proc)
