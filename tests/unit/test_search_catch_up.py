"""The search index's periodic catch-up skips a pass when no transcript grew as the watcher saw
it, but never for longer than FULL_SYNC_S, and a forced one (every search) always runs.

A real daemon composition (store, watcher, search index) on a real pi session file; no tmux.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from sesh_mesh.config import load_config
from sesh_mesh.daemon import search_ops
from sesh_mesh.daemon.main import Daemon
from sesh_mesh.services.search_index import IndexTarget, SyncStats
from sesh_mesh.store.record import new_record
from sesh_mesh.store.store import Store

NOW = "2026-11-21T10:00:00Z"


def append(path: Path, entry: dict[str, object]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def user_message(n: int, text: str) -> dict[str, object]:
    return {"type": "message", "id": f"m{n}", "parentId": None, "timestamp": NOW,
            "message": {"role": "user", "content": [{"type": "text", "text": text}]}}


async def test_a_pass_runs_only_when_a_transcript_grew_or_the_full_interval_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESH_TMUX_SOCKETS", "")
    transcript = tmp_path / "sessions" / "s.jsonl"
    transcript.parent.mkdir()
    append(transcript, {"type": "session", "version": 3, "id": "pi-1", "timestamp": NOW, "cwd": str(tmp_path)})
    append(transcript, user_message(1, "first words"))
    store = await Store.open(tmp_path / "store.sqlite", "a")
    record = new_record(uuid="u-1", agent="pi", machine="a", cwd=str(tmp_path), now=NOW,
                        agent_session_id="pi-1", extra={"filePath": str(transcript)})
    await store.write_local("u-1", lambda current: record if current is None else None)
    daemon = Daemon(store, tmp_path, "a", load_config(tmp_path), None)
    search = daemon.search
    passes: list[int] = []
    sync = search.index.sync

    def counted(targets: Iterable[IndexTarget]) -> SyncStats:
        targets = list(targets)
        passes.append(len(targets))
        return sync(targets)

    monkeypatch.setattr(search.index, "sync", counted)
    try:
        await daemon.watcher.tick(force_scan=True)  # the session's tail exists, at the file's end
        await search.catch_up(force=False)
        assert len(passes) == 1
        await search.catch_up(force=False)
        assert len(passes) == 1, "a pass ran though no transcript grew"

        append(transcript, user_message(2, "zebra crossing"))
        await daemon.watcher.tick(force_scan=True)  # the watcher reads what the file gained
        await search.catch_up(force=False)
        assert len(passes) == 2, "a grown transcript was not indexed"
        assert [hit.uuid for hit in search.index.search("zebra")] == ["u-1"]

        await search.catch_up()  # a search forces its pass
        assert len(passes) == 3
        monkeypatch.setattr(search_ops, "FULL_SYNC_S", 0.0)
        await search.catch_up(force=False)
        assert len(passes) == 4, "the full interval passed and no pass ran"
    finally:
        await store.close()
