"""The daemon's composition root and lifecycle: one per SESH_HOME (an flock), logging, signals,
staged shutdown.

`serve` builds every part by hand in dependency order; each part takes what it needs in its
constructor and declares its ops with `@op` (daemon/ops.py), which land in the one op table.
See docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import IO, Any

from sesh_mesh.config import Config, socket_path
from sesh_mesh.daemon.agent_ops import AgentOps
from sesh_mesh.daemon.api import ApiServer
from sesh_mesh.daemon.autoname_ops import Autonamer
from sesh_mesh.daemon.control import Control
from sesh_mesh.daemon.event_log import EventLog
from sesh_mesh.daemon.event_ops import EventOps
from sesh_mesh.daemon.hooks import Hooks
from sesh_mesh.daemon.mesh import Mesh
from sesh_mesh.daemon.notify import Notifier
from sesh_mesh.daemon.ops import OpTable, ops_of
from sesh_mesh.daemon.schema_ops import SchemaOps
from sesh_mesh.daemon.search_ops import SearchOps
from sesh_mesh.daemon.service import Service
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.stream_ops import StreamOps
from sesh_mesh.daemon.tmux_status import TmuxStatus
from sesh_mesh.daemon.transcript_ops import TranscriptOps
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.errors import SeshError
from sesh_mesh.paths import PRIVATE_DIR_MODE, loose_modes
from sesh_mesh.store.record import Record
from sesh_mesh.store.store import Store, StoreMachineMismatch

log = logging.getLogger("sesh_mesh.daemon")

SHUTDOWN_GRACE_S = 5.0
"""How long background tasks get to finish after a stop before they are cancelled."""


class HomeLocked(SeshError):
    pass


def lock_home(home: Path) -> IO[str]:
    """Hold `$SESH_HOME/daemon.lock` for the process lifetime; a second daemon is refused."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = (home / "daemon.lock").open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise HomeLocked(
            f"another sesh daemon (pid {holder}) already serves {home}",
            "use it, or stop it with `sesh daemon stop`",
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def secure_home(home: Path) -> list[str]:
    """Make SESH_HOME private before anything is written: 0700, every file in it 0600, and every
    file the daemon creates 0600 (umask). Refuses a SESH_HOME that belongs to another user.
    Returns what it tightened, for the log."""
    os.umask(0o077)
    home.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    owner = home.stat().st_uid
    if owner != os.geteuid():
        raise SeshError(
            f"SESH_HOME {home} belongs to uid {owner}, not to this user (uid {os.geteuid()})",
            "point SESH_HOME at a directory of your own",
        )
    tightened = []
    for path, mode in loose_modes(home):
        wanted = PRIVATE_DIR_MODE if path == home else mode & ~0o077
        os.chmod(path, wanted)
        tightened.append(f"{path} {mode:o} -> {wanted:o}")
    return tightened


