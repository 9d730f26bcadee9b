"""POST /sessions/{id}/message/stream: one turn as events, as finely as the agent's output allows.

A headless session streams the agent's own streaming JSON through the `send-stream` op
(daemon/stream_ops.py): token deltas as the model writes them. For a session in a pane, the
session's transcript is followed (`tail`, owner-routed, so a session of another machine
streams over the mesh) while `send` delivers the message. Each entry the agent writes becomes a
content block as it lands; when `send` returns, the transcript is read once more so an entry the
follower had not passed on yet is still sent, in order, before `message_stop` and `done`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sesh_mesh import ids
from sesh_mesh.daemon.ops import OpTable
from sesh_mesh.errors import SeshError
from sesh_mesh.web import delta_events, turns

log = logging.getLogger(__name__)

FOLLOWER_READY_S = 10.0
"""How long the transcript follower may take to read the file before the message goes anyway."""

NO_TRANSCRIPT_RETRY_S = 0.2
"""A session's first message creates its transcript: the follower looks again this often."""

ALL_ENTRIES = 1_000_000
"""`tail -n` for a transcript that did not exist before this message: all of it is this turn."""


async def stream_turn(ops: OpTable, uuid: str, message: str, timeout: float | None,
                      ctx: dict[str, Any]) -> AsyncIterator[turns.Event]:
    if not ops.sessions.resolve(uuid).get("live"):
        async for event in stream_headless_turn(ops, uuid, message, timeout, ctx):
            yield event
        return
    entries: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    ready = asyncio.Event()

    async def emit(item: Any) -> None:
        if not ready.is_set():
            ready.set()  # the first item is the entry already there: the follower is in place
            return
        await entries.put(item)

    async def follow() -> None:
        try:
            await ops.run("tail", {"uuid": uuid, "n": 1, "follow": True}, ctx, emit)
            return
        except SeshError as exc:
            if "has no transcript yet" not in exc.what:
                raise
        ready.set()
        while True:
            try:
                await ops.run("tail", {"uuid": uuid, "n": ALL_ENTRIES, "follow": True}, ctx, entries.put)
                return
            except SeshError as exc:
                if "has no transcript yet" not in exc.what:
                    raise
            await asyncio.sleep(NO_TRANSCRIPT_RETRY_S)

    yield "message_start", {"type": "message_start",
                            "message": {"id": ids.new_uuid(), "session": uuid, "role": "assistant"}}
    follower = asyncio.ensure_future(follow())
    sender: asyncio.Future[Any] | None = None
    index = 0
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(_ready_or_done(ready, follower)), FOLLOWER_READY_S)
        sender = asyncio.ensure_future(ops.run("send", {"uuid": uuid, "message": message, "timeout": timeout}, ctx))
        while True:
            getter = asyncio.ensure_future(entries.get())
            waited: set[asyncio.Future[Any]] = {getter, sender}
            done, _ = await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                events = turns.entry_events(getter.result(), index)
                for event in events:
                    yield event
                index += 1 if events else 0
                continue
            getter.cancel()
            break
        result = sender.result()  # raises the send's error (timeout, busy …)
        transcript = await ops.run("transcript", {"uuid": uuid}, ctx)
        turn = [e for e in turns.turn_of(transcript.get("entries") or []) if turns.entry_events(e, 0)]
        for entry in turn[index:]:
            for event in turns.entry_events(entry, index):
                yield event
            index += 1
        summary = turns.summary(result, turns.turn_of(transcript.get("entries") or []))
        yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": summary["outcome"]},
                                "usage": summary["usage"]}
        yield "message_stop", {"type": "message_stop"}
        yield "done", {"type": "done", **summary}
    finally:
        follower.cancel()
        if sender is not None and not sender.done():
            sender.cancel()
        with contextlib.suppress(BaseException):
            await follower


async def stream_headless_turn(ops: OpTable, uuid: str, message: str, timeout: float | None,
                               ctx: dict[str, Any]) -> AsyncIterator[turns.Event]:
    """A headless turn streams the agent's own output: `send-stream` (owner-routed, so over the
    mesh for another machine's session) emits its deltas while the turn runs."""
    deltas: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    yield "message_start", {"type": "message_start",
                            "message": {"id": ids.new_uuid(), "session": uuid, "role": "assistant"}}
    sender = asyncio.ensure_future(ops.run("send-stream", {"uuid": uuid, "message": message, "timeout": timeout},
                                           ctx, deltas.put))
    blocks = delta_events.BlockBuilder()
    try:
        while True:
            getter = asyncio.ensure_future(deltas.get())
            waited: set[asyncio.Future[Any]] = {getter, sender}
            await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                for event in blocks.feed(getter.result()):
                    yield event
                continue
            getter.cancel()
            break
        while not deltas.empty():
            for event in blocks.feed(deltas.get_nowait()):
                yield event
        for event in blocks.close():
            yield event
        result = sender.result()  # raises the send's error (timeout, busy …)
        transcript = await ops.run("transcript", {"uuid": uuid}, ctx)
        summary = turns.summary(result, turns.turn_of(transcript.get("entries") or []))
        yield "message_delta", {"type": "message_delta", "delta": {"stop_reason": summary["outcome"]},
                                "usage": summary["usage"]}
        yield "message_stop", {"type": "message_stop"}
        yield "done", {"type": "done", **summary}
    finally:
        if not sender.done():
            sender.cancel()


async def _ready_or_done(ready: asyncio.Event, follower: asyncio.Future[None]) -> None:
    waiter: asyncio.Future[Any] = asyncio.ensure_future(ready.wait())
    waited: set[asyncio.Future[Any]] = {waiter, follower}
    try:
        await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
