"""The mesh: websocket links to peer daemons that replicate the store and carry forwarded calls.

One dialer task per configured peer (named `mesh:<peer>`) keeps one link up, reconnecting with
backoff; a wrong token or protocol is fatal (shown in `daemon status`, retried only slowly).
The listener (`[mesh] listen` / `--listen`) accepts links from configured peers. When both sides
dial each other, the link dialed by the machine whose name sorts first is kept. The protocol
itself is `store/replication.py`; this module only moves frames and keeps the books.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import WebSocketException

from sesh_mesh import clock
from sesh_mesh.daemon import mesh_tls
from sesh_mesh.daemon.mesh_link import Link, LinkOutcome
from sesh_mesh.daemon.mesh_rpc import FORWARDED_FROM, RELAYING, LinkLike, Rpc
from sesh_mesh.daemon.op_args import NoArgs
from sesh_mesh.daemon.ops import Emit, OpTable, op
from sesh_mesh.daemon.peers import Peer, load_peers
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.store import gc
from sesh_mesh.store.record import Record
from sesh_mesh.store.replication import Close, CloseCode, PeerSession, Role, Vector, lag
from sesh_mesh.store.store import Store

log = logging.getLogger(__name__)

HEARTBEAT_S = float(os.environ.get("SESH_TEST_MESH_HEARTBEAT_S") or 20.0)
"""websockets keepalive: a ping this often, and a link without a pong for as long is dead. An
idle mesh sends nothing else but the anti-entropy exchange (mesh_link.ANTI_ENTROPY_S). Tests
shorten it to see a cut cable within seconds."""

MAX_FRAME_BYTES = 4 * 1024 * 1024
"""Largest frame accepted (after decompression): 16 batches or 4 rpc chunks. A bigger frame
closes the link (1009) instead of being buffered."""

PREAUTH_MAX_FRAME_BYTES = 64 * 1024
"""Largest frame accepted from a connection that has not completed the hello: a hello is a few
hundred bytes, and a stranger must not make us buffer 4 MiB per socket. Raised to
MAX_FRAME_BYTES once the peer has authenticated."""

MAX_UNAUTHENTICATED_LINKS = 32
"""Inbound connections waiting for their hello at once; more are closed at once (1013), so a
flood of silent or slow clients is bounded in memory and sockets. Each one still gets only
AUTH_TIMEOUT_S to authenticate."""

OPEN_TIMEOUT_S = 10.0
"""TCP connect plus the websocket handshake."""

CLOSE_TIMEOUT_S = 2.0
"""How long a closing handshake may take before the socket is dropped."""

BACKOFF_INITIAL_S = 0.25
BACKOFF_MAX_S = 5.0
"""Reconnect delays double from the first to the last: a restarted peer is linked again within
seconds, and a dead one costs one connection attempt every five seconds."""

GC_INTERVAL_S = 3600.0
"""How often the daemon purges the tombstones that store/gc.py allows (and on `sesh daemon gc`)."""

FATAL_RETRY_S = 30.0
"""After a fatal refusal (wrong token, wrong machine, old protocol) the dialer tries again only
this rarely, or at once after `sesh peer add` reloads the peers."""


@dataclass
class PeerState:
    peer: Peer
    link: Link | None = None
    since: str | None = None
    last_contact: str | None = None
    last_error: str | None = None
    fatal: bool = False
    caught_up: bool = False
    known: Vector = field(default_factory=dict)
    """The peer's vector as last known, for lag while the link is down."""
    acked: Vector | None = None
    """What the peer last reported holding itself (None: not since this daemon started)."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dialer: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.link is not None and self.link.alive and self.link.session.is_open


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise UsageError(f"bad listen address {listen!r}", "write HOST:PORT, e.g. 100.64.0.2:7433")
    return host.strip("[]"), int(port_text)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class _PinMismatch(Exception):
    """The wss:// peer presented a certificate other than the pinned one (fatal)."""


@dataclass(frozen=True)
class ForwardArgs:
    machine: str
    op: str
    args: dict[str, Any] | None = None
    key: str | None = None
    """Idempotency key: a retried call with the same key takes effect once."""


