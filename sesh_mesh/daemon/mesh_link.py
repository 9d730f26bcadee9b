"""One websocket to a peer daemon: feeds frames to its PeerSession and carries out the commands.

A link owns four tasks in its own TaskGroup: the reader (which also applies batches, so a slow
store slows the peer down instead of buffering without bound), the writer (the only sender, in
queue order) and, once authenticated, the flusher that coalesces live pushes and the
anti-entropy timer that asks the peer for its vector every ANTI_ENTROPY_S to heal a lost push.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

from websockets.asyncio.connection import Connection
from websockets.exceptions import ConnectionClosed

from sesh_mesh.daemon.mesh_rpc import Rpc
from sesh_mesh.store.record import Record
from sesh_mesh.store.replication import (
    FATAL_CODES,
    Apply,
    Authenticated,
    Close,
    CloseCode,
    Command,
    Deliver,
    Note,
    PeerCaughtUp,
    PeerLinks,
    PeerSession,
    Send,
    Stream,
)
from sesh_mesh.store.store import Store

log = logging.getLogger("sesh_mesh.daemon.mesh")

AUTH_TIMEOUT_S = 10.0
"""A connection that has not completed the hello exchange by then is closed (a slow or silent
client must not hold a socket forever)."""

PUSH_COOLDOWN_S = 0.01
"""After a push, further commits wait this long and leave in one batch: a burst of writes
coalesces, while a lone write still leaves at once. Well below the TUI's redraw interval."""

ANTI_ENTROPY_S = float(os.environ.get("SESH_TEST_MESH_ANTI_ENTROPY_S") or 60.0)
"""Each side of an open link probes the peer's vector this often and sends again whatever a
lost push left missing; the hello does the same on every (re)connect. Idle, it
costs two small frames per side per interval. Tests shorten it to see a heal within seconds."""

CLOSE_REASON_MAX = 120
"""A websocket close frame carries at most 123 bytes of reason."""

NORMAL_CLOSES = frozenset({1000, 1001})


@dataclass(frozen=True)
class LinkOutcome:
    authenticated: bool
    code: int | None
    error: str | None
    """Why the link ended when that is worth showing (None: a normal end)."""
    fatal: bool = False


class LinkHost(Protocol):
    """What a link needs from the mesh that owns it."""

    machine: str
    store: Store
    rpc: Rpc

    async def link_authenticated(self, link: Link) -> Close | None: ...

    def link_closed(self, link: Link, outcome: LinkOutcome) -> None: ...

    def relay_loose(self, records: list[Record], exclude: Link) -> None: ...

    def mark_moved(self, origin: str, exclude: Link) -> None: ...

    async def epoch_changed(self, link: Link) -> None: ...

    def broadcast_links(self) -> None: ...

    def peer_caught_up(self, link: Link) -> None: ...

    def configured_peers(self) -> set[str]: ...

    def gossip_received(self, link: Link, machines: frozenset[str]) -> None: ...


