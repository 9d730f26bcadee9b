"""Turns that end when sesh says so, and turns that are never missed (issue 11 items 6, 7, 8, 16).

abort and send --timeout of a headless turn end the agent's whole process tree (codex's node
launcher spawns the native binary, which a kill of the launcher alone left running, holding
the turn open); delegate leaves nothing behind however its turn ended; resume refuses to open a
pane beside a running headless turn; every turn typed into a pane, however short, reaches the
record (and a peer's change feed) as busy, then idle, with a turn number of its own. Processes
are looked for in /proc by the SESH_SESSION_ID sesh gives every agent it starts.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid as uuid_mod
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.agents_e2e.bed import Bed, Beds, make_bed, ok, sesh, target
from tests.agents_e2e.matrix import AGENTS, TURN_CONTROL_FEATURES, assert_covered, cells
from tests.fake_llm import LoggedRequest
from tests.harness import Daemon
from tests.polling import eventually

pytestmark = pytest.mark.agents

LONG = "SLEEP 60"
"""A turn that outlives every bound in these tests unless sesh ends it."""


def sessions_running() -> set[str]:
    """The SESH_SESSION_ID of every live process that has one."""
    found = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry.name}/environ").read_bytes()
        except OSError:
            continue
        for item in environ.split(b"\0"):
            if item.startswith(b"SESH_SESSION_ID="):
                found.add(item.split(b"=", 1)[1].decode(errors="replace"))
    return found


def agent_pids(marker: str, value: str) -> list[int]:
    """Live processes whose environment holds `marker=value` (an agent sesh started, its children)."""
    wanted = f"{marker}={value}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry.name}/environ").read_bytes()
            state = Path(f"/proc/{entry.name}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z" and wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def comms(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        with contextlib.suppress(OSError):
            out.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return out


def asks(text: str, request: LoggedRequest) -> bool:
    return any(text in t for t in request.user_texts)


def no_agent_left(uuid: str) -> bool:
    return not agent_pids("SESH_SESSION_ID", uuid)


def headless_child(bed: Bed, where: str, agent: str) -> str:
    machine = ["--machine", "alpha"] if where == "remote" else []
    made = ok(sesh(bed, where, "new", "--agent", agent, "--headless", "--msg", f"child {agent}", "--json",
                   *machine)).json()
    return str(made["uuid"])


def test_turn_control_matrix_complete() -> None:
    assert_covered(globals(), TURN_CONTROL_FEATURES)


@pytest.mark.parametrize(("where", "agent"), cells("abort_headless"))
def test_abort_headless(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    uuid = headless_child(bed, where, agent)
    job = f"long job {uuid_mod.uuid4().hex[:6]} {LONG}"
    ok(sesh(bed, where, "send", uuid, job, "--no-wait"))
    bed.llm.wait_for_request(partial(asks, job), timeout=30)
    running = agent_pids("SESH_SESSION_ID", uuid)
    assert running, "no agent process found for the running headless turn"
    assert bed.alpha.call("info", {"uuid": uuid})["turnStatus"] == "busy"
    # Item 7: a pane opened now would resume the conversation beside the running turn.
    panes_before = bed.tmux.run("list-panes", "-a", "-F", "#{pane_id}")
    refused = bed.daemon(where).client()
    with pytest.raises(Exception, match="is running a headless turn"):
        refused.call("resume", {"uuid": uuid, "target": target(bed)}, {"env": bed.env, "cwd": str(bed.cwd)})
    assert bed.tmux.run("list-panes", "-a", "-F", "#{pane_id}") == panes_before, "a refused resume opened a pane"

    ok(sesh(bed, where, "abort", uuid))
    # abort returns once the owner's store shows the end: a script's next info reads idle.
    record = bed.alpha.call("info", {"uuid": uuid})
    assert record["turnStatus"] == "idle", record
    eventually(lambda: no_agent_left(uuid), timeout=15,
               what=f"every process of the aborted turn to be gone (were {comms(running)})")
    assert record["turn"]["state"] == "ended" and record["turn"]["outcome"] == "aborted", record["turn"]
    if where == "remote":
        eventually(lambda: bed.record("remote", uuid).get("turn") == record["turn"], timeout=15,
                   what="the aborted turn replicated to the peer")
    assert ok(sesh(bed, where, "send", uuid, "after abort")).out == "ECHO: after abort\n"

    # --timeout: the same end, as exit 124.
    late = sesh(bed, where, "send", uuid, f"too slow {LONG}", "--timeout", "3")
    assert late.code == 124 and late.err.startswith("sesh: "), late
    eventually(lambda: no_agent_left(uuid), timeout=15, what="every process of the timed-out turn to be gone")
    record = bed.alpha.call("info", {"uuid": uuid})
    assert record["turnStatus"] == "idle" and record["turn"]["outcome"] == "aborted", record
    assert ok(sesh(bed, where, "send", uuid, "after timeout")).out == "ECHO: after timeout\n"


@pytest.mark.parametrize(("where", "agent"), cells("delegate_cleanup"))
def test_delegate_cleanup(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    machine = ["--machine", "alpha"] if where == "remote" else []

    def delegates() -> set[str]:
        return {r["uuid"] for r in bed.alpha.call("list", {"archived": True}) if "delegate" in r.get("tags", [])}

    before = delegates()
    running_before = sessions_running()
    failed = sesh(bed, where, "delegate", "--agent", agent, f"FAIL {uuid_mod.uuid4().hex[:6]}", *machine)
    assert failed.code != 0 and failed.err.startswith("sesh: "), failed
    assert delegates() == before, "a failed delegate left its session behind"
    slow = sesh(bed, where, "delegate", "--agent", agent, "--timeout", "3", f"slow {LONG}", *machine)
    assert slow.code == 124, slow
    assert delegates() == before, "a timed-out delegate left its session behind"

    def workers_running() -> set[str]:
        """Sessions with a live process that started since, and that are delegate workers."""
        out = set()
        for uuid in sessions_running() - running_before:
            with contextlib.suppress(Exception):  # not a session of this bed
                if "delegate" in bed.alpha.call("info", {"uuid": uuid}).get("tags", []):
                    out.add(uuid)
        return out

    eventually(lambda: not workers_running(), timeout=15, what="no agent process of the timed-out delegate left")


class ChangeFeed:
    """A daemon's `subscribe` stream (no snapshot), read in a thread."""

    def __init__(self, daemon: Daemon) -> None:
        self.records: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(daemon,), daemon=True)
        self.thread.start()
        time.sleep(0.3)  # subscribed before the caller acts

    def _run(self, daemon: Daemon) -> None:
        with contextlib.suppress(Exception):  # the daemon goes away at teardown: the feed just ends
            for kind, item in daemon.client().stream("subscribe", {"snapshot": False}):
                if kind == "item":
                    with self.lock:
                        self.records.extend(item.get("changes", []))

    def of(self, uuid: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.records if r.get("uuid") == uuid]


