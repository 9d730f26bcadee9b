"""The TUI's connection to the local daemon: one subscription that streams record changes, and
one short connection per mutation. asyncio streams on the Unix socket, so quitting cancels a
pending read at once (a blocking client in a thread could not be interrupted).

The subscription posts messages to the app and never touches its state (STYLE 18). When the
daemon goes away it reports `Disconnected` once, retries with backoff, and on reconnect posts a
fresh `Snapshot` (changes committed while it was away are in it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump

from sesh_mesh import wire
from sesh_mesh.client import caller_context
from sesh_mesh.errors import DaemonUnreachable, SeshError, from_wire
from sesh_mesh.store.record import Record

RECONNECT_FIRST_S = 0.1
RECONNECT_MAX_S = 2.0
"""Backoff bounds while the daemon is away: a restart is noticed within two seconds, and a long
outage costs one connect attempt every two seconds."""


async def call(socket: Path, op: str, args: dict[str, Any]) -> Any:
    """One request on its own connection; raises the daemon's error as a SeshError."""
    async with _request(socket, op, args) as reader:
        while True:
            message = await _next_message(reader)
            if "item" in message:
                continue
            if message.get("ok"):
                return message.get("result")
            raise from_wire(message.get("error") or {})


@contextlib.asynccontextmanager
async def _request(socket: Path, op: str, args: dict[str, Any]) -> AsyncIterator[asyncio.StreamReader]:
    """A connection that has sent `op`, closed when the caller is done with the reply."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(socket), limit=wire.MAX_LINE_BYTES)
    except OSError as exc:
        raise DaemonUnreachable(f"cannot reach the daemon at {socket}", "start it with `sesh daemon start`") from exc
    try:
        writer.write(wire.encode({"op": op, "args": args, "ctx": caller_context()}))
        await writer.drain()
        yield reader
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _next_message(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        raise DaemonUnreachable("the daemon closed the connection mid-reply", "see $SESH_HOME/daemon.log")
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"not an object: {line[:80]!r}")  # noqa: TRY004  (callers treat it as a garbled reply)
    return message


async def stream(socket: Path, op: str, args: dict[str, Any]) -> AsyncIterator[Any]:
    """A streaming op on its own connection: each item as it comes; the daemon's error raised.

    Closing the iterator (the preview moving to another session) closes the connection, which is
    how the daemon learns to stop following."""
    async with _request(socket, op, args) as reader:
        while True:
            message = await _next_message(reader)
            if "item" in message:
                yield message["item"]
                continue
            if message.get("ok"):
                return
            raise from_wire(message.get("error") or {})


class DaemonLink:
    """Keeps a `subscribe` stream open to the daemon at `socket` and reports what it sees."""

    class Connected(Message):
        """The subscription is up; a Snapshot follows."""

    class Snapshot(Message):
        def __init__(self, records: list[Record]) -> None:
            super().__init__()
            self.records = records

    class Changed(Message):
        def __init__(self, records: list[Record]) -> None:
            super().__init__()
            self.records = records

    class Disconnected(Message):
        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    def __init__(self, socket: Path, target: MessagePump) -> None:
        self.socket = socket
        self.target = target
        self.connected = False

    async def run(self) -> None:
        """Subscribe, stream, and reconnect for as long as the app runs (cancel to stop)."""
        delay = RECONNECT_FIRST_S
        reported_down = False
        while True:
            try:
                await self._stream()
                reason = "the daemon closed the connection"
            except (OSError, DaemonUnreachable, asyncio.IncompleteReadError) as exc:
                reason = _reason(exc, self.socket)
            except SeshError as exc:
                reason = exc.line()
            except ValueError as exc:  # a garbled line: treat as a broken link, resubscribe
                reason = f"bad reply from the daemon: {exc}"
            if self.connected:
                delay = RECONNECT_FIRST_S
                reported_down = False
            self.connected = False
            if not reported_down:
                self.target.post_message(self.Disconnected(reason))
                reported_down = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _stream(self) -> None:
        reader, writer = await asyncio.open_unix_connection(str(self.socket), limit=wire.MAX_LINE_BYTES)
        try:
            request = {"op": "subscribe", "args": {"snapshot": True}, "ctx": caller_context()}
            writer.write(wire.encode(request))
            await writer.drain()
            while True:
                line = await reader.readline()
                if not line:
                    return
                message = json.loads(line)
                item = message.get("item")
                if item is None:
                    if message.get("ok") is False:
                        raise from_wire(message.get("error") or {})
                    return
                if "snapshot" in item:
                    self.connected = True
                    self.target.post_message(self.Connected())
                    self.target.post_message(self.Snapshot(item["snapshot"]))
                elif "changes" in item:
                    self.target.post_message(self.Changed(item["changes"]))
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _reason(exc: BaseException, socket: Path) -> str:
    if isinstance(exc, SeshError):
        return exc.what
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return f"no daemon answers on {socket}"
    return f"lost the daemon: {exc}"
