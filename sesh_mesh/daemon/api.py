"""The local API on `$SESH_HOME/daemon.sock`: newline-delimited JSON requests and replies.

A request is `{"op", "args", "ctx"}`; the reply is `{"ok": true, "result"}` or
`{"ok": false, "error": {what, fix, kind}}`. A stream op sends `{"item": …}` lines before its
final reply. A malformed request gets an error reply; nothing a client sends crashes the daemon.
This module is framing only: every request runs through the op table (daemon/ops.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sesh_mesh import wire
from sesh_mesh.daemon.ops import OpTable, error_reply
from sesh_mesh.errors import UsageError

log = logging.getLogger(__name__)


class ApiServer:
    def __init__(self, ops: OpTable, path: Path, notice: Callable[[], str | None] | None = None) -> None:
        self.ops = ops
        self.path = path
        self.notice = notice
        """What every reply carries for the CLI to tell its user once (a broken or changed config)."""
        self._server: asyncio.base_events.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._on_client, path=str(self.path), limit=wire.MAX_LINE_BYTES
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=2)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only `close()` cancels a client's task, at shutdown. Ending it normally keeps
            # asyncio's stream callback from logging the cancellation as an error.
            return
        except Exception:
            log.exception("api: client handler failed")
        finally:
            if task is not None:
                self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await reader.readline()
            except (asyncio.LimitOverrunError, ValueError):
                await self._reply(writer, wire.failure(UsageError("request line too long").to_wire()))
                return
            if not line:
                return
            problem = "not a JSON object"
            try:
                request = wire.decode(line)
            except wire.TooDeep as exc:
                request, problem = None, str(exc)
            except ValueError:
                request = None
            if not isinstance(request, dict):
                await self._reply(
                    writer,
                    wire.failure(UsageError(f"malformed request: {problem}", "send one JSON object per line")
                                 .to_wire()),
                )
                continue
            op = request.get("op")
            raw = self.ops.raw(op) if isinstance(op, str) else None
            if raw is not None:
                writer.write(raw(request))
                await writer.drain()
                continue
            await self._dispatch(request, writer)

    async def _dispatch(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        op = request.get("op")
        args = request.get("args") or {}
        ctx = request.get("ctx") or {}
        if not isinstance(op, str) or not isinstance(args, dict) or not isinstance(ctx, dict):
            error = UsageError("malformed request: needs op (string), args and ctx (objects)")
            await self._reply(writer, wire.failure(error.to_wire()))
            return

        async def emit(item: Any) -> None:
            writer.write(wire.encode({"item": item}))
            await writer.drain()

        try:
            result = await self.ops.run(op, args, ctx, emit)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes the client's reply; error_reply logs it
            await self._reply(writer, self._noticed(wire.failure(error_reply(exc, op))))
            return
        await self._reply(writer, self._noticed(wire.ok(result)))

    def _noticed(self, reply: dict[str, Any]) -> dict[str, Any]:
        text = self.notice() if self.notice is not None else None
        # First: `cli/fast.py` passes a reply that starts `{"ok":true,"result":` through unparsed.
        return reply if text is None else {"ok": reply["ok"], "notice": text, **reply}

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
        writer.write(wire.encode(message))
        await writer.drain()