@pytest.mark.parametrize(("where", "agent"), cells("every_turn_seen"))
def test_every_turn_seen(beds: Beds, where: str, agent: str) -> None:
    bed, pane, uuid = beds.shared_session(agent)
    feed = ChangeFeed(bed.daemon(where))
    first = int((bed.alpha.call("info", {"uuid": uuid}).get("turn") or {}).get("n") or 0)
    words = [f"quick{n}-{uuid_mod.uuid4().hex[:6]}" for n in range(3)]
    for word in words:
        bed.send(pane, word)  # typed by hand: no reporter, the quickest turn the fake model gives
        bed.tmux.wait_for_text(pane, f"ECHO: {word}", timeout=60)

    def turns_seen() -> dict[int, list[str]] | None:
        seen: dict[int, list[str]] = {}
        for record in feed.of(uuid):
            turn = record.get("turn") or {}
            if isinstance(turn.get("n"), int) and turn["n"] > first:
                seen.setdefault(turn["n"], []).append(f"{record.get('turnStatus')}/{turn.get('state')}")
        last = first + len(words)
        done = any(s == "idle/ended" for s in seen.get(last, []))
        return seen if done else None

    try:
        seen = eventually(turns_seen, timeout=20, what=f"the last turn's end in {where}'s feed")
    except AssertionError:
        shown = [(r.get("turnStatus"), r.get("turn"), r.get("originSeq")) for r in feed.of(uuid)]
        raise AssertionError(f"turns after {first} in {where}'s feed: {shown}") from None
    numbers = [int((r.get("turn") or {}).get("n") or 0) for r in feed.of(uuid)]
    assert numbers == sorted(numbers), f"turn numbers went backwards: {numbers}"
    # (status, its source, turn.n, turn.state, lastTurn.count) per change: which look made a turn.
    looks = [(r.get("turnStatus"), r.get("stateSource"), (r.get("turn") or {}).get("n"),
              (r.get("turn") or {}).get("state"), (r.get("lastTurn") or {}).get("count")) for r in feed.of(uuid)]
    assert max(seen) == first + len(words), f"one turn per message: {seen}; changes: {looks}"
    if where == "local":
        # The owner's feed holds every commit: every turn was written busy, then idle.
        assert sorted(seen) == list(range(first + 1, first + 4)), f"a turn is missing: {seen}"
        for number, states in seen.items():
            assert states[0] == "busy/running", f"turn {number} was never seen busy: {states}"
            assert states[-1] == "idle/ended", f"turn {number} did not end: {states}"
    # A peer gets a record's latest version: commits that leave within one push (10 ms) arrive
    # as one, so a quick turn's busy, or a turn's end and the next quick turn, may be one version.
    # What a peer's consumer relies on is the number: it only grows, each turn has its own, and
    # `turn.n` 6 ended after 4 ended says turns 5 and 6 both ran and ended.


