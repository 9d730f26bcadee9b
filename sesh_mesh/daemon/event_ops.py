"""The event stream's daemon part: feeds the hub from store commits and peer links, and serves
the `events` op (`sesh events`, and every other door that streams events).

Session events are derived from committed records (`record_events`, the same on every daemon);
peer-up / peer-down from this daemon's own links. Consumers (the event log, hooks,
notifications, a client of `events`) each take a bounded subscription of the hub. docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh import clock
from sesh_mesh.config import Config, ConfigError, ConfigFile
from sesh_mesh.daemon.events import Event, EventFilter, EventHub
from sesh_mesh.daemon.ops import Emit, op
from sesh_mesh.daemon.record_events import RecordEvents
from sesh_mesh.daemon.waiting import first_of
from sesh_mesh.errors import UsageError
from sesh_mesh.event_config import KINDS as EVENT_KINDS
from sesh_mesh.event_config import EventKind, EventSettings
from sesh_mesh.store.record import Record
from sesh_mesh.store.store import Store

log = logging.getLogger(__name__)

DEFAULT_BACKLOG = 20
"""`sesh events` prints this many past events unless -n says otherwise."""


@dataclass(frozen=True)
class EventsArgs:
    follow: bool | None = None
    """Keep streaming new events until the client goes away."""
    n: int | None = None
    """How many past events to send first (default 20; 0: none)."""
    machine: str | None = None
    """Only events of sessions on this machine (peer events: of this peer)."""
    kinds: list[str] | None = None
    """Only events of these kinds."""

    @staticmethod
    def validate(args: dict[str, Any]) -> None:
        n = args.get("n")
        if n is not None and n < 0:
            raise UsageError(f"-n must be 0 or more, not {n}", "pass -n 0 for no past events")
        unknown = [kind for kind in args.get("kinds") or [] if kind not in EVENT_KINDS]
        if unknown:
            raise UsageError(f"unknown event kind {unknown[0]!r}", f"use one of: {', '.join(EVENT_KINDS)}")


def event_filter(args: dict[str, Any]) -> EventFilter:
    return EventFilter(frozenset(args.get("kinds") or ()), args.get("machine") or None)


class EventOps:
    """One per daemon: the hub, the record deriver, and the `events` op."""

    def __init__(self, store: Store, machine: str, stop: asyncio.Event, home: Path, config: Config,
                 env: Mapping[str, str] = os.environ) -> None:
        self.machine = machine
        self.stop = stop
        self.config_file = ConfigFile(home, config)
        self._settings = config.events
        self._config_error: str | None = None
        log_env = env.get("SESH_EVENT_LOG") or None
        self.log_override = None if log_env is None else home / Path(log_env).expanduser()
        """SESH_EVENT_LOG, as the daemon's environment had it at start (relative: to SESH_HOME)."""
        self.hub = EventHub(machine)
        self.derive = RecordEvents()
        self._iso_key, self._iso = -1, ""
        self.derive.prime(list(store.records.values()))
        self._due = asyncio.Event()
        store.subscribe(self._on_commit)

    # ---- settings ----------------------------------------------------------------------------

    def settings(self) -> EventSettings:
        """config.toml's event settings now; a broken edit is logged once and the last good ones kept."""
        try:
            self._settings = self.config_file.current().events
            self._config_error = None
        except ConfigError as exc:
            if str(exc) != self._config_error:
                log.error("events: config.toml is broken, keeping the hooks and settings it had: %s", exc.line())
            self._config_error = str(exc)
        return self._settings

    def log_path(self) -> Path | None:
        """Where the event log goes: SESH_EVENT_LOG, else `[events] log`, else nowhere."""
        return self.log_override or self.settings().log

    # ---- feeding the hub ---------------------------------------------------------------------

    def _on_commit(self, record: Record) -> None:
        wall = clock.now_s()
        events = self.derive.commit(record, time.monotonic(), wall, self._iso_at(wall))
        self.hub.publish_all(events)
        if self.derive.ends_pending:
            self._due.set()  # the run loop reads the new deadline (an early wake only re-reads it)

    def _iso_at(self, wall: float) -> str:
        """`clock.iso_at(wall)`, formatted once per hundredth of a second: a 10,000-record
        catch-up commits its records within a few of them, and formatting each cost a tenth of it."""
        key = int(wall * 100)
        if key != self._iso_key:
            self._iso_key, self._iso = key, clock.iso_at(wall)
        return self._iso

    def peer_changed(self, peer: str, up: bool, detail: dict[str, Any]) -> None:
        """A link to `peer` came up or went down (the mesh calls this)."""
        kind: EventKind = "peer-up" if up else "peer-down"
        self.hub.publish(Event(kind, peer, None, None, None, clock.now_iso(), {"peer": peer, **detail}))

    async def run(self, stop: asyncio.Event) -> None:
        """Announce turn ends whose reply never came within the grace (record_events)."""
        try:
            while not stop.is_set():
                self._due.clear()  # before reading the deadline: a commit from here on wakes the wait
                due = self.derive.next_due()
                timeout = None if due is None else max(0.0, due - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_of(self._due, stop), timeout)
                self.hub.publish_all(self.derive.due(time.monotonic(), clock.now_iso()))
        finally:
            self.hub.close()

    # ---- the op ------------------------------------------------------------------------------

    @op("events", EventsArgs, stream=True)
    async def stream_events(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """Session and peer events of the whole mesh: the last `n`, then (with follow) each new one."""
        wanted = event_filter(args)
        n = args.get("n")
        backlog = self.hub.recent(wanted, DEFAULT_BACKLOG if n is None else int(n))
        # Subscribed before the backlog is sent: nothing published meanwhile falls in between.
        subscription = self.hub.subscribe(wanted) if args.get("follow") else None
        try:
            for event in backlog:
                await emit(event.to_wire())
            if subscription is None:
                return None
            # Ends when the hub closes (the daemon stops) or the client goes away (emit fails).
            async for item in subscription:
                await emit(item.to_wire())
        finally:
            if subscription is not None:
                subscription.close()
        return None
