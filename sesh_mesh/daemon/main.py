"""Daemon process lifecycle: one per SESH_HOME (an flock), logging, signals, staged shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from sesh_mesh.config import Config, socket_path
from sesh_mesh.daemon.api import ApiServer
from sesh_mesh.daemon.service import Service
from sesh_mesh.errors import SeshError
from sesh_mesh.store.store import Store, StoreMachineMismatch

log = logging.getLogger("sesh_mesh.daemon")

SHUTDOWN_GRACE_S = 5.0
"""How long background tasks get to finish after a stop before they are cancelled."""

Extension = Callable[[Service, ApiServer, asyncio.TaskGroup, asyncio.Event], Awaitable[None]]
"""A part of the daemon that plugs in at start (mesh, agents): registers ops, starts tasks."""

EXTENSIONS: list[Extension] = []


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


async def serve(home: Path, machine: str, config: Config, listen: str | None) -> None:
    try:
        store = await Store.open(home / "store.sqlite", machine)
    except StoreMachineMismatch as exc:
        raise SeshError(
            f"the store in {home} belongs to machine {exc.stored!r}, not {exc.asked!r}",
            "set SESH_MACHINE to the store's machine or use another SESH_HOME",
        ) from None
    service = Service(store=store, machine=machine, home=home, config=config, listen=listen)
    api = ApiServer(service, socket_path(home))
    stop = service.stop_requested
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("daemon %s starting (pid %s, store epoch %s)", machine, os.getpid(), store.epoch)
    if listen is None:
        log.warning("no [mesh] listen address: peers cannot reach this machine")
    try:
        async with asyncio.TaskGroup() as tasks:
            for extension in EXTENSIONS:
                await extension(service, api, tasks, stop)
            await api.start()
            log.info("serving %s", api.path)
            await stop.wait()
            log.info("stopping")
            await api.close()
            # Background tasks watch `stop` and end themselves; the grace bounds a wedged one.
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), SHUTDOWN_GRACE_S)
            for task in pending:
                task.cancel()
    finally:
        await api.close()
        await store.close()
        log.info("stopped")


def run(home: Path, machine: str, config: Config, listen: str | None, foreground: bool = True) -> int:
    lock = lock_home(home)
    try:
        setup_logging(home, foreground)
        asyncio.run(serve(home, machine, config, listen))
    finally:
        lock.close()
    return 0