@contextlib.contextmanager
def own_bed() -> Iterator[Bed]:
    with make_bed(with_remote=False) as bed:
        bed.keep_server_up()
        yield bed


def test_daemon_stop_ends_headless_turns_and_new_timeout_bounds_the_launch() -> None:
    """Own bed: the daemon is stopped mid-turn. Every agent's turn is killed (no process of it
    survives, orphaned to pid 1) and recorded as aborted; after a restart the session works."""
    with own_bed() as bed:
        children = {agent: headless_child(bed, "local", agent) for agent in AGENTS}
        for agent, uuid in children.items():
            job = f"{agent} outlives the daemon {LONG}"
            ok(sesh(bed, "local", "send", uuid, job, "--no-wait"))
            bed.llm.wait_for_request(partial(asks, job), timeout=30)
        running = {agent: agent_pids("SESH_SESSION_ID", uuid) for agent, uuid in children.items()}
        assert all(running.values()), running
        ok(sesh(bed, "local", "daemon", "stop"))
        assert bed.alpha.process is not None
        bed.alpha.process.wait(30)
        left = {agent: comms(agent_pids("SESH_SESSION_ID", uuid)) for agent, uuid in children.items()}
        assert not any(left.values()), f"agent processes outlived the daemon: {left}"
        bed.alpha.start()
        for agent, uuid in children.items():
            record = bed.alpha.call("info", {"uuid": uuid})
            assert record["turnStatus"] == "idle", (agent, record["turnStatus"])
            assert (record.get("turn") or {}).get("outcome") == "aborted", (agent, record.get("turn"))
        assert ok(sesh(bed, "local", "send", children["codex"], "back")).out == "ECHO: back\n"
        # --timeout bounds new's whole wait (launch, readiness, first turn): 124, nothing left.
        before = set(bed.alpha.records())
        bounded = sesh(bed, "local", "new", "--agent", "claude", "--target", target(bed), "--msg", "hi",
                       "--timeout", "0.5")
        assert bounded.code == 124, bounded
        assert {u for u, r in bed.alpha.records().items() if not r["deleted"]} <= before


@pytest.mark.parametrize("agent", [pytest.param(a, marks=pytest.mark.xdist_group(f"agent-{a}"))
                                   for a in ("claude", "pi")])  # codex has no headless compaction
def test_detached_compact_shows_busy_and_has_a_bound(beds: Beds, agent: str) -> None:
    bed = beds.bed(agent)
    uuid = headless_child(bed, "local", agent)
    cut = sesh(bed, "local", "compact", uuid, "--timeout", "0.3")
    assert cut.code == 124 and cut.err.startswith("sesh: "), cut
    eventually(lambda: no_agent_left(uuid), timeout=15, what="the timed-out compaction's processes to be gone")
    assert bed.alpha.call("info", {"uuid": uuid})["turnStatus"] == "idle"
    feed = ChangeFeed(bed.alpha)
    assert ok(sesh(bed, "local", "compact", uuid, "--json")).json()["compact"] == "done"
    statuses = eventually(lambda: (s := [r.get("turnStatus") for r in feed.of(uuid)]) and s[-1] == "idle" and s,
                          timeout=15, what="the compaction's busy and idle in the change feed")
    assert "busy" in statuses, f"a headless compaction never showed busy: {statuses}"


def test_headless_replies_follow_the_write() -> None:
    """With the watcher's commits slowed to half a second, a headless turn's reply, its timeout
    (124) and `abort` still return only once the store shows the turn over: `info` right after
    reads idle. Before, each came back as soon as the turn ended and info read busy."""
    with make_bed(with_remote=False, daemon_extra={"SESH_TEST_WATCHER_COMMIT_DELAY_S": "0.5"}) as bed:
        def status() -> str:
            return str(bed.alpha.call("info", {"uuid": uuid})["turnStatus"])

        uuid = headless_child(bed, "local", "codex")
        assert status() == "idle"
        job = f"slow job {uuid_mod.uuid4().hex[:6]} {LONG}"
        ok(sesh(bed, "local", "send", uuid, job, "--no-wait"))
        bed.llm.wait_for_request(partial(asks, job), timeout=30)
        eventually(lambda: status() == "busy", timeout=15, what="the running turn to show busy")
        ok(sesh(bed, "local", "abort", uuid))
        assert status() == "idle"
        late = sesh(bed, "local", "send", uuid, f"too slow {LONG}", "--timeout", "2")
        assert late.code == 124, late
        assert status() == "idle"
        assert ok(sesh(bed, "local", "send", uuid, "after")).out == "ECHO: after\n"
        assert status() == "idle"
