"""Helpers for the benchmarks that drive the real agent CLIs (tests/agents_e2e's test bed).

The bed is a fake model server, isolated agent homes, a private tmux server and a real daemon
("alpha"); it is a context manager that kills tmux and the daemon even when a bench fails.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.agents_e2e.bed import Bed, make_bed, start_and_register
from tests.harness import Daemon

__all__ = ["Bed", "Feed", "agent_bed", "load", "start_and_register"]

def load() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews timings."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


@contextlib.contextmanager
def agent_bed() -> Iterator[Bed]:
    """make_bed() without the remote daemon; a missing agent install ends the bench with a message."""
    try:
        with make_bed(with_remote=False) as bed:
            yield bed
    except BaseException as exc:
        if type(exc).__name__ == "Skipped":  # pytest.skip() raised by make_bed: no agent CLIs here
            raise SystemExit(f"skipped: {exc}") from None
        raise


class Feed:
    """The daemon's change feed (`subscribe`, no snapshot), each record stamped on arrival.

    Stamps use time.time(), the clock FakeLLM uses for `started_at` / `last_byte_at`.
    """

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.cond = threading.Condition()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="bench-feed", daemon=True)

    def start(self) -> Feed:
        self.thread.start()
        time.sleep(0.3)  # subscribed before anything the caller does next
        return self

    def _run(self) -> None:
        try:
            for kind, item in self.daemon.client().stream("subscribe", {"snapshot": False}):
                if kind != "item":
                    continue
                now = time.time()
                with self.cond:
                    self.events.extend((now, record) for record in item.get("changes", []))
                    self.cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - the daemon went away at teardown: the feed just ends
            self.error = exc

    def wait_for(self, uuid: str, after: float, predicate: Any, timeout: float) -> tuple[float, dict[str, Any]] | None:
        """The first change of `uuid` stamped at or after `after` that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for stamp, record in self.events:
                    if stamp >= after and record.get("uuid") == uuid and predicate(record):
                        return stamp, record
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def count(self) -> int:
        with self.cond:
            return len(self.events)

    def since(self, uuid: str, after: float) -> list[tuple[float, dict[str, Any]]]:
        with self.cond:
            return [(s, r) for s, r in self.events if s >= after and r.get("uuid") == uuid]
