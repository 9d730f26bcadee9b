"""The daemon's event stream: what happened to sessions and peers, mesh-wide, as it happened.

`Event` is one happening (a session created, a turn ended, a dialog waiting, a peer gone …).
`EventHub` numbers each one, keeps the last few for `sesh events`, and fans it out to
subscribers, each with its own bounded queue: a subscriber that stops reading loses events (and
is told how many, by a `Dropped` marker in its stream), never the daemon's memory.
Who publishes and why each kind exists: docs/events.md.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

from sesh_mesh.event_config import EventKind

RECENT_EVENTS = 1000
"""How many past events the hub keeps for `sesh events` without --follow (a few hundred bytes each)."""

SUBSCRIBER_QUEUE = 1000
"""Events waiting for one subscriber before newer ones are dropped (and counted) for it."""


@dataclass(frozen=True)
class Event:
    """One event, as `--json`, the event log, hooks and SSE show it (`to_wire`)."""

    kind: EventKind
    machine: str
    """The session's machine (its owner); for peer-up / peer-down, the peer."""
    uuid: str | None
    name: str | None
    agent: str | None
    time: str
    """When this daemon saw it (wall clock, ISO 8601 UTC; display data)."""
    detail: dict[str, Any] = field(default_factory=dict)
    """Per kind: turn-ended {reply, outcome}, needs-input {question, options, text}, …"""
    id: int = 0
    """This daemon's number for it, counted from 1 at every daemon start (set by the hub)."""
    seen_on: str = ""
    """The daemon that saw it (set by the hub): events of other machines' sessions arrive
    by replication, so several daemons, and so several event logs, see the same one."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "machine": self.machine,
            "uuid": self.uuid,
            "name": self.name,
            "agent": self.agent,
            "time": self.time,
            "detail": self.detail,
            "id": self.id,
            "seenOn": self.seen_on,
        }


@dataclass(frozen=True)
class Dropped:
    """In a subscriber's stream: `count` events were dropped here because it read too slowly."""

    count: int

    def to_wire(self) -> dict[str, Any]:
        return {"kind": "dropped", "dropped": self.count}


@dataclass(frozen=True)
class EventFilter:
    """Which events a subscriber wants; an empty field matches everything."""

    kinds: frozenset[str] = frozenset()
    machine: str | None = None

    def matches(self, event: Event) -> bool:
        return (not self.kinds or event.kind in self.kinds) and (self.machine is None or event.machine == self.machine)


class Subscription:
    """One subscriber's bounded queue; iterate it with `async for` (ends when closed)."""

    def __init__(self, hub: EventHub, wanted: EventFilter, limit: int) -> None:
        self._hub = hub
        self.wanted = wanted
        self._limit = limit
        self._queue: collections.deque[Event | Dropped] = collections.deque()
        self._ready = asyncio.Event()
        self.closed = False
        self.dropped = 0
        """Events this subscriber lost in total."""

    def offer(self, event: Event) -> None:
        if self.closed or not self.wanted.matches(event):
            return
        if len(self._queue) >= self._limit:
            # Full: count the loss in a marker at the end, so the reader learns where it lost how many.
            self.dropped += 1
            last = self._queue[-1] if self._queue else None
            if isinstance(last, Dropped):
                self._queue[-1] = Dropped(last.count + 1)
            else:
                self._queue.append(Dropped(1))
        else:
            self._queue.append(event)
        self._ready.set()

    def pending(self) -> int:
        return len(self._queue)

    def get_nowait(self) -> Event | Dropped | None:
        if not self._queue:
            return None
        item = self._queue.popleft()
        if not self._queue:
            self._ready.clear()
        return item

    async def get(self) -> Event | Dropped | None:
        """The next item; None once the subscription is closed and drained."""
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            if self.closed:
                return None
            await self._ready.wait()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._drop(self)
            self._ready.set()

    def __aiter__(self) -> AsyncIterator[Event | Dropped]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event | Dropped]:
        while (item := await self.get()) is not None:
            yield item

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    """Numbers, remembers and fans out events; `publish` never blocks and never waits on a reader."""

    def __init__(self, machine: str, recent: int = RECENT_EVENTS) -> None:
        self.machine = machine
        self._ids = itertools.count(1)
        self._recent: collections.deque[Event] = collections.deque(maxlen=recent)
        self._subscribers: list[Subscription] = []
        self.published = 0
        self.closed = False
        """Set by `close`: the daemon stops, and no more events come."""

    def publish(self, event: Event) -> Event:
        stamped = dataclasses.replace(event, id=next(self._ids), seen_on=self.machine)
        self._recent.append(stamped)
        self.published += 1
        for subscriber in list(self._subscribers):
            subscriber.offer(stamped)
        return stamped

    def publish_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.publish(event)

    def recent(self, wanted: EventFilter = EventFilter(), n: int | None = None) -> list[Event]:
        """The last `n` (default: all kept) past events that `wanted` matches, oldest first."""
        matching = [event for event in self._recent if wanted.matches(event)]
        return matching if n is None else matching[len(matching) - n :] if n > 0 else []

    def subscribe(self, wanted: EventFilter = EventFilter(), limit: int = SUBSCRIBER_QUEUE) -> Subscription:
        """Every event published from now on that `wanted` matches; close it (or use `with`) when done.
        After the hub closed, the subscription is closed at once."""
        subscription = Subscription(self, wanted, limit)
        if self.closed:
            subscription.closed = True
            return subscription
        self._subscribers.append(subscription)
        return subscription

    def subscribers(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """End every subscription (the daemon stops): readers drain what they hold, then stop."""
        self.closed = True
        for subscriber in list(self._subscribers):
            subscriber.close()

    def _drop(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
