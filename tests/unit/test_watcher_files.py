"""A transcript's file event is looked at at once, not after the next pane scan (docs/live-state.md).

A real watcher on a real store and a real pi session file (its inotify watch and all); only the pane
scan is replaced, by one that never returns, as a 50-pane scan under load seems to a turn's end.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.store.record import new_record
from sesh_mesh.store.store import Store
from tests.polling import scaled

NOW = "2026-11-21T10:00:00Z"


def append(path: Path, entry: dict[str, object]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


async def until(predicate: object, what: str, timeout: float = 10.0) -> None:
    """Poll `predicate` (a callable) on the loop, bounded."""
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_a_transcript_event_is_looked_at_while_the_pane_scan_is_still_running(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESH_TMUX_SOCKETS", "")  # no tmux server to scan
    transcript = tmp_path / "sessions" / "s.jsonl"
    transcript.parent.mkdir()
    append(transcript, {"type": "session", "version": 3, "id": "pi-1", "timestamp": NOW, "cwd": str(tmp_path)})
    store = await Store.open(tmp_path / "s.sqlite", "a")
    record = new_record(uuid="u-1", agent="pi", machine="a", cwd=str(tmp_path), now=NOW,
                        agent_session_id="pi-1", extra={"filePath": str(transcript)})
    await store.write_local("u-1", lambda current: record if current is None else None)
    watcher = Watcher(store, Sessions(store, "a"), "a")
    await watcher.tick(force_scan=True)  # the session's first look: its transcript is watched
    assert (store.get("u-1") or {}).get("lastTurn", {}).get("count") == 0

    scanning = asyncio.Event()
    never = asyncio.Event()
    events: list[set[Path]] = []
    forward = watcher._files_changed

    async def stuck_scan() -> None:
        scanning.set()
        await never.wait()

    def seen(paths: set[Path]) -> None:
        events.append(paths)
        forward(paths)

    monkeypatch.setattr(watcher, "scan", stuck_scan)
    monkeypatch.setattr(watcher, "_files_changed", seen)
    watcher._last_scan = float("-inf")  # the next tick scans, and never finishes
    stop = asyncio.Event()
    async with asyncio.timeout(scaled(30)), asyncio.TaskGroup() as group:
        group.create_task(watcher.run(stop), name="watcher")
        try:
            await until(scanning.is_set, "the tick to start its scan")
            probe = transcript.parent / "probe"

            def armed() -> bool:
                probe.write_text(str(len(events)))
                return bool(events)

            await until(armed, "the inotify watch to report a file in the transcript's directory")
            append(transcript, {"type": "message", "id": "m1", "parentId": None, "timestamp": NOW,
                                "message": {"role": "user", "content": [{"type": "text", "text": "hi"}]}})
            append(transcript, {"type": "message", "id": "m2", "parentId": "m1", "timestamp": NOW,
                                "message": {"role": "assistant", "content": [{"type": "text", "text": "done"}],
                                            "provider": "fake", "model": "fake-model", "stopReason": "stop",
                                            "usage": {"input": 10, "output": 2, "cacheRead": 0, "cacheWrite": 0,
                                                      "totalTokens": 12}}})
            await until(lambda: (store.get("u-1") or {}).get("lastTurn", {}).get("count") == 1,
                        "the turn's end in the record while the scan still runs")
            assert not never.is_set() and scanning.is_set()
            written = store.get("u-1") or {}
            assert written["lastTurn"]["outcome"] == "completed" and written["model"] == "fake-model"
        finally:
            stop.set()
            never.set()
    await store.close()
