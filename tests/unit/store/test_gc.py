"""Tombstone GC: which tombstones may go (a table), and a purged uuid staying dead in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from sesh_mesh.store import gc, mutations
from sesh_mesh.store.record import clone, new_record
from sesh_mesh.store.store import Store
from tests.harness import uid

DAY = 86400.0
NOW = 100 * DAY
HORIZON = 30 * DAY
OURS = {"a": ("ea", 10), "c": ("ec", 5)}
OLD = gc.Tombstone("u-old", "a", 7, NOW - 31 * DAY)


@pytest.mark.parametrize(
    ("stone", "acks", "purged", "held_back"),
    [
        (OLD, {}, ("u-old",), {}),  # no peers at all: old enough is enough
        (OLD, {"b": {"a": ("ea", 7)}}, ("u-old",), {}),  # acknowledged exactly at its seq
        (OLD, {"b": {"a": ("ea", 9)}, "c": {"a": ("ea", 10)}}, ("u-old",), {}),
        (OLD, {"b": {"a": ("ea", 6)}}, (), {"b": 1}),  # the peer is behind the tombstone
        (OLD, {"b": None}, (), {"b": 1}),  # never acknowledged anything since we started
        (OLD, {"b": {}}, (), {"b": 1}),  # acknowledged, but nothing of that origin
        (OLD, {"b": {"a": ("other-lineage", 99)}}, (), {"b": 1}),  # a mark of another lineage proves nothing
        (OLD, {"b": {"a": ("ea", 9)}, "c": {"a": ("ea", 3)}}, (), {"c": 1}),  # one laggard holds it
        (gc.Tombstone("u-young", "a", 7, NOW - 29 * DAY), {"b": {"a": ("ea", 9)}}, (), {}),
        (gc.Tombstone("u-undated", "a", 7, None), {}, (), {}),  # no delete time: kept
        (gc.Tombstone("u-c", "c", 5, NOW - 40 * DAY), {"b": {"a": ("ea", 10), "c": ("ec", 5)}}, ("u-c",), {}),
    ],
)
def test_plan(stone: gc.Tombstone, acks: dict[str, gc.Vector | None], purged: tuple[str, ...],
              held_back: dict[str, int]) -> None:
    plan = gc.plan([stone], OURS, acks, NOW, HORIZON)
    assert plan.purge == purged
    assert plan.held_back == held_back


def test_young_tombstones_are_counted_and_live_records_are_never_candidates() -> None:
    live = new_record(uuid=uid(1), agent="claude", machine="a", cwd="/", now="2026-01-01T00:00:00Z")
    dead = {**clone(live), "uuid": uid(2), "deleted": True, "originSeq": 3, "updatedAt": "2026-01-01T00:00:00Z"}
    live["originSeq"] = 2
    stones = gc.tombstones([live, dead])
    assert [(s.uuid, s.origin, s.seq) for s in stones] == [(uid(2), "a", 3)]
    assert gc.plan(stones, {"a": ("e", 3)}, {}, stones[0].deleted_at or 0, HORIZON).young == 1


async def test_a_purged_uuid_is_gone_and_a_stale_live_copy_is_refused_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    record = new_record(uuid=uid(1), agent="claude", machine="b", cwd="/", now="2026-01-01T00:00:00Z")
    stale = {**clone(record), "origin": "b", "originSeq": 1}
    assert await store.apply_remote("b", "eb", [stale], 0, 1)
    deleted = await store.write_local(uid(1), mutations.build("delete", {"force": True}, "2026-01-02T00:00:00Z"))
    assert deleted is not None and deleted["deleted"] is True
    assert await store.purge([uid(1), uid(2)]) == [uid(1)]  # uid(2) is no tombstone here
    assert store.get(uid(1)) is None
    await store.close()
    store = await Store.open(path, "a")
    assert store.purged == {uid(1)}
    # The partitioned peer comes back with the live copy (even re-sent as a new lineage): refused.
    assert await store.apply_remote("b", "eb2", [stale], 0, 1) == []
    assert store.get(uid(1)) is None
    await store.close()
