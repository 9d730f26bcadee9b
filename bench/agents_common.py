"""Helpers for the benchmarks that drive the real agent CLIs (tests/agents_e2e's test bed).

The bed is a fake model server, isolated agent homes, a private tmux server and a real daemon
("alpha"); it is a context manager that kills tmux and the daemon even when a bench fails.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import uuid as uuid_mod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.agents_e2e.bed import Bed, make_bed
from tests.harness import Daemon, eventually

__all__ = ["Bed", "Feed", "agent_bed", "load", "start_and_register"]

RESOLVE_TRIES = 10
"""pane-resolve attempts before a fresh agent's pane counts as unresolvable."""


def load() -> str:
    """The 1/5/15-minute load averages: other work on the machine skews timings."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def start_and_register(bed: Bed, agent: str, name: str | None = None) -> tuple[str, str]:
    """Start `agent` in a new window, have one exchange, register it; return (pane, uuid).

    As tests/agents_e2e/test_observe.start_and_register, but a resolve that comes back as
    someone else's session (registered already) is retried, and the retry is said on stderr,
    since many agents of one kind share the bed's cwd here.
    """
    args: list[str] = []
    preset = None
    if agent == "claude":
        preset = str(uuid_mod.uuid4())
        args = ["--session-id", preset]
    pane = bed.start_agent(agent, *args)
    marker = f"hello-{uuid_mod.uuid4().hex[:6]}"
    bed.send(pane, marker)
    bed.tmux.wait_for_text(pane, f"ECHO: {marker}", timeout=60)
    seen = []
    for _ in range(RESOLVE_TRIES):
        run = bed.alpha.sesh("pane-resolve", "--pane", pane, "--socket-path", str(bed.tmux.socket_path), "--json")
        found = run.json() if run.code == 0 else {"error": run.err.strip()}
        fresh = found.get("registered") is False and found.get("agent") == agent
        if fresh and (preset is None or found.get("uuid") == preset):
            break
        seen.append(found)
        time.sleep(0.5)
    else:
        raise RuntimeError(f"{agent} in pane {pane} never resolved to a fresh session: {seen}")
    if seen:
        print(f"note: {agent} pane {pane} resolved only after {len(seen)} retries; first answers: {seen[:2]}",
              file=sys.stderr)
    run = bed.alpha.sesh("register", found["uuid"], "--agent", agent, "--name", name or f"{agent}-{pane[1:]}",
                         "--cwd", str(bed.cwd), "--json")
    if run.code != 0:
        raise RuntimeError(f"register {agent} pane {pane}: {run.err.strip()}")
    uuid = str(run.json()["uuid"])
    eventually(lambda: bed.alpha.call("info", {"uuid": uuid}).get("live"), timeout=15,
               what=f"the registered {agent} in {pane} to be live")
    return pane, uuid


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
