"""The ticks between two full looks (FULL_LOOK_TICKS) look only at the sessions whose state can
have changed without a file event: live, reported, or changed since their last look. A real
watcher on a real store and real pi transcripts; no tmux server, and no inotify loop running,
so a transcript that grows here is seen only by a tick that looks at its session."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sesh_mesh.daemon.live_state import Reported
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.watcher import FULL_LOOK_TICKS, Watcher
from sesh_mesh.store.record import Record, new_record
from sesh_mesh.store.store import Store

NOW = "2026-11-21T10:00:00Z"
SESSIONS = 4
Fleet = tuple[Store, Watcher, dict[str, Path]]


def append(path: Path, entry: dict[str, object]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def one_turn(path: Path, n: int) -> None:
    """A finished pi turn (user, then the assistant's stop) appended to the transcript."""
    append(path, {"type": "message", "id": f"u{n}", "parentId": None, "timestamp": NOW,
                  "message": {"role": "user", "content": [{"type": "text", "text": "hi"}]}})
    append(path, {"type": "message", "id": f"a{n}", "parentId": f"u{n}", "timestamp": NOW,
                  "message": {"role": "assistant", "content": [{"type": "text", "text": f"reply {n}"}],
                              "provider": "fake", "model": "fake-model", "stopReason": "stop",
                              "usage": {"input": 1, "output": 1, "cacheRead": 0, "cacheWrite": 0,
                                        "totalTokens": 2}}})


def turns(store: Store, uuid: str) -> int:
    return int(((store.get(uuid) or {}).get("lastTurn") or {}).get("count", 0))


@pytest.fixture
async def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Fleet]:
    monkeypatch.setenv("SESH_TMUX_SOCKETS", "")  # no tmux server: nothing is live
    store = await Store.open(tmp_path / "s.sqlite", "a")
    paths: dict[str, Path] = {}
    for n in range(SESSIONS):
        uuid = f"u-{n}"
        path = paths[uuid] = tmp_path / "sessions" / f"{n}.jsonl"
        path.parent.mkdir(exist_ok=True)
        append(path, {"type": "session", "version": 3, "id": f"pi-{n}", "timestamp": NOW, "cwd": str(tmp_path)})
        record = new_record(uuid=uuid, agent="pi", machine="a", cwd=str(tmp_path), now=NOW,
                            agent_session_id=f"pi-{n}", extra={"filePath": str(path)})

        def create(current: Record | None, record: Record = record) -> Record | None:
            return record if current is None else None

        await store.write_local(uuid, create)
    watcher = Watcher(store, Sessions(store, "a"), "a")
    await watcher.tick(force_scan=True)  # every session's first look writes its state
    # That write changed the record, and a record changed since its last look is looked at
    # again (its fingerprint holds the originSeq it was derived from): one more look settles it.
    await watcher.tick(force_scan=True)
    assert watcher._ticks % FULL_LOOK_TICKS != 0, "the next tick must be a partial one"
    try:
        yield store, watcher, paths
    finally:
        await store.close()


async def test_after_a_full_look_a_quiet_fleet_is_not_looked_at(fleet: Fleet) -> None:
    store, watcher, _ = fleet
    assert all(turns(store, f"u-{n}") == 0 for n in range(SESSIONS))
    assert watcher._tick_sessions({}) == set()


async def test_a_changed_record_and_a_reported_session_are_looked_at(
        fleet: Fleet) -> None:
    store, watcher, _ = fleet

    def renamed(current: Record | None) -> Record | None:
        return None if current is None else {**current, "name": "renamed"}

    await store.write_local("u-1", renamed)
    watcher.reported["u-2"] = Reported("busy", "hook", time.monotonic())
    assert watcher._tick_sessions({}) == {"u-1", "u-2"}


async def test_growth_without_a_file_event_waits_for_the_next_full_look(
        fleet: Fleet) -> None:
    """Partial ticks skip a quiet session whose transcript grew unseen (its file event is what
    looks at it at once); the full look every FULL_LOOK_TICKS ticks catches it anyway."""
    store, watcher, paths = fleet
    one_turn(paths["u-3"], 1)
    partial = 0
    while (watcher._ticks + 1) % FULL_LOOK_TICKS != 0:
        await watcher.tick()
        partial += 1
        assert turns(store, "u-3") == 0, f"partial tick {partial} re-read a quiet session's transcript"
    assert partial == FULL_LOOK_TICKS - 3  # the fixture's forced looks were ticks 1 and 2
    await watcher.tick()  # the full look
    assert turns(store, "u-3") == 1
    assert (store.get("u-3") or {})["lastTurn"]["reply"] == "reply 1"
    assert all(turns(store, f"u-{n}") == 0 for n in range(3)), "only the session that grew changed"
