"""Forwarding: one generic, streamed RPC over a peer link (docs/mesh-protocol.md "Forwarding RPC").

Frames (all carry the caller's call `id`):
  rpc-call    {t, id, key, op, args, ctx}  caller → owner; `key` is the idempotency key
  rpc-cancel  {t, id}                      caller → owner; the caller went away
  rpc-ack     {t, id}                      owner → caller; the call runs (or a retry attached)
  rpc-chunk   {t, id, data}                owner → caller; a piece of the next item or reply
  rpc-item    {t, id, data}                owner → caller; one streamed item (JSON text)
  rpc-reply   {t, id, data}                owner → caller; {"ok", "result"|"error"} (JSON text)

The owner runs the named operation through the op table (daemon/ops.py), like a local request. A call whose key is in
flight attaches to the running call instead of starting it again, and a finished key answers
from the remembered result, so a call retried after a dropped link takes effect once. The
caller bounds its own wait (no forwarding-imposed timeout unless it asks), retries over a new
link with the same key when the link drops, and cancels the owner's work when it goes away.
On a live link it sends the same call again (same id and key) when the owner has not
acknowledged it within ACK_WAIT_S, and probes a long-running call every PROBE_S: a lost call or
reply frame costs a few seconds instead of a wait without end.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from sesh_mesh import ids, wire
from sesh_mesh.daemon.ops import Emit, OpTable, error_reply
from sesh_mesh.errors import SeshError, UsageError, from_wire

log = logging.getLogger(__name__)

RPC_CHUNK_CHARS = 256 * 1024
"""Items and replies longer than this travel in pieces: at most 4 bytes per character keeps each
frame at about 1 MiB, under the 4 MiB frame limit, so no reply is ever too big for the link."""

RECONNECT_WAIT_S = 10.0
"""After a link drops mid-call, how long the caller waits for it to come back and retries."""

MAX_ATTEMPTS = 3
"""Sends of one call (the first and the retries after dropped links)."""

ACK_WAIT_S = float(os.environ.get("SESH_TEST_MESH_RPC_ACK_S") or 5.0)
"""A call (or a probe) the owner has not acknowledged by then is sent again, same id and key: the
frame was lost on a live link. A round trip on a slow link is well under it."""

PROBE_S = float(os.environ.get("SESH_TEST_MESH_RPC_PROBE_S") or 30.0)
"""An acknowledged call that has sent nothing for this long is sent again, as a probe: a
finished call answers from its remembered result (so a lost reply is found), a running one
acknowledges again. One small frame per interval per long call (a `send` awaiting its turn)."""

MAX_PENDING_ITEMS = 1000
"""A forwarded stream's items waiting for its local caller to take them: beyond this the caller is
not keeping up (a suspended `tail --follow`), and the stream ends with an error rather than
holding the owner's output in memory without bound (the link's reader cannot wait for one call)."""

MAX_UNANSWERED_SENDS = 3
"""Sends in a row without any answer on a live link before the caller gives up."""

ORPHAN_GRACE_S = 60.0
"""A call whose caller's link dropped keeps running this long for a retry to attach to it;
only an explicit rpc-cancel (the caller went away) cancels it at once."""

RECENT_RESULTS_MAX = 1024
RECENT_RESULTS_TTL_S = 600.0
"""Finished calls answer retries of their key from memory for this long (bounded in count)."""

RECENT_RESULTS_MAX_CHARS = 64 * 1024 * 1024
"""…and in size: the remembered replies together hold at most this many characters of JSON (a
few transcript fetches must not pin hundreds of MiB). The oldest go first."""

FORWARDED_FROM: contextvars.ContextVar[str | None] = contextvars.ContextVar("forwarded_from", default=None)
"""Set while running a call that arrived from a peer: such a call never forwards on again…"""

RELAYING: contextvars.ContextVar[bool] = contextvars.ContextVar("relaying", default=False)
"""…unless it is an explicit relay (`forward` from a peer without a direct link), which may go
one hop further, directly only."""


class LinkLike(Protocol):
    @property
    def peer(self) -> str | None: ...

    @property
    def alive(self) -> bool: ...

    calls: dict[str, asyncio.Queue[tuple[str, Any]]]
    partial: dict[str, list[str]]

    def send(self, message: dict[str, Any]) -> None: ...


class Routes(Protocol):
    """How the caller finds a link to a machine (the mesh hub provides it)."""

    def route(self, machine: str, direct_only: bool) -> tuple[LinkLike, bool] | None: ...

    async def wait_route(self, machine: str, direct_only: bool, within_s: float) -> tuple[LinkLike, bool] | None: ...

    def describe_down(self, machine: str) -> str: ...

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None] | None: ...


def frames_for(call_id: str, kind: str, payload: Any) -> list[dict[str, Any]]:
    """`payload` as one rpc-item/rpc-reply frame, preceded by rpc-chunk frames when large."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    frames: list[dict[str, Any]] = []
    while len(text) > RPC_CHUNK_CHARS:
        frames.append({"t": "rpc-chunk", "id": call_id, "data": text[:RPC_CHUNK_CHARS]})
        text = text[RPC_CHUNK_CHARS:]
    frames.append({"t": kind, "id": call_id, "data": text})
    return frames