class Link:
    def __init__(self, host: LinkHost, ws: Connection, session: PeerSession, *, dialed: bool, address: str,
                 max_frame_after_hello: int | None = None) -> None:
        self.host = host
        self.max_frame_after_hello = max_frame_after_hello
        """The frame limit once the peer has authenticated; until then the connection's own
        (small) limit holds, so a stranger cannot make us buffer large frames."""
        self.ws = ws
        self.session = session
        self.dialed = dialed
        self.address = address
        self.calls: dict[str, asyncio.Queue[tuple[str, Any]]] = {}
        self.partial: dict[str, list[str]] = {}
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.work = asyncio.Event()
        self.peer_links: frozenset[str] = frozenset()
        self.alive = True
        self.opened_at = time.monotonic()
        self._outcome: LinkOutcome | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._recovering = False
        """This link opened while the store was recovering from a reset: until its catch-up is
        complete it may return our own origin's records (docs/mesh-protocol.md, Epochs)."""
        self._anti_entropy: asyncio.Task[None] | None = None

    @property
    def peer(self) -> str | None:
        return self.session.peer

    @property
    def dialer(self) -> str:
        """The machine that opened this connection (the duplicate-link tie-break uses it)."""
        return self.host.machine if self.dialed else str(self.session.peer)

    @property
    def direction(self) -> str:
        return "out" if self.dialed else "in"

    @property
    def label(self) -> str:
        who = self.peer or self.session.expected_peer or "unauthenticated peer"
        return f"{who} ({self.direction} {self.address})"

    def send(self, message: dict[str, Any]) -> None:
        if self.alive:
            self.outbox.put_nowait(message)

    async def close(self, code: int, reason: str, detail: str = "", fatal: bool = False) -> None:
        if self._outcome is None:
            error = None if code in NORMAL_CLOSES or code == CloseCode.DUPLICATE_LINK else (detail or reason)
            self._outcome = LinkOutcome(self.session.peer is not None, code, error, fatal)
        self.alive = False
        await self.ws.close(code, reason.encode()[:CLOSE_REASON_MAX].decode(errors="ignore"))

    async def run(self) -> LinkOutcome:
        try:
            async with asyncio.TaskGroup() as tasks:
                writer = tasks.create_task(self._write(), name=f"mesh:{self.address}:write")
                try:
                    await self._read(tasks)
                finally:
                    self.alive = False
                    writer.cancel()
                    for task in (self._flusher, self._anti_entropy):
                        if task is not None:
                            task.cancel()
        finally:
            self.alive = False
            outcome = self._outcome or LinkOutcome(self.session.peer is not None, None, None)
            self.host.link_closed(self, outcome)
        return outcome

    # ---- reading -------------------------------------------------------------------------

    async def _read(self, tasks: asyncio.TaskGroup) -> None:
        try:
            await self._execute(self.session.start())
            try:
                async with asyncio.timeout(AUTH_TIMEOUT_S):
                    while self.alive and not self.session.is_open:
                        commands = self.session.receive(await self.ws.recv())
                        if self.session.peer is not None and self.max_frame_after_hello is not None:
                            # Before anything is answered: the peer's catch-up may follow at once.
                            self.ws.protocol.max_message_size = self.max_frame_after_hello
                        await self._execute(commands)
            except TimeoutError:
                await self.close(CloseCode.POLICY, f"no hello within {AUTH_TIMEOUT_S:.0f}s")
                log.warning("mesh: closed %s: no hello within %.0fs", self.label, AUTH_TIMEOUT_S)
                return
            if not self.alive:
                return
            self._flusher = tasks.create_task(self._flush_loop(), name=f"mesh:{self.peer}:push")
            self._anti_entropy = tasks.create_task(self._anti_entropy_loop(), name=f"mesh:{self.peer}:anti-entropy")
            while self.alive:
                await self._execute(self.session.receive(await self.ws.recv()))
        except ConnectionClosed as exc:
            self._closed_by_peer(exc)
        except Exception as exc:
            # A bug or a store failure on one link must not take the daemon down: log it, close
            # the link with a reason, and let the dialer reconnect (a fresh hello resyncs).
            log.exception("mesh: link %s failed", self.label)
            await self.close(CloseCode.INTERNAL_ERROR, "internal error", f"internal error: {exc!r}")

    def _closed_by_peer(self, exc: ConnectionClosed) -> None:
        if self._outcome is not None:
            return
        received, sent = exc.rcvd, exc.sent
        authenticated = self.session.peer is not None
        if received is not None and (sent is None or exc.rcvd_then_sent):
            code, reason = received.code, received.reason
            error = None if code in NORMAL_CLOSES or code == CloseCode.DUPLICATE_LINK else (
                f"closed by the peer: {reason or 'no reason'} ({code})")
            if code == CloseCode.GOING_AWAY:
                error = "the peer went away (daemon stopping)"
            fatal = code in FATAL_CODES
        elif sent is not None:
            # The websockets layer closed it here: a frame over the limit, a keepalive timeout.
            code, error, fatal = sent.code, f"closed here: {sent.reason or 'no reason'} ({sent.code})", False
        else:
            code, error, fatal = None, "connection lost", False
        self._outcome = LinkOutcome(authenticated, code, error, fatal)
        if self.dialed:
            return  # the dialer logs the outcome together with its next attempt
        if error:
            log.warning("mesh: link %s ended: %s", self.label, error)
        else:
            log.info("mesh: link %s closed", self.label)

    async def _execute(self, commands: list[Command]) -> None:
        registered = False
        for command in commands:
            if not self.alive:
                break
            if isinstance(command, Send):
                self.send(command.message)
            elif isinstance(command, Apply):
                store = self.host.store
                if command.origin == store.machine and await self._restored(command):
                    return
                applied = await store.apply_batch(
                    command.origin, command.epoch, command.records, command.from_seq, command.to_seq,
                    hwm=command.hwm, loose=command.loose, adopt_own=self._recovering or store.recovering,
                )
                if applied.loose and applied.changed:
                    self.host.relay_loose(applied.changed, self)
                if applied.mark_moved:
                    self.host.mark_moved(command.origin, self)
            elif isinstance(command, Close):
                log.warning("mesh: closing %s: %s", self.label, command.detail or command.reason)
                await self.close(command.code, command.reason, command.detail, command.fatal)
            elif isinstance(command, Stream):
                for item in command.commands:
                    if not self.alive:
                        break
                    await self._execute([item])
                    if isinstance(item, Send):
                        # Let the writer send this batch while the next one is encoded: the peer
                        # applies the first batches of a catch-up while we build the rest.
                        await asyncio.sleep(0)
            elif isinstance(command, Authenticated):
                refusal = await self.host.link_authenticated(self)
                if refusal is not None:
                    log.info("mesh: closing %s: %s", self.label, refusal.detail or refusal.reason)
                    await self.close(refusal.code, refusal.reason, refusal.detail, refusal.fatal)
                    return
                if await self._own_conflict():
                    return
                registered = True
                # Only a catch-up our hello asked for our own records counts for the window.
                self._recovering = self.host.store.recovering and self.session.asked_own_back
            elif isinstance(command, PeerCaughtUp):
                store = self.host.store
                if self._recovering and store.recovering:
                    # One peer's catch-up is not enough: a peer that was behind returns only what
                    # it held, and a newer version of ours may sit on another one. The window
                    # closes once every configured peer has caught this store up.
                    store.recovered_from.add(str(self.peer))
                    waiting = self.host.configured_peers() - store.recovered_from
                    if not waiting:
                        restamped = await store.end_recovery()
                        log.info("mesh: every peer has caught this reset store up; its recovery window is closed "
                                 "(%d versions of ours from before it written again)", len(restamped))
                    else:
                        log.info("mesh: %s caught this reset store up; the recovery window stays open for %s",
                                 self.label, ", ".join(sorted(waiting)))
                self._recovering = False
                self.host.peer_caught_up(self)
            elif isinstance(command, PeerLinks):
                self.host.gossip_received(self, command.machines)
            elif isinstance(command, Deliver):
                try:
                    self.host.rpc.on_frame(self, command.message)
                except ValueError as exc:
                    await self.close(CloseCode.INVALID_DATA, f"bad rpc frame: {exc}")
            elif isinstance(command, Note):
                log.info("mesh: %s", command.text)
        if registered:
            # After the hello and catch-up are queued: the peer must see our hello first.
            self.host.broadcast_links()
            if self.session.has_work:
                self.work.set()

    async def _restored(self, command: Apply) -> bool:
        """The peer sent back versions of ours this store never holds in its lineage (a restore it
        could not see in the marks): start a new epoch, as for a mark inside a jump."""
        store = self.host.store
        lost = len(store.lost_to_restore(command.epoch, command.records))
        conflict = store.restore_evidence(command.epoch, command.records)
        if conflict is None:
            return False
        restamped = await store.rebase(conflict)
        log.warning("mesh: %s sent back %d lost versions of ours: %s; counter now %d, %d versions written "
                    "again, new epoch %s", self.label, lost, conflict.why, store.own_seq,
                    len(restamped), store.epoch)
        await self._relink_all()
        return True

    async def _own_conflict(self) -> bool:
        """The peer's hello holds seqs of our own origin our counter does not cover: rebase the
        store (docs/mesh-protocol.md, Epochs). True when the link closes for a new epoch."""
        store = self.host.store
        mark = self.session.hello_vector.get(store.machine)
        if mark is not None and store.recovering and mark[0] not in store.epochs:
            # Inside the window every other lineage of ours is an older one (the window opened
            # with a new epoch): remember it, so that a peer restored from an old copy that shows
            # it later is not taken for proof that this store was restored (a needless epoch).
            await store.remember_lineage(mark[0])
        conflict = store.own_conflict(mark)
        if conflict is None:
            return False
        restamped = await store.rebase(conflict)
        log.warning("mesh: %s: %s; counter now %d, %d versions written again%s", self.label, conflict.why,
                    store.own_seq, len(restamped), f", new epoch {store.epoch}" if conflict.new_epoch else "")
        if not conflict.new_epoch:
            return False
        await self._relink_all()
        return True

    async def _relink_all(self) -> None:
        """This store moved to a new epoch: every link closes, so that every peer's next hello
        sees the new lineage and asks back (`recovering`) for every record of ours it holds. A
        link left open would never send its catch-up again, and the window would wait for it."""
        await self.host.epoch_changed(self)
        await self.close(CloseCode.EPOCH_CHANGED, "new epoch: reconnect", "this store moved to a new epoch")

    # ---- writing -------------------------------------------------------------------------

    async def _write(self) -> None:
        try:
            while True:
                message = await self.outbox.get()
                await self.ws.send(encode_frame(message))
        except ConnectionClosed:
            return

    async def _flush_loop(self) -> None:
        while self.alive:
            await self.work.wait()
            self.work.clear()
            await self._execute(self.session.flush())
            await asyncio.sleep(PUSH_COOLDOWN_S)

    async def _anti_entropy_loop(self) -> None:
        # Ends with the link: cancelled by run() when the reader stops, and never outlives it.
        while self.alive:
            await asyncio.sleep(ANTI_ENTROPY_S)
            await self._execute(self.session.anti_entropy_due())


def encode_frame(message: dict[str, Any]) -> str:
    """The frame's text. A string that UTF-8 cannot carry (a lone surrogate, which every entry
    refuses, so only a bug or an old record) travels as a JSON escape instead of killing the writer."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        log.warning("mesh: a %s frame holds text that is not valid UTF-8; sending it escaped", message.get("t"))
        return json.dumps(message, separators=(",", ":"))
    return text
