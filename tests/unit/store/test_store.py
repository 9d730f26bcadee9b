"""The sequenced store against a real SQLite file: seqs, idempotent apply, tombstones, epochs."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sesh_mesh.store import mutations
from sesh_mesh.store.record import Record, new_record
from sesh_mesh.store.store import Store, StoreMachineMismatch
from tests.harness import uid

NOW = "2026-11-21T10:00:00Z"


def fresh(uuid: str, machine: str = "a") -> Record:
    return new_record(uuid=uuid, agent="claude", machine=machine, cwd="/tmp", now=NOW, name=uuid[:4])


async def insert(store: Store, uuid: str) -> Record:
    record = fresh(uuid, store.machine)
    written = await store.write_local(uuid, lambda current: record if current is None else None)
    assert written is not None
    return written


async def test_seq_strictly_increasing_and_never_reused_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    seqs = [(await insert(store, uid(i)))["originSeq"] for i in range(5)]
    rename = mutations.build("rename", {"name": "x"}, NOW)
    seqs.append((await store.write_local(uid(0), rename) or {})["originSeq"])
    await store.close()
    reopened = await Store.open(path, "a")
    seqs.append((await insert(reopened, uid(99)))["originSeq"])
    await reopened.close()
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs[:6] == list(range(seqs[0], seqs[0] + 6))  # dense while the store is open
    # A reopen jumps the counter to the wall clock (a restored old copy then writes new seqs).
    assert seqs[6] > seqs[5] + 1


async def test_epoch_is_created_once_and_kept(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    epoch = store.epoch
    await store.close()
    again = await Store.open(tmp_path / "s.sqlite", "a")
    assert again.epoch == epoch and len(epoch) == 16
    assert again.vector()["a"][0] == epoch
    await again.close()
    other = await Store.open(tmp_path / "t.sqlite", "a")
    assert other.epoch != epoch
    await other.close()


async def test_store_refuses_another_machine_name(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    await store.close()
    with pytest.raises(StoreMachineMismatch):
        await Store.open(tmp_path / "s.sqlite", "b")


async def test_apply_remote_is_idempotent_and_ignores_lower_or_equal(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    remote = {**fresh(uid(1), "b"), "origin": "b", "originSeq": 10, "name": "ten"}
    assert len(await store.apply_remote("b", "eb", [remote], 0, 10)) == 1
    assert await store.apply_remote("b", "eb", [remote], 0, 10) == []  # duplicate
    older = {**remote, "originSeq": 9, "name": "nine"}
    assert await store.apply_remote("b", "eb", [older], 0, 10) == []  # lower
    same = {**remote, "name": "other"}
    assert await store.apply_remote("b", "eb", [same], 0, 10) == []  # equal
    newer = {**remote, "originSeq": 11, "name": "eleven"}
    assert [r["name"] for r in await store.apply_remote("b", "eb", [newer], 10, 11)] == ["eleven"]
    assert store.get(uid(1))["name"] == "eleven"  # type: ignore[index]
    assert store.vector()["b"] == ("eb", 11)
    await store.close()


async def test_tombstone_is_never_resurrected(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    live = {**fresh(uid(2), "b"), "origin": "b", "originSeq": 5}
    dead = {**live, "originSeq": 6, "deleted": True}
    await store.apply_remote("b", "eb", [dead], 0, 6)
    await store.apply_remote("b", "eb", [live], 0, 6)  # the older write arrives late
    assert store.get(uid(2))["deleted"] is True  # type: ignore[index]
    await store.close()
    reopened = await Store.open(tmp_path / "s.sqlite", "a")
    assert reopened.get(uid(2))["deleted"] is True  # type: ignore[index]
    await reopened.close()


async def test_high_water_mark_moves_only_over_contiguous_batches(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    rec = {**fresh(uid(3), "b"), "origin": "b"}
    await store.apply_remote("b", "eb", [{**rec, "originSeq": 3}], 0, 3)
    # A push that vouches only for (7, 8]: applied, but the mark must not jump over 4..7.
    await store.apply_remote("b", "eb", [{**rec, "uuid": uid(4), "originSeq": 8}], 7, 8)
    assert store.get(uid(4)) is not None
    assert store.vector()["b"] == ("eb", 3)
    await store.apply_remote("b", "eb", [{**rec, "uuid": uid(5), "originSeq": 5}], 3, 8)
    assert store.vector()["b"] == ("eb", 8)
    await store.close()


async def test_epoch_change_restarts_the_mark_and_drops_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    old = {**fresh(uid(6), "b"), "origin": "b", "originSeq": 40}
    await store.apply_remote("b", "old", [old], 0, 40)
    new = {**fresh(uid(7), "b"), "origin": "b", "originSeq": 2_000_002}
    await store.apply_remote("b", "new", [new], 0, 2_000_002)
    assert store.vector()["b"] == ("new", 2_000_002)
    assert store.get(uid(6)) is not None and store.get(uid(7)) is not None
    await store.close()


async def test_an_older_lineage_applied_after_a_newer_one_is_kept_loose_and_leaves_the_mark(tmp_path: Path) -> None:
    # Judged when applied, not when read: two links may both have read a full set of b (one of
    # each lineage) before either is applied, and the older one comes second.
    store = await Store.open(tmp_path / "s.sqlite", "a")
    await store.apply_remote("b", "first", [{**fresh(uid(6), "b"), "origin": "b", "originSeq": 10}], 0, 10)
    newer = await store.apply_batch("b", "newest", [{**fresh(uid(6), "b"), "origin": "b", "originSeq": 300}], 0, 300)
    assert newer.mark_moved and not newer.loose and store.vector()["b"] == ("newest", 300)
    late = {**fresh(uid(8), "b"), "origin": "b", "originSeq": 200}
    older = await store.apply_batch("b", "older", [late, {**fresh(uid(6), "b"), "origin": "b", "originSeq": 200}],
                                    0, 200)
    assert older.loose and not older.mark_moved and [r["uuid"] for r in older.changed] == [uid(8)]
    assert store.vector()["b"] == ("newest", 300)  # the record it carried is kept, the mark is not
    delta = await store.apply_batch("b", "older", [], 200, 210)  # a delta of a lineage we do not hold
    assert delta.loose and store.vector()["b"] == ("newest", 300)
    flagged = await store.apply_batch("b", "newest", [], 300, 400, loose=True)  # makes no claim
    assert flagged.loose and store.vector()["b"] == ("newest", 300)
    await store.close()


async def test_own_records_from_a_peer_raise_the_counter(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    start = store.own_seq
    mine = {**fresh(uid(8), "a"), "origin": "a", "originSeq": start + 1000}
    await store.apply_remote("a", "previous-life", [mine], 0, start + 1000)
    written = await insert(store, uid(9))
    assert written["originSeq"] == start + 1001
    await store.close()


async def test_records_from_the_wrong_origin_are_rejected(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    rec = {**fresh(uid(10), "b"), "origin": "b", "originSeq": 3}
    with pytest.raises(ValueError, match="not from origin c"):
        await store.apply_remote("c", "ec", [rec], 0, 3)
    with pytest.raises(ValueError, match="positive originSeq"):
        await store.apply_remote("b", "eb", [{**rec, "originSeq": 0}], 0, 3)
    await store.close()


async def test_changes_since_is_ascending_per_origin(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    written = [await insert(store, uid(i)) for i in range(20, 25)]
    after = written[1]["originSeq"]
    got = store.changes_since("a", after)
    assert [r["originSeq"] for r in got] == [r["originSeq"] for r in written[2:]]
    await store.close()


async def test_a_failed_mutation_writes_nothing(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "s.sqlite", "a")
    await insert(store, uid(30))
    before = store.own_seq

    def boom(current: Record | None) -> Record | None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        await store.write_local(uid(30), boom)
    assert store.own_seq == before
    await store.close()
    db = sqlite3.connect(tmp_path / "s.sqlite")
    assert db.execute("SELECT max_seq FROM origins WHERE origin='a'").fetchone()[0] == before
    db.close()


_BATCH_CHILD = """
import asyncio, os, signal, sys
from pathlib import Path
from sesh_mesh.store.record import new_record
from sesh_mesh.store.store import Store

