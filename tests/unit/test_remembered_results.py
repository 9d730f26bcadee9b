"""What the owner remembers of forwarded calls (their idempotency) stays bounded by age, count
and size: the store's `forward_results` and the RPC layer's in-memory replies."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.daemon import mesh_rpc
from sesh_mesh.errors import SeshError
from sesh_mesh.store import store as store_module
from sesh_mesh.store.store import Store


async def test_forward_results_are_pruned_by_count_and_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "FORWARD_RESULTS_MAX", 50)
    store = await Store.open(tmp_path / "store.sqlite", "alpha")
    try:
        for n in range(200):
            await store.remember_result(f"key-{n}", {"n": n})
        assert await store.forward_results_count() == 50
        assert await store.recall_result("key-199") == {"n": 199}  # the newest are kept
        assert await store.recall_result("key-0") is None
        monkeypatch.setattr(store_module, "FORWARD_RESULTS_TTL_S", -1.0)  # everything is older than that
        await store.remember_result("key-last", {"n": -1})
        assert await store.forward_results_count() <= 1
    finally:
        await store.close()


def test_remembered_replies_are_bounded_in_count_age_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rpc = mesh_rpc.Rpc(ops=Any, routes=Any)  # type: ignore[arg-type]  # neither is used here
    for n in range(mesh_rpc.RECENT_RESULTS_MAX + 100):
        rpc._remember(f"k{n}", {"ok": True, "result": n})
    assert len(rpc._recent) == mesh_rpc.RECENT_RESULTS_MAX
    assert f"k{mesh_rpc.RECENT_RESULTS_MAX + 99}" in rpc._recent
    big = {"ok": True, "result": "x" * (mesh_rpc.RECENT_RESULTS_MAX_CHARS // 3)}
    for n in range(10):
        rpc._remember(f"big{n}", big)
    assert rpc._recent_total <= mesh_rpc.RECENT_RESULTS_MAX_CHARS
    assert "big9" in rpc._recent and "big0" not in rpc._recent
    monkeypatch.setattr(mesh_rpc, "RECENT_RESULTS_TTL_S", 0.0)
    time.sleep(0.01)
    rpc._remember("fresh", {"ok": True})
    assert list(rpc._recent) == [] or list(rpc._recent) == ["fresh"]


class _Link:
    """A live link whose frames are recorded: what the caller side of an RPC sends."""

    peer = "beta"
    alive = True

    def __init__(self) -> None:
        self.calls: dict[str, Any] = {}
        self.partial: dict[str, list[str]] = {}
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def test_a_forwarded_stream_whose_reader_stops_ends_with_an_error_not_a_growing_queue() -> None:
    rpc = mesh_rpc.Rpc(ops=Any, routes=Any)  # type: ignore[arg-type]  # neither is used here
    link = _Link()
    stuck, resume = asyncio.Event(), asyncio.Event()
    taken: list[Any] = []

    async def emit(item: Any) -> None:
        taken.append(item)
        stuck.set()
        await resume.wait()  # a suspended reader (a stopped `tail --follow`)

    attempt = asyncio.ensure_future(
        rpc._attempt(link, False, "beta", "tail", {}, "key", {}, emit, None))
    await asyncio.sleep(0)
    (call_id,) = link.calls
    frame = {"t": "rpc-item", "id": call_id, "data": json.dumps({"line": "x" * 100})}
    rpc.on_frame(link, frame)
    await asyncio.wait_for(stuck.wait(), 1)
    for _ in range(mesh_rpc.MAX_PENDING_ITEMS * 3):
        rpc.on_frame(link, frame)
        queue = link.calls.get(call_id)
        assert queue is None or queue.qsize() <= mesh_rpc.MAX_PENDING_ITEMS
    assert call_id not in link.calls, "the overflowing call still takes frames"
    assert {"t": "rpc-cancel", "id": call_id} in link.sent, "the owner was not told to stop at once"
    resume.set()  # the reader comes back: it is told why its stream ended
    with pytest.raises(SeshError, match="fell 1000 items behind"):
        await asyncio.wait_for(attempt, 1)
    assert len(taken) == 1
