"""The HTTP door inside the daemon: uvicorn on the daemon's own event loop, the API and /mcp.

Only daemon/main.py imports this, and only when `[http] listen` (or `--http`) is set. The
socket is bound in `open()`, before the daemon reports itself started, so a busy or bad address
fails the start with one line instead of a log entry nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import uvicorn
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from starlette.applications import Starlette

from sesh_mesh.daemon.ops import OpTable
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.web.http_app import build_app
from sesh_mesh.web.mcp_server import OpsDispatch, build_server
from sesh_mesh.web.token import http_token

log = logging.getLogger(__name__)


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"bad [http] listen address {listen!r}", 'write HOST:PORT, e.g. "127.0.0.1:7434"')
    return host.strip("[]"), int(port)


class _Uvicorn(uvicorn.Server):
    """uvicorn without its signal handlers: the daemon owns SIGTERM/SIGINT and stops us."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpDoor:
    def __init__(self, ops: OpTable, home: Path, listen: str, token: str | None) -> None:
        self.ops = ops
        self.home = home
        self.listen = listen
        self.configured_token = token
        self._socket: socket.socket | None = None

    def open(self) -> None:
        host, port = parse_listen(self.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise SeshError(f"cannot listen for HTTP on {self.listen}: {exc.strerror}",
                            "pick another [http] listen address or stop what holds it") from None
        sock.listen(128)
        sock.setblocking(False)
        self._socket = sock

    async def run(self, stop: asyncio.Event) -> None:
        assert self._socket is not None, "open() first"
        token = http_token(self.home, self.configured_token)
        manager = StreamableHTTPSessionManager(app=build_server(OpsDispatch(self.ops)))

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            async with manager.run():
                yield

        app = build_app(self.ops, token, mcp_app=StreamableHTTPASGIApp(manager), lifespan=lifespan)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
        server = _Uvicorn(config)
        serving = asyncio.ensure_future(server.serve(sockets=[self._socket]))
        log.info("http: serving %s", self.listen)
        try:
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            server.should_exit = True
            await serving
        finally:
            if not serving.done():
                serving.cancel()
            self._socket.close()