async def main(path: str, count: int, kill: bool) -> None:
    store = await Store.open(Path(path), "a")
    if kill:
        execute = store._db.execute
        def dying(sql, *args):
            # Inside the batch's transaction, after its rows were written and before the commit.
            if sql.startswith("UPDATE origins"):
                os.kill(os.getpid(), signal.SIGKILL)
            return execute(sql, *args)
        store._db.execute = dying
    def insert(uuid):
        record = new_record(uuid=uuid, agent="pi", machine="a", cwd="/tmp", now="2026-11-21T10:00:00Z")
        return lambda current: record if current is None else None
    await store.write_local_many([(f"batch-{i:04d}", insert(f"batch-{i:04d}")) for i in range(count)])
    await store.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "kill"))
"""


async def test_a_batch_of_local_writes_is_one_commit_all_or_nothing_under_a_kill(tmp_path: Path) -> None:
    """The watcher writes a look's states with `write_local_many`: a daemon killed inside that
    commit leaves none of them, and a finished one holds each with its own consecutive seq."""
    path = tmp_path / "s.sqlite"
    store = await Store.open(path, "a")
    await insert(store, uid(1))
    await store.close()

    def child(mode: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _BATCH_CHILD, str(path), "50", mode],
                              check=False, capture_output=True, text=True, timeout=60)

    killed = child("kill")
    assert killed.returncode == -9, killed.stderr
    reopened = await Store.open(path, "a")
    assert [u for u in reopened.records if u.startswith("batch-")] == []
    assert uid(1) in reopened.records
    before = reopened.own_seq
    await reopened.close()

    done = child("commit")
    assert done.returncode == 0, done.stderr
    final = await Store.open(path, "a")
    seqs = [int(final.records[f"batch-{i:04d}"]["originSeq"]) for i in range(50)]
    await final.close()
    assert seqs[0] > before and seqs == list(range(seqs[0], seqs[0] + 50))
    db = sqlite3.connect(path)
    stored = dict(db.execute("SELECT uuid, origin_seq FROM records WHERE uuid LIKE 'batch-%'").fetchall())
    db.close()
    assert [stored[f"batch-{i:04d}"] for i in range(50)] == seqs
