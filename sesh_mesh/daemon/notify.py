"""`[notify]`: tell the user when a session they are not looking at needs input or finished a
turn: a desktop notification (`notify-send`, or `osascript` on macOS, when present), a tmux
message on every attached client, and a bell.

"Looking at" means: the session runs on this machine and its pane is the active pane of an
attached tmux client. Sessions switched off with `sesh notify <uuid> --off` stay quiet; that
choice is this machine's (`$SESH_HOME/notify.json`), not the record's: notifications are a
local effect, and muting one must work while its owner is unreachable. docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh.agents.tmux import TmuxError, literal, run_command
from sesh_mesh.daemon.events import Dropped, Event, EventHub
from sesh_mesh.daemon.ops import op
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.errors import SeshError
from sesh_mesh.event_config import EventSettings, Notify

log = logging.getLogger(__name__)

DESKTOP_TIMEOUT_S = 5.0
"""notify-send / osascript normally return at once; a hung one is abandoned."""

CLIENT_FORMAT = "#{client_name}\t#{client_tty}\t#{pane_id}"

MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class NotifyArgs:
    uuid: str
    on: bool | None = None
    """Switch notifications for the session on (true) or off (false); absent: only report."""


class MuteList:
    """The sessions whose notifications are off on this machine, kept in `path` (JSON)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.off: set[str] = set()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.off = {u for u in data.get("off", []) if isinstance(u, str)}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("notify: %s is unreadable (%s); every session notifies until it is rewritten", path, exc)

    def set(self, uuid: str, on: bool) -> None:
        wanted = self.off - {uuid} if on else self.off | {uuid}
        if wanted == self.off:
            return
        temp = self.path.with_suffix(".tmp")
        try:
            temp.write_text(json.dumps({"off": sorted(wanted)}, indent=1) + "\n", encoding="utf-8")
            temp.replace(self.path)
        except OSError as exc:
            raise SeshError(f"cannot write {self.path}: {exc.strerror or exc}", "check SESH_HOME's permissions") \
                from exc
        self.off = wanted


def message_of(event: Event) -> tuple[str, str]:
    """(title, body) of a notification."""
    who = f"{event.name or (event.uuid or '')[:8]} ({event.agent}@{event.machine})"
    if event.kind == "needs-input":
        text = event.detail.get("question") or "a dialog waits for an answer"
        return f"sesh: {who} needs input", str(text)[:MESSAGE_LIMIT]
    if event.kind == "turn-ended":
        text = event.detail.get("reply") or "the turn ended"
        return f"sesh: {who} finished", str(text)[:MESSAGE_LIMIT]
    return f"sesh: {who} {event.kind}", ""


@dataclass(frozen=True)
class Client:
    socket: str
    name: str
    tty: str
    pane: str


class Notifier:
    def __init__(self, hub: EventHub, sessions: Sessions, machine: str, home: Path,
                 settings: Callable[[], EventSettings], sockets: Callable[[], list[str]]) -> None:
        self.hub = hub
        self.sessions = sessions
        self.machine = machine
        self.settings = settings
        self.sockets = sockets
        self.muted = MuteList(home / "notify.json")
        self.sent = 0
        self.events = hub.subscribe()
        """Taken at construction: nothing published before `run` starts is missed."""
        """Notifications delivered (each one counted once, however many ways it went out)."""

    # ---- the op ------------------------------------------------------------------------------

    @op("notify", NotifyArgs)
    async def op_notify(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Switch this machine's notifications for one session on or off (`on`), or say which it is."""
        record = self.sessions.resolve(str(args["uuid"]))
        uuid = str(record["uuid"])
        if args.get("on") is not None:
            self.muted.set(uuid, bool(args["on"]))
        return {"uuid": uuid, "name": record.get("name"), "notify": uuid not in self.muted.off,
                "configured": self.settings().notify is not None}

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        with self.events as events:
            async for item in events:
                if isinstance(item, Dropped):
                    log.warning("notify: fell behind; %d events dropped", item.count)
                    continue
                config = self.settings().notify
                if config is None or not await self.wanted(item, config):
                    continue
                try:
                    await self.deliver(item, config)
                except Exception:
                    # A desktop or tmux failure costs this notification, never the daemon.
                    log.exception("notify: delivering %s of %s failed", item.kind, item.uuid)

    async def wanted(self, event: Event, config: Notify) -> bool:
        if event.kind not in config.on or event.uuid is None or event.uuid in self.muted.off:
            return False
        record = self.sessions.get(event.uuid)
        if record is None or (record.get("headless") and not config.headless):
            return False
        return not await self.looked_at(record)

    async def clients(self) -> list[Client]:
        found = []
        for socket in self.sockets():
            try:
                lines = await run_command(socket, "list-clients", "-F", CLIENT_FORMAT)
            except TmuxError:
                continue  # no server on this socket now: nobody to tell there
            for line in lines:
                parts = line.split("\t")
                if len(parts) == 3:
                    found.append(Client(socket, *parts))
        return found

    async def looked_at(self, record: dict[str, Any]) -> bool:
        where = record.get("tmux") or {}
        if record.get("machine") != self.machine or not where.get("pane"):
            return False
        return any(c.socket == where.get("socket") and c.pane == where.get("pane") for c in await self.clients())

    async def deliver(self, event: Event, config: Notify) -> None:
        title, body = message_of(event)
        clients = await self.clients() if config.tmux or config.bell else []
        if config.desktop:
            await self.desktop(title, body)
        if config.tmux:
            text = literal(f"{title}: {body}" if body else title)
            for client in clients:
                with contextlib.suppress(TmuxError):  # the client detached meanwhile
                    await run_command(client.socket, "display-message", "-c", client.name, text)
        if config.bell:
            for client in clients:
                ring(client.tty)
        self.sent += 1

    async def desktop(self, title: str, body: str) -> None:
        if shutil.which("notify-send"):
            argv = ["notify-send", "--app-name=sesh", title, body]
        elif shutil.which("osascript"):
            script = f"display notification {_applescript(body)} with title {_applescript(title)}"
            argv = ["osascript", "-e", script]
        else:
            return
        try:
            proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            log.warning("notify: cannot run %s: %s", argv[0], exc.strerror or exc)
            return
        try:
            _, stderr = await asyncio.wait_for(proc.communicate(), DESKTOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            log.warning("notify: %s did not return within %ss", argv[0], DESKTOP_TIMEOUT_S)
            return
        if proc.returncode != 0:
            log.warning("notify: %s exited with %s: %s", argv[0], proc.returncode,
                        stderr.decode(errors="replace").strip()[:200])


def ring(tty: str) -> None:
    """A bell on a tmux client's terminal (written to its tty, as tmux itself would)."""
    try:
        fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        log.warning("notify: cannot ring the bell on %s: %s", tty, exc.strerror or exc)
        return
    try:
        with contextlib.suppress(BlockingIOError):
            os.write(fd, b"\a")
    finally:
        os.close(fd)


def _applescript(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
