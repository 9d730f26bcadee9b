"""Mesh test helpers: real daemons linked over loopback, a TCP chaos proxy, convergence checks.

Every daemon listens on its own free loopback port with its own short SESH_HOME. Links are
written to peers.json (the same file `sesh peer add` writes) before start, or reloaded live.
Two men in the middle: `Proxy` moves bytes (cut, block, stall, throttle a link) and `Relay`
moves whole websocket messages (lose exactly one chosen message while the link stays up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from sesh_mesh.daemon.peers import Peer, load_peers, save_peers
from tests.harness import Daemon, free_port, uid
from tests.polling import eventually

MESH_ENV = {"SESH_TEST_MESH_HEARTBEAT_S": "2"}
"""Dead links are noticed within seconds instead of 40 s (the keepalive ping and its timeout)."""

CONVERGE_S = 20.0

NOBODY = "ws://127.0.0.1:9"
"""The address of a peer that does not listen (it dials us): connections there are refused."""


def mesh_daemon(machine: str, listen: bool = True, extra_env: dict[str, str] | None = None) -> Daemon:
    return Daemon(machine, listen=f"127.0.0.1:{free_port()}" if listen else None,
                  extra_env={**MESH_ENV, **(extra_env or {})})


def add_peer(daemon: Daemon, name: str, address: str, token: str) -> None:
    peers = load_peers(daemon.home)
    peers[name] = Peer(name, address, token)
    save_peers(daemon.home, peers)
    if daemon.process is not None:
        daemon.call("peers-reload")


def new_token() -> str:
    """A peer token as `sesh peer token` makes it: never starting with `-`, which a test passing
    it as `--token T` on a command line would have read as an option (1 draw in 64)."""
    token = secrets.token_urlsafe(32)
    return "_" + token[1:] if token.startswith("-") else token


def link(a: Daemon, b: Daemon, token: str | None = None, a_dials: str | None = None,
         b_dials: str | None = None) -> str:
    """Configure a and b as each other's peers (addresses default to the direct listen ports)."""
    token = token or new_token()
    adds = [(a, b.machine, a_dials or (b.url if b.listen else NOBODY)),
            (b, a.machine, b_dials or (a.url if a.listen else NOBODY))]
    if adds[0][2] != NOBODY and adds[1][2] == NOBODY:
        # Only a dials: b must know a first, or a's first dial is refused as from a stranger,
        # which is fatal and retried only after FATAL_RETRY_S (30 s): a flake under load.
        adds.reverse()
    for daemon, name, address in adds:
        add_peer(daemon, name, address, token)
    return token


@contextlib.contextmanager
def running(*daemons: Daemon) -> Iterator[list[Daemon]]:
    """Start the daemons; stop them and remove their homes however the test ends."""
    try:
        for daemon in daemons:
            if daemon.process is None:
                daemon.start()
        yield list(daemons)
    finally:
        for daemon in daemons:
            with contextlib.suppress(Exception):
                daemon.stop()
        for daemon in daemons:
            if not getattr(daemon, "keep_home", False):
                shutil.rmtree(daemon.home, ignore_errors=True)


@contextlib.contextmanager
def linked_pair() -> Iterator[tuple[Daemon, Daemon]]:
    """alpha and beta, each other's peers over their direct listen ports, running."""
    a, b = mesh_daemon("alpha"), mesh_daemon("beta")
    link(a, b)
    with running(a, b):
        yield a, b


def replica(daemon: Daemon) -> dict[str, dict[str, Any]]:
    return {r["uuid"]: r for r in daemon.call("replica")}


def digest(daemon: Daemon) -> set[tuple[str, str, int, bool, str]]:
    return {
        (r["uuid"], str(r.get("origin")), int(r["originSeq"]), bool(r.get("deleted")), str(r.get("name")))
        for r in daemon.call("replica")
    }


def vector(daemon: Daemon) -> dict[str, list[Any]]:
    return dict(daemon.call("status")["vector"])


def wait_converged(*daemons: Daemon, timeout: float = CONVERGE_S) -> set[tuple[str, str, int, bool, str]]:
    """Every daemon holds the same records (tombstones too) and the same per-origin marks."""

    def same() -> set[tuple[str, str, int, bool, str]]:
        digests = [digest(d) for d in daemons]
        vectors = [vector(d) for d in daemons]
        if all(d == digests[0] for d in digests) and all(v == vectors[0] for v in vectors):
            return digests[0] or {("empty", "", 0, False, "")}
        return set()

    try:
        return eventually(same, timeout, interval=0.1, what="the mesh to converge")
    except AssertionError:
        report = {d.machine: {"vector": vector(d), "records": len(digest(d)),
                              "peers": [{k: p.get(k) for k in ("name", "connected", "fatal", "lastError")}
                                        for p in d.call("status")["peers"]]} for d in daemons}
        raise AssertionError(f"no convergence: {json.dumps(report, indent=1)}") from None


def wait_linked(daemon: Daemon, *peers: str, timeout: float = CONVERGE_S) -> None:
    def linked() -> bool:
        states = {p["name"]: p for p in daemon.call("status")["peers"]}
        return all(states.get(name, {}).get("connected") and states[name].get("caughtUp") for name in peers)

    eventually(linked, timeout, what=f"{daemon.machine} linked with {peers}")


def register(daemon: Daemon, uuid: str, name: str = "", tags: list[str] | None = None) -> dict[str, Any]:
    record: dict[str, Any] = daemon.call(
        "register", {"agent": "claude", "sessionId": uuid, "cwd": "/tmp", "name": name or None, "tags": tags or []}
    )
    return record


