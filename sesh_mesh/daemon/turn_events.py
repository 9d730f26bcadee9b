"""The in-process hub of turn events: the watcher publishes, `send`/`await`/`stop` wait.

The watcher publishes a turn's start, its end and a needs-input dialog per session (with a turn
number), and reports every other observed change of a session as `changed`; the store's commits
arrive as `changed` too. A wait re-checks its predicate whenever one of these concerns its
session, and otherwise sleeps until its deadline: nothing polls. See docs/live-state.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sesh_mesh.daemon.live_state import TurnEventKind


@dataclass(frozen=True)
class TurnEvent:
    uuid: str
    kind: TurnEventKind
    turn: int
    """The session's turn number (the record's `turn.n`, counted by its owner): a start carries
    the new turn's, an end or a dialog the number of the turn it belongs to."""
    at: float
    """time.monotonic() when the watcher recorded it."""
    outcome: str | None = None
    """For an end: completed, aborted or failed, when a source said so."""


class WaitStopped(Exception):
    """The stop event was set while a wait was pending."""


class TurnEvents:
    def __init__(self) -> None:
        self._turns: dict[str, int] = {}
        self._last: dict[str, TurnEvent] = {}
        self._waiters: dict[str | None, set[asyncio.Future[Any]]] = {}

    # ---- publishing --------------------------------------------------------------------------

    def publish(self, uuid: str, kind: TurnEventKind, turn: int | None = None,
                outcome: str | None = None) -> TurnEvent:
        """Announce a turn event; `turn` is its number (None: the next one for a start, the
        current one otherwise)."""
        if turn is not None:
            self._turns[uuid] = max(turn, self._turns.get(uuid, 0))
        elif kind == "started":
            self._turns[uuid] = self._turns.get(uuid, 0) + 1
        event = TurnEvent(uuid, kind, turn if turn is not None else self._turns.get(uuid, 0), time.monotonic(),
                          outcome)
        self._last[uuid] = event
        self.changed(uuid)
        return event

    def changed(self, uuid: str | None = None) -> None:
        """Wake the waiters of `uuid` (and those of any session); None wakes every waiter."""
        if not self._waiters:
            return  # every commit lands here: a catch-up makes thousands with nobody waiting
        keys = list(self._waiters) if uuid is None else [uuid, None]
        for key in keys:
            for waiter in self._waiters.pop(key, ()):
                if not waiter.done():
                    waiter.set_result(None)

    # ---- reading -----------------------------------------------------------------------------

    def turn(self, uuid: str) -> int:
        """The number of the latest turn of `uuid` published to start: compare to tell a new
        turn began (0 before any since the daemon began)."""
        return self._turns.get(uuid, 0)

    def last(self, uuid: str) -> TurnEvent | None:
        return self._last.get(uuid)

    # ---- waiting -----------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None, stop: asyncio.Event,
                         uuid: str | None = None) -> bool:
        """True once `predicate()` holds, False when `timeout` seconds (None or 0: no limit) pass
        first. Raises WaitStopped when `stop` is set first. `uuid` limits the wake-ups to that
        session's events and commits."""
        loop = asyncio.get_running_loop()
        deadline = None if not timeout else loop.time() + timeout
        stopped: asyncio.Future[Any] | None = None
        try:
            while not predicate():
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return False
                if stop.is_set():
                    raise WaitStopped
                if stopped is None:
                    stopped = asyncio.ensure_future(stop.wait())
                # Registered before the next await: a change published from here on wakes it.
                woken: asyncio.Future[Any] = loop.create_future()
                self._waiters.setdefault(uuid, set()).add(woken)
                try:
                    await asyncio.wait((woken, stopped), timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not woken.done():
                        woken.cancel()
                        waiters = self._waiters.get(uuid)
                        if waiters is not None:
                            waiters.discard(woken)
                            if not waiters:
                                del self._waiters[uuid]
            return True
        finally:
            if stopped is not None:
                stopped.cancel()

    def waiting(self) -> int:
        """How many waits are parked (for tests and `daemon status`)."""
        return sum(len(waiters) for waiters in self._waiters.values())