class OwnerUnreachable(SeshError):
    pass


@dataclass
class _Inflight:
    key: str
    op: str
    subscribers: dict[tuple[int, str], LinkLike] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    orphan_timer: asyncio.TimerHandle | None = None


class Rpc:
    """Both ends of forwarding for one daemon: `call()` as the caller, `on_frame()` for both."""

    def __init__(self, ops: OpTable, routes: Routes) -> None:
        self.ops = ops
        self.routes = routes
        self._inflight: dict[str, _Inflight] = {}
        self._recent: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._recent_chars: dict[str, int] = {}
        self._recent_total = 0

    # ---- caller ------------------------------------------------------------------------------

    async def call(
        self,
        machine: str,
        op: str,
        args: dict[str, Any],
        *,
        key: str | None = None,
        ctx: dict[str, Any] | None = None,
        emit: Emit | None = None,
        limit_s: float | None = None,
    ) -> Any:
        """Run `op` at `machine` and return its result; streamed items go to `emit`."""
        forwarded_from = FORWARDED_FROM.get()
        direct_only = forwarded_from is not None
        if direct_only and not RELAYING.get():
            raise SeshError(
                f"refusing to pass {op} from {forwarded_from} on to machine {machine!r}",
                f"the machines disagree about who owns it; run the command on {machine}",
            )
        key = key or ids.new_uuid()
        route = self.routes.route(machine, direct_only)
        if route is None:
            raise OwnerUnreachable(
                f"cannot reach machine {machine!r} ({self.routes.describe_down(machine)}); nothing was changed",
                "retry when it is back online; `sesh daemon status` shows the link",
            )
        deadline = None if limit_s is None else time.monotonic() + limit_s
        for attempt in range(1, MAX_ATTEMPTS + 1):
            link, relayed = route
            outcome = await self._attempt(link, relayed, machine, op, args, key, ctx or {}, emit, deadline)
            if outcome is not _LOST:
                return outcome
            log.warning("mesh: link to %s dropped during %s (attempt %d); retrying with the same key", machine, op,
                        attempt)
            wait = RECONNECT_WAIT_S
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            again = await self.routes.wait_route(machine, direct_only, wait)
            if again is None:
                break
            route = again
        raise SeshError(
            f"lost the link to machine {machine!r} during {op} and it did not come back",
            "the operation may or may not have taken effect there; check with `sesh info` or `sesh daemon status`",
        )

    async def _attempt(
        self,
        link: LinkLike,
        relayed: bool,
        machine: str,
        op: str,
        args: dict[str, Any],
        key: str,
        ctx: dict[str, Any],
        emit: Emit | None,
        deadline: float | None,
    ) -> Any:
        call_id = ids.new_uuid()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        link.calls[call_id] = queue
        if relayed:
            # No direct link: a peer that has one runs it for us (it forwards directly only).
            frame = {"t": "rpc-call", "id": call_id, "key": key, "op": "forward",
                     "args": {"machine": machine, "op": op, "args": args, "key": key}, "ctx": ctx}
        else:
            frame = {"t": "rpc-call", "id": call_id, "key": key, "op": op, "args": args, "ctx": ctx}
        link.send(frame)
        acked, unanswered = False, 1
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                wait = PROBE_S if acked else ACK_WAIT_S
                try:
                    async with asyncio.timeout(wait if remaining is None else min(wait, remaining)):
                        kind, payload = await queue.get()
                except TimeoutError:
                    if remaining is not None and remaining <= wait:
                        raise
                    if unanswered >= MAX_UNANSWERED_SENDS:
                        raise SeshError(
                            f"machine {machine!r} did not answer {op}: {unanswered} sends went unanswered "
                            "on a live link",
                            "the operation may or may not have taken effect there; check with `sesh info` "
                            "or `sesh daemon status`",
                        ) from None
                    if not acked:
                        log.warning("mesh: %s to %s not acknowledged within %.0fs; sending it again (same key)",
                                    op, machine, ACK_WAIT_S)
                    link.send(frame)
                    acked, unanswered = False, unanswered + 1
                    continue
                acked, unanswered = True, 0
                if kind == "lost":
                    return _LOST
                if kind == "overflow":
                    raise SeshError(
                        f"the stream of {op} from machine {machine!r} stopped: its reader fell "
                        f"{MAX_PENDING_ITEMS} items behind",
                        "read the stream as it comes (a suspended reader holds it up), or ask for less",
                    )
                if kind == "ack":
                    continue
                if kind == "item":
                    if emit is not None:
                        await emit(payload)
                    continue
                if payload.get("ok"):
                    return payload.get("result")
                raise from_wire(payload.get("error") or {})
        except TimeoutError:
            if link.alive:
                link.send({"t": "rpc-cancel", "id": call_id})
            raise SeshError(
                f"machine {machine!r} did not answer {op} in time",
                "the operation may still complete there; check with `sesh info` or `sesh daemon status`",
            ) from None
        except BaseException:
            # Cancelled, or our own caller went away (emit failed): the owner stops working.
            if link.alive:
                link.send({"t": "rpc-cancel", "id": call_id})
            raise
        finally:
            link.calls.pop(call_id, None)
            link.partial.pop(call_id, None)

    def link_lost(self, link: LinkLike) -> None:
        """The link is gone: wake its callers (they retry) and orphan its owner-side calls."""
        for queue in list(link.calls.values()):
            queue.put_nowait(("lost", None))
        for inflight in list(self._inflight.values()):
            for sub_key in [k for k, sub in inflight.subscribers.items() if sub is link]:
                del inflight.subscribers[sub_key]
            self._maybe_orphan(inflight)

    # ---- frames ------------------------------------------------------------------------------

    def on_frame(self, link: LinkLike, message: dict[str, Any]) -> None:
        kind = message.get("t")
        call_id = message.get("id")
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(f"{kind} without an id")
        if kind == "rpc-call":
            self._on_call(link, call_id, message)
        elif kind == "rpc-cancel":
            self._on_cancel(link, call_id)
        elif kind == "rpc-ack":
            queue = link.calls.get(call_id)
            if queue is not None:
                queue.put_nowait(("ack", None))
        elif kind in ("rpc-chunk", "rpc-item", "rpc-reply"):
            data = message.get("data")
            if not isinstance(data, str):
                raise ValueError(f"{kind} without data")
            queue = link.calls.get(call_id)
            if queue is None:
                return  # the caller gave up (timeout or cancel) before the answer came
            if kind == "rpc-chunk":
                link.partial.setdefault(call_id, []).append(data)
                return
            payload = wire.decode("".join(link.partial.pop(call_id, [])) + data)
            if kind == "rpc-item" and queue.qsize() >= MAX_PENDING_ITEMS:
                # The caller is not taking them: end its call now (it cancels the owner's work);
                # what it has not read is dropped, and later frames of the call with it.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(("overflow", None))
                del link.calls[call_id]
                link.send({"t": "rpc-cancel", "id": call_id})  # now: the reader may never come back
                return
            queue.put_nowait(("item" if kind == "rpc-item" else "reply", payload))
        else:
            log.info("mesh: ignored unknown rpc frame %r from %s", kind, link.peer)

    # ---- owner -------------------------------------------------------------------------------

    def _on_call(self, link: LinkLike, call_id: str, message: dict[str, Any]) -> None:
        op, args, ctx = message.get("op"), message.get("args") or {}, message.get("ctx") or {}
        key = message.get("key") if isinstance(message.get("key"), str) else f"{link.peer}:{call_id}"
        assert isinstance(key, str)
        self._expire_recent()
        if key in self._recent:
            log.info("mesh: retry of key %s from %s answered from the finished call", key, link.peer)
            _send_all(link, frames_for(call_id, "rpc-reply", self._recent[key][1]))
            return
        inflight = self._inflight.get(key)
        if inflight is not None:
            subscriber = (id(link), call_id)
            level = logging.DEBUG if subscriber in inflight.subscribers else logging.INFO  # a probe
            log.log(level, "mesh: retry of %s (key %s) from %s attaches to the running call", inflight.op, key,
                    link.peer)
            inflight.subscribers[subscriber] = link
            link.send({"t": "rpc-ack", "id": call_id})
            if inflight.orphan_timer is not None:
                inflight.orphan_timer.cancel()
                inflight.orphan_timer = None
            return
        if not isinstance(op, str) or not isinstance(args, dict) or not isinstance(ctx, dict):
            payload = _failure(UsageError("malformed forwarded call: needs op, args and ctx"))
            _send_all(link, frames_for(call_id, "rpc-reply", payload))
            return
        inflight = _Inflight(key=key, op=op)
        inflight.subscribers[(id(link), call_id)] = link
        self._inflight[key] = inflight
        task = self.routes.spawn(self._run(inflight, str(link.peer), args, ctx), name=f"mesh:rpc:{op}:{key[:8]}")
        if task is None:
            del self._inflight[key]
            payload = _failure(SeshError("the daemon is starting or stopping", "retry in a moment"))
            _send_all(link, frames_for(call_id, "rpc-reply", payload))
            return
        inflight.task = task
        link.send({"t": "rpc-ack", "id": call_id})

    def _on_cancel(self, link: LinkLike, call_id: str) -> None:
        for inflight in list(self._inflight.values()):
            if inflight.subscribers.pop((id(link), call_id), None) is not None and not inflight.subscribers:
                log.info("mesh: %s (key %s) cancelled by its caller", inflight.op, inflight.key)
                if inflight.task is not None:
                    inflight.task.cancel()

    def _maybe_orphan(self, inflight: _Inflight) -> None:
        if inflight.subscribers or inflight.orphan_timer is not None or inflight.task is None:
            return
        task = inflight.task
        inflight.orphan_timer = asyncio.get_running_loop().call_later(ORPHAN_GRACE_S, task.cancel)

    async def _run(self, inflight: _Inflight, peer: str, args: dict[str, Any], ctx: dict[str, Any]) -> None:
        FORWARDED_FROM.set(peer)
        op = inflight.op

        async def emit(item: Any) -> None:
            for (_, call_id), link in list(inflight.subscribers.items()):
                _send_all(link, frames_for(call_id, "rpc-item", item))

        try:
            result = await self.ops.run(op, args, {**ctx, "forwardedFrom": peer}, emit)
            payload = {"ok": True, "result": result}
        except asyncio.CancelledError:
            self._inflight.pop(inflight.key, None)
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes the caller's reply; error_reply logs it
            payload = {"ok": False, "error": error_reply(exc, op, remote=True)}
        finally:
            if inflight.orphan_timer is not None:
                inflight.orphan_timer.cancel()
        self._inflight.pop(inflight.key, None)
        self._remember(inflight.key, payload)
        for (_, call_id), link in list(inflight.subscribers.items()):
            _send_all(link, frames_for(call_id, "rpc-reply", payload))

    def _remember(self, key: str, payload: Any) -> None:
        chars = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))
        self._forget(key)
        self._recent[key] = (time.monotonic(), payload)
        self._recent_chars[key] = chars
        self._recent_total += chars
        self._expire_recent()

    def _forget(self, key: str) -> None:
        if self._recent.pop(key, None) is not None:
            self._recent_total -= self._recent_chars.pop(key, 0)

    def _expire_recent(self) -> None:
        horizon = time.monotonic() - RECENT_RESULTS_TTL_S
        while self._recent and (
            len(self._recent) > RECENT_RESULTS_MAX
            or self._recent_total > RECENT_RESULTS_MAX_CHARS
            or next(iter(self._recent.values()))[0] < horizon
        ):
            self._forget(next(iter(self._recent)))


_LOST = object()


def _failure(error: SeshError) -> dict[str, Any]:
    return {"ok": False, "error": error.to_wire()}


def _send_all(link: LinkLike, frames: list[dict[str, Any]]) -> None:
    for frame in frames:
        link.send(frame)