class Mesh:
    """The mesh of one daemon; also the op table's `Forwarder`."""

    def __init__(
        self, *, machine: str, store: Store, sessions: Sessions, ops: OpTable, home: Path, listen: str | None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.machine = machine
        self.store = store
        self.sessions = sessions
        self.ops = ops
        self.home = home
        self.listen = listen
        self.tls = tls
        """The listener's certificate and key: peers dial wss:// (`[mesh] tls_cert`/`tls_key`)."""
        self.tls_fingerprint: str | None = None
        self.rpc = Rpc(ops, self)
        self.peers: dict[str, PeerState] = {}
        self.peers_error: SeshError | None = None
        self.listening: str | None = None
        self._server: Server | None = None
        self._tasks: asyncio.TaskGroup | None = None
        self._links: set[Link] = set()
        self._last_seen: dict[str, str] = {}
        self._route_event = asyncio.Event()
        self._stopping = False
        self.link_listeners: list[Callable[[str, bool, dict[str, Any]], None]] = []
        """Told `(peer, up, detail)` when a peer's link comes up or goes down (the event stream)."""

    # ---- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Read peers.json and bind the listener; a bad listen address stops the daemon loudly."""
        try:
            for name, peer in load_peers(self.home).items():
                self.peers[name] = PeerState(peer)
        except SeshError as exc:
            self.peers_error = exc
            log.error("mesh: %s (%s); no peers until it is fixed and reloaded", exc.what, exc.fix)
        listen = self.listen
        if listen:
            host, port = parse_listen(listen)
            tls_context: ssl.SSLContext | None = None
            if self.tls is not None:
                tls_context = mesh_tls.server_context(*self.tls)
                self.tls_fingerprint = mesh_tls.cert_fingerprint(self.tls[0])
            try:
                self._server = await serve(
                    self._serve_inbound, host, port, max_size=PREAUTH_MAX_FRAME_BYTES, ping_interval=HEARTBEAT_S,
                    ping_timeout=HEARTBEAT_S, open_timeout=OPEN_TIMEOUT_S, close_timeout=CLOSE_TIMEOUT_S,
                    server_header=None, ssl=tls_context,
                )
            except OSError as exc:
                raise SeshError(
                    f"cannot listen for peers on {listen}: {_describe(exc)}",
                    "pick a free address with --listen or [mesh] listen in config.toml",
                ) from None
            self.listening = listen
            if self.tls_fingerprint is not None:
                log.info("mesh: listening for peers on wss://%s (certificate %s)", listen, self.tls_fingerprint)
            else:
                log.info("mesh: listening for peers on %s", listen)
        self.store.subscribe(self._on_commit)

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            for state in self.peers.values():
                self._start_dialer(state)
            tasks.create_task(self._gc_loop(stop), name="mesh:tombstone-gc")
            await stop.wait()
            self._stopping = True
            await self._shutdown()
        self._tasks = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=False)
        # Closing handshakes run side by side: one silent peer must not eat the shutdown grace.
        await asyncio.gather(
            *(link.close(CloseCode.GOING_AWAY, "daemon stopping") for link in list(self._links)),
            return_exceptions=True,
        )
        if self._server is not None:
            await self._server.wait_closed()
        for state in self.peers.values():
            if state.dialer is not None:
                state.dialer.cancel()
        for inflight in list(self.rpc._inflight.values()):
            if inflight.task is not None:
                inflight.task.cancel()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None] | None:
        if self._tasks is None or self._stopping:
            coro.close()
            return None
        return self._tasks.create_task(coro, name=name)

    # ---- peers.json ------------------------------------------------------------------------

    def _start_dialer(self, state: PeerState) -> None:
        assert self._tasks is not None
        state.dialer = self._tasks.create_task(self._dial_loop(state), name=f"mesh:{state.peer.name}")

    async def reload(self) -> list[dict[str, Any]]:
        try:
            configured = load_peers(self.home)
        except SeshError as exc:
            self.peers_error = exc
            raise
        self.peers_error = None
        for name in [n for n in self.peers if n not in configured]:
            removed = self.peers.pop(name)
            if removed.dialer is not None:
                removed.dialer.cancel()
            if removed.link is not None:
                await removed.link.close(CloseCode.PEER_REMOVED, "peer removed")
            log.info("mesh: peer %s removed", name)
        for name, peer in configured.items():
            state = self.peers.get(name)
            if state is None:
                state = PeerState(peer)
                self.peers[name] = state
                if self._tasks is not None:
                    self._start_dialer(state)
                log.info("mesh: peer %s added (%s)", name, peer.address)
            elif state.peer != peer:
                state.peer, state.fatal, state.last_error = peer, False, None
                if state.link is not None:
                    await state.link.close(CloseCode.PEER_REMOVED, "peer settings changed")
                state.wake.set()
                log.info("mesh: peer %s changed (%s)", name, peer.address)
            elif state.fatal:
                state.wake.set()  # the other side may have been fixed: try again now
        self._routes_changed()
        return self.peer_list()

    def _token_for(self, machine: str) -> str | None:
        state = self.peers.get(machine)
        return state.peer.token if state is not None else None

    # ---- links -----------------------------------------------------------------------------

    async def _dial_loop(self, state: PeerState) -> None:
        delay = BACKOFF_INITIAL_S
        last_error: str | None = None
        while not self._stopping:
            while state.link is not None:
                state.changed.clear()
                await state.changed.wait()
            outcome = await self._dial_once(state)
            if outcome.fatal:
                pause = FATAL_RETRY_S
            elif outcome.authenticated or outcome.code == CloseCode.DUPLICATE_LINK:
                delay = pause = BACKOFF_INITIAL_S
            else:
                pause, delay = delay, min(delay * 2, BACKOFF_MAX_S)
            if outcome.error:
                level = logging.INFO if outcome.error == last_error else logging.WARNING
                log.log(level, "mesh: %s: %s; next attempt in %.1fs", state.peer.name, outcome.error, pause)
            last_error = outcome.error
            state.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.wake.wait(), pause)

    async def _dial_once(self, state: PeerState) -> LinkOutcome:
        peer = state.peer
        secure = peer.address.startswith("wss://")
        try:
            async with connect(
                peer.address, proxy=None, open_timeout=OPEN_TIMEOUT_S, close_timeout=CLOSE_TIMEOUT_S,
                max_size=MAX_FRAME_BYTES, ping_interval=HEARTBEAT_S, ping_timeout=HEARTBEAT_S,
                ssl=mesh_tls.client_context(peer.fingerprint) if secure else None,
            ) as ws:
                if secure and peer.fingerprint is not None:
                    tls_object = ws.transport.get_extra_info("ssl_object")
                    presented = tls_object.getpeercert(binary_form=True) if tls_object is not None else None
                    mismatch = mesh_tls.pin_mismatch(presented, peer.fingerprint, peer.name, peer.address)
                    if mismatch is not None:
                        # Before the hello: the token never reaches a certificate we did not pin.
                        await ws.close(CloseCode.WRONG_PEER, "certificate fingerprint mismatch")
                        raise _PinMismatch(mismatch)
                session = PeerSession(self.machine, self.store, Role.DIALER, expected_peer=peer.name, token=peer.token,
                                      lazy=True)
                link = Link(self, ws, session, dialed=True, address=peer.address)
                self._links.add(link)
                try:
                    outcome = await link.run()
                finally:
                    self._links.discard(link)
        except _PinMismatch as exc:
            outcome = LinkOutcome(False, CloseCode.WRONG_PEER, str(exc), fatal=True)
        except ssl.SSLCertVerificationError as exc:
            outcome = LinkOutcome(False, None, mesh_tls.verify_failed(exc, peer.name, peer.address), fatal=True)
        except (OSError, TimeoutError, WebSocketException) as exc:
            outcome = LinkOutcome(False, None, f"cannot connect to {peer.address}: {_describe(exc)}")
        if not outcome.authenticated and state.link is None and state.peer == peer:
            if outcome.error and (state.last_error is None or state.since is None):
                state.since = clock.now_iso()
            if outcome.error:
                state.last_error, state.fatal = outcome.error, outcome.fatal
        return outcome

    async def _serve_inbound(self, ws: ServerConnection) -> None:
        remote = ws.remote_address
        address = f"{remote[0]}:{remote[1]}" if isinstance(remote, tuple) else str(remote)
        if self._stopping:
            await ws.close(CloseCode.GOING_AWAY, "daemon stopping")
            return
        waiting = sum(1 for link in self._links if not link.dialed and link.peer is None)
        if waiting >= MAX_UNAUTHENTICATED_LINKS:
            log.warning("mesh: refused a connection from %s: %d connections are already waiting for their hello",
                        address, waiting)
            await ws.close(CloseCode.TRY_AGAIN_LATER, "too many unauthenticated connections")
            return
        session = PeerSession(self.machine, self.store, Role.LISTENER, tokens=self._token_for, lazy=True)
        link = Link(self, ws, session, dialed=False, address=address, max_frame_after_hello=MAX_FRAME_BYTES)
        self._links.add(link)
        try:
            await link.run()  # it logs how it ended
        finally:
            self._links.discard(link)

    async def link_authenticated(self, link: Link) -> Close | None:
        name = str(link.peer)
        state = self.peers.get(name)
        if state is None:
            return Close(CloseCode.PEER_REMOVED, "peer not configured here", f"{name} is not in peers.json")
        existing = state.link
        if existing is not None and existing is not link:
            keep = min(self.machine, name)
            if existing.dialer != link.dialer and link.dialer != keep:
                return Close(CloseCode.DUPLICATE_LINK, "duplicate link", f"keeping the link {keep} dialed")
        was_up = state.connected
        state.link = link
        if existing is not None and existing is not link:
            # Same dialer: the old connection is a dead one not noticed yet; else the tie-break.
            await existing.close(CloseCode.DUPLICATE_LINK, "duplicate link")
        state.since, state.last_error, state.fatal, state.caught_up = clock.now_iso(), None, False, False
        state.changed.set()
        self._routes_changed()
        log.info("mesh: linked with %s (%s %s)", name, link.direction, link.address)
        if not was_up:
            self._tell_link(name, True, {"address": link.address, "direction": link.direction})
        return None

    def link_closed(self, link: Link, outcome: LinkOutcome) -> None:
        self._links.discard(link)
        self.rpc.link_lost(link)
        name = link.peer
        state = self.peers.get(name) if name else None
        if state is None or state.link is not link:
            return
        now = clock.now_iso()
        state.link = None
        state.since = state.last_contact = now
        state.known = dict(link.session.peer_known)
        state.acked = dict(link.session.peer_acked)
        state.caught_up = False
        state.last_error, state.fatal = outcome.error, outcome.fatal
        for machine in {str(name), *link.peer_links}:
            self._last_seen[machine] = now
        state.changed.set()
        self._routes_changed()
        self.broadcast_links()
        self._tell_link(str(name), False, {"error": outcome.error})

    def _tell_link(self, peer: str, up: bool, detail: dict[str, Any]) -> None:
        for listener in self.link_listeners:
            listener(peer, up, detail)

    def configured_peers(self) -> set[str]:
        return set(self.peers)

    def peer_caught_up(self, link: Link) -> None:
        state = self.peers.get(str(link.peer))
        if state is not None and state.link is link:
            state.caught_up = True
            log.info("mesh: caught up with %s in %.2fs", link.peer, time.monotonic() - link.opened_at)

    def gossip_received(self, link: Link, machines: frozenset[str]) -> None:
        now = clock.now_iso()
        for machine in link.peer_links - machines:
            self._last_seen[machine] = now
        link.peer_links = machines - {self.machine}
        self._routes_changed()

    def broadcast_links(self) -> None:
        connected = {name for name, state in self.peers.items() if state.connected}
        for state in self.peers.values():
            if state.connected and state.link is not None:
                for command in state.link.session.links_message(connected):
                    state.link.send(command.message)

    def _on_commit(self, record: Record) -> None:
        for link in self._links:
            if link.session.committed(record):
                link.work.set()

    def mark_moved(self, origin: str, exclude: Link) -> None:
        # Records commit through the store listener; a mark can also move without any (an
        # empty batch), and the other peers must hear of it or they keep asking.
        for link in self._links:
            if link is not exclude and link.session.mark_moved(origin):
                link.work.set()

    async def epoch_changed(self, link: Link) -> None:
        """The store moved to a new epoch (seen on `link`, which closes itself): close the others."""
        others = [other for other in self._links if other is not link and other.alive]
        await asyncio.gather(
            *(other.close(CloseCode.EPOCH_CHANGED, "new epoch: reconnect", "this store moved to a new epoch")
              for other in others),
            return_exceptions=True,
        )

    def relay_loose(self, records: list[Record], exclude: Link) -> None:
        for link in self._links:
            if link is not exclude and link.session.relay_loose(records):
                link.work.set()

    # ---- routes (for forwarding) -----------------------------------------------------------

    def route(self, machine: str, direct_only: bool) -> tuple[LinkLike, bool] | None:
        state = self.peers.get(machine)
        if state is not None and state.connected and state.link is not None:
            return state.link, False
        if direct_only:
            return None
        for _, other in sorted(self.peers.items()):
            if other.connected and other.link is not None and machine in other.link.peer_links:
                return other.link, True
        return None

    async def wait_route(self, machine: str, direct_only: bool, within_s: float) -> tuple[LinkLike, bool] | None:
        deadline = time.monotonic() + within_s
        while (found := self.route(machine, direct_only)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._route_event.wait(), remaining)
        return found

    def routes_event(self) -> asyncio.Event:
        """Set at the next link up or down or route change (a fresh event after each): what
        `subscribe` waits on to re-send records whose staleness flipped."""
        return self._route_event

    def _routes_changed(self) -> None:
        self._route_event.set()
        self._route_event = asyncio.Event()

    def describe_down(self, machine: str) -> str:
        state = self.peers.get(machine)
        if state is None:
            seen = self._last_seen.get(machine)
            return (f"no peer link to it, and no linked peer reaches it (last seen {seen})" if seen
                    else "it is not a peer of this machine and no linked peer reaches it")
        parts = [f"link down since {state.since}" if state.since else "never linked"]
        if state.last_error:
            parts.append(f"last error: {state.last_error}")
        return ", ".join(parts)

    # ---- the Service's Forwarder -----------------------------------------------------------

    async def call(
        self,
        machine: str,
        op: str,
        args: dict[str, Any],
        key: str | None = None,
        *,
        ctx: dict[str, Any] | None = None,
        emit: Emit | None = None,
        limit_s: float | None = None,
    ) -> Any:
        return await self.rpc.call(machine, op, args, key=key, ctx=ctx, emit=emit, limit_s=limit_s)

    def is_connected(self, machine: str) -> bool:
        return self.route(machine, direct_only=False) is not None

    def last_contact(self, machine: str) -> str | None:
        if self.is_connected(machine):
            return clock.now_iso()
        state = self.peers.get(machine)
        return (state.last_contact if state is not None else None) or self._last_seen.get(machine)

    def peer_list(self) -> list[dict[str, Any]]:
        now = clock.now_iso()
        return [
            {
                **state.peer.public(),
                "connected": state.connected,
                "since": state.since,
                "lastContact": now if state.connected else state.last_contact,
                "lastError": state.last_error,
            }
            for _, state in sorted(self.peers.items())
        ]

    def status(self) -> list[dict[str, Any]]:
        held = Counter(str(record["machine"]) for record in self.sessions.all())
        entries = []
        for entry in self.peer_list():
            state = self.peers[entry["name"]]
            link = state.link if state.connected else None
            known = link.session.peer_known if link is not None else state.known
            entries.append({
                **entry,
                "fatal": state.fatal,
                "direction": link.direction if link is not None else None,
                "caughtUp": state.caught_up,
                "lag": lag(self.store, known),
                "recordsHeld": held.get(entry["name"], 0),
            })
        return entries

    def doctor(self) -> list[dict[str, str]]:
        checks: list[dict[str, str]] = []
        if self.tls_fingerprint is not None:
            checks.append({"check": "mesh-tls", "status": "ok", "fix": "",
                           "detail": f"peers dial wss://{self.listening}; certificate {self.tls_fingerprint}"})
        if self.peers_error is not None:
            checks.append({"check": "peers", "status": "fail", "detail": self.peers_error.what,
                           "fix": self.peers_error.fix})
        elif not self.peers:
            checks.append({"check": "peers", "status": "ok", "detail": "no peers (this machine sees only its own "
                           "sessions)", "fix": "sesh peer add NAME ws://HOST:PORT --token T"})
        for name, state in sorted(self.peers.items()):
            check = f"peer {name}"
            if state.connected:
                checks.append({"check": check, "status": "ok", "fix": "",
                               "detail": f"connected since {state.since} ({state.peer.address}), token accepted"})
            elif state.fatal and "TLS certificate" in str(state.last_error):
                checks.append({"check": check, "status": "fail", "detail": str(state.last_error),
                               "fix": f"run `sesh daemon tls-fingerprint` on {name} and pin that: sesh peer add "
                                      f"{name} {state.peer.address} --token T --fingerprint SHA256:…"})
            elif state.fatal:
                checks.append({"check": check, "status": "fail", "detail": str(state.last_error),
                               "fix": f"use the same token on both machines (sesh peer add {name} "
                                      f"{state.peer.address} --token T here, and the same there)"})
            else:
                checks.append({"check": check, "status": "warn",
                               "detail": f"unreachable at {state.peer.address}: {state.last_error or 'not linked yet'}",
                               "fix": f"check that {name}'s daemon runs with [mesh] listen on that address"})
        return checks

    def vector(self) -> dict[str, list[Any]]:
        return {origin: [epoch, seq] for origin, (epoch, seq) in sorted(self.store.vector().items())}

    # ---- tombstone GC ----------------------------------------------------------------------

    def _acked(self, state: PeerState) -> Vector | None:
        link = state.link if state.connected else None
        return dict(link.session.peer_acked) if link is not None else state.acked

    async def collect_tombstones(self) -> dict[str, Any]:
        """Purge the tombstones every configured peer has acknowledged, older than the horizon."""
        acks = {name: self._acked(state) for name, state in self.peers.items()}
        if self.peers_error is not None:
            return {"purged": [], "heldBack": {}, "young": 0, "horizonS": gc.HORIZON_S,
                    "note": f"peers.json is broken ({self.peers_error.what}): nothing purged"}
        plan = gc.plan(gc.tombstones(self.sessions.all()), self.store.vector(), acks, time.time(), gc.HORIZON_S)
        purged = await self.store.purge(plan.purge)
        if purged or plan.held_back:
            log.info("mesh: tombstone gc purged %d; held back by %s", len(purged), plan.held_back or "nobody")
        return {"purged": purged, "heldBack": plan.held_back, "young": plan.young, "horizonS": gc.HORIZON_S}

    async def _gc_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), GC_INTERVAL_S)
            if not stop.is_set():
                await self.collect_tombstones()

    # ---- operations ------------------------------------------------------------------------

    @op("replica", NoArgs)
    async def op_replica(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Every record held, tombstones included, as stored (convergence checks, debugging)."""
        return sorted(self.sessions.all(), key=lambda record: str(record["uuid"]))

    @op("gc", NoArgs)
    async def op_gc(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Purge tombstones older than the horizon that every configured peer has acknowledged."""
        return await self.collect_tombstones()

    @op("peers", NoArgs)
    async def op_peers(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The configured peers and their links."""
        return self.peer_list()

    @op("peers-reload", NoArgs, forwardable=False)
    async def op_peers_reload(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Reread peers.json and relink (local only)."""
        return await self.reload()

    @op("forward", ForwardArgs)
    async def op_forward(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Run an op on a named machine (a relay when a peer has no direct link)."""
        machine, name, op_args = _forward_args(args)
        return await self.ops.run_on(machine, name, op_args, ctx, key=args.get("key"))

    @op("forward-stream", ForwardArgs, stream=True)
    async def op_forward_stream(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """`forward` for a streaming op: its items are passed on as they come."""
        machine, name, op_args = _forward_args(args)
        return await self.ops.run_on(machine, name, op_args, ctx, emit, key=args.get("key"))


def _forward_args(args: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    machine, name, op_args = str(args["machine"]), str(args["op"]), dict(args.get("args") or {})
    if FORWARDED_FROM.get() is not None:
        if name in ("forward", "forward-stream"):
            raise SeshError("a forwarded call cannot be relayed twice", "link the machines directly")
        RELAYING.set(True)  # this call's task only: one more hop, over a direct link
    return machine, name, op_args