def seed(daemon: Daemon, count: int, first: int = 1) -> None:
    """`count` records owned by the daemon, written in one transaction (`sesh import`)."""
    path = daemon.home / "seed.json"
    entries = [
        {"uuid": uid(n), "agent": "claude", "machine": daemon.machine, "cwd": "/tmp", "name": f"s{n}",
         "tags": ["seed"], "createdAt": "2026-11-21T10:00:00Z"}
        for n in range(first, first + count)
    ]
    path.write_text(json.dumps(entries))
    summary = daemon.call("import", {"path": str(path)})
    assert summary["imported"] == count, summary


# ---- a TCP proxy that can cut, block, stall and throttle a link ----------------------------------


@dataclass
class Proxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target>, counting bytes, on plain threads."""

    target: int
    port: int = 0
    up: int = 0
    down: int = 0
    accepted: int = 0
    blocked: bool = False
    stall_down: bool = False
    """Discard what flows back from the target (replies are lost in flight)."""
    rate: float | None = None
    """Bytes per second per direction, or None for full speed."""
    _pairs: list[tuple[socket.socket, socket.socket]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def __post_init__(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, name=f"proxy:{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.blocked:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, "down"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        try:
            while True:
                data = source.recv(4096 if self.rate else 65536)
                if not data:
                    break
                if direction == "down" and self.stall_down:
                    continue
                if self.rate:
                    time.sleep(len(data) / self.rate)
                if direction == "up":
                    self.up += len(data)
                else:
                    self.down += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Drop every current connection at once (both ends see the TCP connection die)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def block(self) -> None:
        self.blocked = True
        self.cut()

    def unblock(self) -> None:
        self.blocked = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()


@contextlib.contextmanager
def proxies(*targets: int) -> Iterator[list[Proxy]]:
    made = [Proxy(target) for target in targets]
    try:
        yield made
    finally:
        for proxy in made:
            proxy.close()


# ---- a websocket relay that can lose chosen messages -----------------------------------------


class Relay:
    """Relays ws://127.0.0.1:<port> to ws://127.0.0.1:<target> message by message, on its own loop.

    Each hop is a websocket of its own (its own compression context and keepalive), so dropping
    one message leaves both links healthy: exactly what a lost push on a live link looks like,
    which a byte proxy cannot fake (the permessage-deflate stream would break). `up` is the
    dialer → target direction, `down` the other.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.accepted = 0
        self.relayed: Counter[tuple[str, str]] = Counter()
        """Messages passed on, by (direction, type)."""
        self.dropped: list[dict[str, Any]] = []
        self._drop: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        name="relay", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the relay did not start")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def drop_next(self, direction: str, kind: str, count: int = 1) -> None:
        """Lose the next `count` messages of type `kind` (`t`) flowing in `direction`."""
        with self._lock:
            self._drop[direction] = (kind, count)

    def dropped_count(self) -> int:
        with self._lock:
            return len(self.dropped)

    def _should_drop(self, direction: str, text: str) -> bool:
        message = json.loads(text)
        with self._lock:
            kind, count = self._drop.get(direction, ("", 0))
            if count > 0 and message.get("t") == kind:
                self._drop[direction] = (kind, count - 1)
                self.dropped.append(message)
                return True
            self.relayed[direction, str(message.get("t"))] += 1
            return False

    def relayed_now(self) -> Counter[tuple[str, str]]:
        with self._lock:
            return Counter(self.relayed)

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._serve, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
            self.port = int(next(iter(server.sockets)).getsockname()[1])
            self._started.set()
            await self._stop.wait()
            server.close()

    async def _serve(self, inbound: ServerConnection) -> None:
        self.accepted += 1
        try:
            async with (
                connect(f"ws://127.0.0.1:{self.target}", max_size=None, ping_interval=None, open_timeout=5) as outbound,
                asyncio.TaskGroup() as tasks,
            ):
                tasks.create_task(self._pump(inbound, outbound, "up"))
                tasks.create_task(self._pump(outbound, inbound, "down"))
        except (OSError, TimeoutError):
            await inbound.close(1011, "relay cannot reach the target")

    async def _pump(self, source: ServerConnection | ClientConnection, sink: ServerConnection | ClientConnection,
                    direction: str) -> None:
        try:
            while True:  # ends when either hop closes
                text = await source.recv()
                assert isinstance(text, str)
                if not self._should_drop(direction, text):
                    await sink.send(text)
        except ConnectionClosed:
            pass
        finally:
            # One hop ended: end the other with the same close code, as the wire would show.
            code = source.close_code if source.close_code is not None else 1001
            with contextlib.suppress(Exception):
                await sink.close(code if code not in (1005, 1006) else 1001, source.close_reason or "")

    def close(self) -> None:
        stop = self._stop
        if stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()


@contextlib.contextmanager
def relays(*targets: int) -> Iterator[list[Relay]]:
    made: list[Relay] = []
    try:
        for target in targets:
            made.append(Relay(target))
        yield made
    finally:
        for relay in made:
            relay.close()


def log_line(daemon: Daemon, text: str, timeout: float = 10.0, interval: float = 0.05) -> str:
    """The daemon.log line containing `text` (waits until it appears, reading every `interval`)."""

    def find() -> str:
        log = (daemon.home / "daemon.log").read_text(errors="replace") if (daemon.home / "daemon.log").exists() else ""
        return next((line for line in log.splitlines() if text in line), "")

    return eventually(find, timeout, interval, what=f"{text!r} in {daemon.machine}'s daemon.log")
