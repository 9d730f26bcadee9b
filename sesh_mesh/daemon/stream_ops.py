"""The `send-stream` op: `send`, with the headless turn's own streaming output passed on as it runs.

The owner's headless runner hands each JSON line of the agent's stdout to a listener; the agent's
adapter turns it into neutral deltas (agents/stream_events.py), which are emitted in order. The op
is owner-routed and streaming, so a session of another machine streams through the mesh's
forward-stream. Its result is `send`'s. A session in a pane has no such output: its turn is
followed through the transcript instead (web/message_stream.py), so this op refuses it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.daemon.control import Control, SendArgs
from sesh_mesh.daemon.ops import Emit, op
from sesh_mesh.errors import SeshError


class StreamOps:
    def __init__(self, control: Control) -> None:
        self.control = control

    @op("send-stream", SendArgs, route="owner", stream=True)
    async def op_send_stream(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """Send a message to a headless session, streaming its turn's deltas; returns send's reply."""
        record = self.control.record(str(args["uuid"]))
        uuid = record["uuid"]
        if record.get("live"):
            raise SeshError(f"session {uuid[:8]} runs in a pane, which has no streaming output",
                            "follow its transcript (sesh tail --follow) while you send")
        runner = self.control.headless
        if uuid in runner.listeners:
            raise SeshError(f"session {uuid[:8]} is already streaming a turn to another caller",
                            "wait for that turn to end, or send without streaming")
        adapter = get_adapter(str(record["agent"]))
        deltas: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def listen(item: dict[str, Any]) -> None:
            for delta in adapter.stream_deltas(item):
                deltas.put_nowait(delta)

        runner.listeners[uuid] = listen
        sender = asyncio.ensure_future(self.control.op_send(args, ctx))
        try:
            while not sender.done():
                getter = asyncio.ensure_future(deltas.get())
                waited: set[asyncio.Future[Any]] = {getter, sender}
                await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    await emit(getter.result())
                else:
                    getter.cancel()
            # Every line was passed to the listener before the turn's result was read.
            while not deltas.empty():
                await emit(deltas.get_nowait())
            return sender.result()
        finally:
            if runner.listeners.get(uuid) is listen:
                del runner.listeners[uuid]
            if not sender.done():
                sender.cancel()