def setup_logging(home: Path, foreground: bool) -> None:
    handlers: list[logging.Handler] = [logging.FileHandler(home / "daemon.log")]
    if foreground and sys.stderr.isatty():
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=os.environ.get("SESH_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


class Daemon:
    """Every part of one daemon, built in dependency order, and the tasks it runs."""

    def __init__(self, store: Store, home: Path, machine: str, config: Config, listen: str | None) -> None:
        self.stop = asyncio.Event()
        self.store = store
        self.sessions = Sessions(store, machine)
        self.ops = OpTable(machine, self.sessions)
        tls = (config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
        self.mesh = Mesh(machine=machine, store=store, sessions=self.sessions, ops=self.ops, home=home, listen=listen,
                         tls=tls)
        self.ops.forwarder = self.mesh
        self.events = EventOps(store, machine, self.stop, home, config)
        self.mesh.link_listeners.append(self.events.peer_changed)
        self.watcher = Watcher(store, self.sessions, machine)
        self.event_log = EventLog(self.events.hub, self.events.log_path)
        self.hooks = Hooks(self.events.hub, self.events.settings, home)
        self.notifier = Notifier(self.events.hub, self.sessions, machine, home, self.events.settings,
                                 self.watcher.sockets)
        self.service = Service(store=store, sessions=self.sessions, ops=self.ops, links=self.mesh, machine=machine,
                               home=home, config=config, listen=listen, stop_requested=self.stop,
                               after_register=self._scan_for_new_agent)
        self.agents = AgentOps(self.service, self.sessions, self.watcher)
        self.control = Control(self.service, self.sessions, self.watcher)
        self.transcripts = TranscriptOps(self.service, self.sessions, self.watcher)
        self.search = SearchOps(self.service, self.sessions, self.watcher)
        self.autonamer = Autonamer(self.service, self.sessions, self.watcher, self.transcripts)
        self.tmux_status = TmuxStatus(store, self.sessions, self.watcher)
        for part in (self.service, self.mesh, self.agents, self.control, self.transcripts, self.search,
                     self.autonamer, self.tmux_status):
            self.ops.add(ops_of(part))
        self.ops.add(ops_of(self.events))
        self.ops.add(ops_of(self.notifier))
        self.ops.add(ops_of(self.hooks))
        self.ops.add(ops_of(StreamOps(self.control)))
        self.ops.when_owner_unreachable("mutate", self.service.mutate_unreachable_owner)
        self.ops.add(ops_of(SchemaOps(self.ops)))
        self.api = ApiServer(self.ops, socket_path(home), notice=self.service.config_file.notice)
        # Any committed record of this machine's (an import, a rename, one adopted back from a peer)
        # may need its state derived: wake the watcher rather than leave it to the next tick. Other
        # machines' records are never derived here, and a catch-up commits thousands of them.
        store.subscribe(lambda record: self.watcher.wake.set() if record.get("machine") == machine else None)
        self.tasks: list[asyncio.Task[Any]] = []

    async def _scan_for_new_agent(self, record: Record) -> None:
        """A new session's agent may already run: find it before the registration returns."""
        self.watcher.wake.set()
        await self.watcher.tick(force_scan=True)

    def background(self, discover_auto: bool) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        jobs = [
            ("mesh", self.mesh.run(self.stop)),
            ("agents:watch", self.watcher.run(self.stop)),
            ("agents:tmux-status", self.tmux_status.run(self.stop)),
            ("transcripts:search-index", self.search.run(self.stop)),
            ("transcripts:autoname", self.autonamer.run(self.stop)),
            ("events:turn-ends", self.events.run(self.stop)),
            ("events:log", self.event_log.run(self.stop)),
            ("events:hooks", self.hooks.run(self.stop)),
            ("events:notify", self.notifier.run(self.stop)),
        ]
        # Always running: `[discover] auto` is read each round, so turning it on or off applies live.
        jobs.append(("agents:auto-discover", self.agents.auto_discover(self.stop, discover_auto)))
        return jobs


async def serve(home: Path, machine: str, config: Config, listen: str | None) -> None:
    try:
        store = await Store.open(home / "store.sqlite", machine)
    except StoreMachineMismatch as exc:
        raise SeshError(
            f"the store in {home} belongs to machine {exc.stored!r}, not {exc.asked!r}",
            "set SESH_MACHINE to the store's machine or use another SESH_HOME",
        ) from None
    daemon = Daemon(store, home, machine, config, listen)
    stop = daemon.stop
    http = None
    if config.http_listen:
        # The web stack and the MCP SDK load only when the HTTP door is on (docs/http.md).
        from sesh_mesh.web.server import HttpDoor

        http = HttpDoor(daemon.ops, home, config.http_listen, config.http_token)
        try:
            http.open()
        except BaseException:
            await store.close()
            raise
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("daemon %s starting (pid %s, store epoch %s)", machine, os.getpid(), store.epoch)
    if listen is None:
        log.warning("no [mesh] listen address: peers cannot reach this machine")
    try:
        await daemon.mesh.open()
        async with asyncio.TaskGroup() as group:
            owned = [group.create_task(job, name=name) for name, job in daemon.background(config.discover_auto)]
            if http is not None:
                owned.append(group.create_task(http.run(stop), name="http"))
            await daemon.api.start()
            # What start-up built (modules, the loaded store's records) lives as long as the
            # daemon: keep the cyclic collector from walking it again on every full collection,
            # which a catch-up of thousands of records otherwise triggers mid-way.
            gc.collect()
            gc.freeze()
            log.info("serving %s", daemon.api.path)
            await stop.wait()
            log.info("stopping")
            await daemon.control.shutdown()  # before the API closes: their waiters hear how it ended
            await daemon.api.close()
            # The daemon's own tasks watch `stop` and end themselves; the grace bounds a wedged one.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*owned, return_exceptions=True), SHUTDOWN_GRACE_S)
            for task in owned:
                task.cancel()
    finally:
        await daemon.control.shutdown()
        await daemon.api.close()
        await store.close()
        log.info("stopped")


def run(home: Path, machine: str, config: Config, listen: str | None, foreground: bool = True) -> int:
    tightened = secure_home(home)
    lock = lock_home(home)
    try:
        setup_logging(home, foreground)
        for change in tightened:
            log.warning("tightened a mode other users could read: %s", change)
        asyncio.run(serve(home, machine, config, listen))
    finally:
        lock.close()
    return 0
