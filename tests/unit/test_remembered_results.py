"""What the owner remembers of forwarded calls (their idempotency) stays bounded by age, count
and size: the store's `forward_results` and the RPC layer's in-memory replies."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.daemon import mesh_rpc
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
