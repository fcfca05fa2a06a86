"""A real SFTP server (asyncssh) on 127.0.0.1, for tests of the SFTP channels: extract
delivery and file drops. It serves one folder as its root, so tests look at the server's side
of every upload, rename and move as plain files.

Use it from a test module by importing the fixture: `from tests.sftp_server import loop`,
then `start_sftp_server(loop, root)` in the test's own fixture (which sets its
`AIRFLOW_CONN_*` with `connection_json`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

USER, PASSWORD = "observatorio", "sftp-test-password"
T = TypeVar("T")


class EventLoopThread:
    """An asyncio loop in a thread, for servers the synchronous hooks talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def loop() -> Iterator[EventLoopThread]:
    runner = EventLoopThread()
    yield runner
    runner.stop()


@dataclass
class SftpServer:
    root: Path
    port: int
    server: Any
    loop: EventLoopThread
    closed: bool = False

    def close(self) -> None:
        """Stop listening; idempotent. asyncio servers are not thread-safe, so this runs on
        the server's own loop (closing from the test's thread raced with the loop)."""
        if self.closed:
            return
        self.closed = True

        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        self.loop.run(stop())


def start_sftp_server(loop: EventLoopThread, root: Path) -> SftpServer:
    """An SFTP server chrooted at `root`, password auth for USER/PASSWORD, on a free port."""
    import asyncssh

    root.mkdir(parents=True, exist_ok=True)

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return (username, password) == (USER, PASSWORD)

    async def start() -> Any:
        return await asyncssh.create_server(
            Server,
            "127.0.0.1",
            0,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()),
        )

    server = loop.run(start())
    port = server.sockets[0].getsockname()[1]
    return SftpServer(root=root, port=port, server=server, loop=loop)


def connection_json(port: int, password: str = PASSWORD, **extra: Any) -> str:
    """An Airflow SFTP connection to the test server, in `AIRFLOW_CONN_*` JSON form."""
    return json.dumps(
        {
            "conn_type": "sftp",
            "host": "127.0.0.1",
            "port": port,
            "login": USER,
            "password": password,
            "extra": {"no_host_key_check": True, **extra},
        }
    )
