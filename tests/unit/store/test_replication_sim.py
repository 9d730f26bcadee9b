"""The pure session wired to real Stores in memory: duplicates, reordering, stale seqs, resets, relays.

`Net` plays the shell's part (daemon/mesh_link.py) without sockets: it carries frames as JSON
text, applies batches, relays loose records and flushes pushes until nothing moves.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from sesh_mesh.store import mutations
from sesh_mesh.store.record import Record, new_record
from sesh_mesh.store.replication import PROTO_VERSION, Apply, Close, Command, PeerSession, Role, Send
from sesh_mesh.store.store import Store
from tests.harness import uid

NOW = "2026-11-21T10:00:00Z"
TOKEN = "tok"
MAX_ROUNDS = 10_000
"""Bound on frames carried by one `settle()`: a livelock fails the test instead of hanging it."""


async def create(store: Store, n: int, name: str = "") -> Record:
    fresh = new_record(uuid=uid(n), agent="claude", machine=store.machine, cwd="/tmp", now=NOW, name=name)
    written = await store.write_local(uid(n), lambda current: fresh if current is None else None)
    assert written is not None
    return written


def digest(store: Store) -> set[tuple[str, str, int, bool, str]]:
    return {
        (r["uuid"], str(r.get("origin")), int(r["originSeq"]), bool(r.get("deleted")), str(r.get("name")))
        for r in store.records.values()
    }


def _listener(session: PeerSession) -> Callable[[Record], None]:
    def committed(record: Record) -> None:
        session.committed(record)

    return committed


class Net:
    def __init__(self) -> None:
        self.frames: deque[tuple[PeerSession, str]] = deque()
        self.sessions: dict[str, list[tuple[PeerSession, Store]]] = {}
        self.partner: dict[int, PeerSession] = {}
        self.closed: list[Close] = []
        self.rebased: list[str] = []
        """The new epochs stores moved to on restore evidence (mesh_link's `_restored`)."""
        self._unsubscribe: list[Callable[[], None]] = []

    async def link(self, a: Store, b: Store) -> None:
        dialer = PeerSession(a.machine, a, Role.DIALER, expected_peer=b.machine, token=TOKEN)
        listener = PeerSession(b.machine, b, Role.LISTENER, tokens=lambda name: TOKEN)
        for session, store in ((dialer, a), (listener, b)):
            self.sessions.setdefault(store.machine, []).append((session, store))
            self._unsubscribe.append(store.subscribe(_listener(session)))
        self.partner[id(dialer)], self.partner[id(listener)] = listener, dialer
        listener.start()
        await self.run(dialer, a, dialer.start())
        await self.settle()

    def unlink_all(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.sessions.clear()

    async def run(self, session: PeerSession, store: Store, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, Send):
                self.frames.append((self.partner[id(session)], json.dumps(command.message)))
            elif isinstance(command, Apply):
                if command.origin == store.machine:
                    # As mesh_link does: versions of ours lost to a restore start a new epoch,
                    # and every link closes (the test links again).
                    conflict = store.restore_evidence(command.epoch, command.records)
                    if conflict is not None:
                        await store.rebase(conflict)
                        self.rebased.append(store.epoch)
                        self.frames.clear()
                        self.unlink_all()
                        return
                applied = await store.apply_batch(
                    command.origin, command.epoch, command.records, command.from_seq, command.to_seq,
                    hwm=command.hwm, loose=command.loose,
                )
                for other, _ in self.sessions.get(store.machine, []):
                    if other is not session:
                        if applied.loose and applied.changed:
                            other.relay_loose(applied.changed)
                        if applied.mark_moved:
                            other.mark_moved(command.origin)
            elif isinstance(command, Close):
                self.closed.append(command)

    def _store_of(self, session: PeerSession) -> Store:
        for pairs in self.sessions.values():
            for candidate, store in pairs:
                if candidate is session:
                    return store
        raise KeyError(session)

    async def deliver_one(self, transform: Callable[[str], list[str]] | None = None) -> None:
        target, frame = self.frames.popleft()
        for text in transform(frame) if transform else [frame]:
            await self.run(target, self._store_of(target), target.receive(text))

    async def settle(self) -> None:
        for _ in range(MAX_ROUNDS):
            if self.frames:
                await self.deliver_one()
                continue
            pending = [(s, st) for pairs in self.sessions.values() for s, st in pairs if s.has_work]
            if not pending:
                return
            for session, store in pending:
                await self.run(session, store, session.flush())
        raise AssertionError("the net did not settle")


OpenStore = Callable[..., Awaitable[Store]]


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[OpenStore]:
    opened: list[Store] = []

    async def open_store(machine: str, name: str | None = None) -> Store:
        store = await Store.open(tmp_path / f"{name or machine}.sqlite", machine)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


async def test_two_stores_converge_both_ways(stores: OpenStore) -> None:
    a, b = await stores("a"), await stores("b")
    for n in range(1, 6):
        await create(a, n)
        await create(b, 100 + n)
    net = Net()
    await net.link(a, b)
    assert digest(a) == digest(b) and len(a.records) == 10
    assert a.vector() == b.vector()
    await create(a, 6)  # a live push after the catch-up
    await net.settle()
    assert digest(a) == digest(b) and a.vector() == b.vector()


async def test_duplicated_and_reordered_batches_change_nothing_twice(stores: OpenStore) -> None:
    a, b = await stores("a"), await stores("b")
    net = Net()
    await net.link(a, b)
    for n in range(1, 4):
        await create(a, n)
        await net.settle()
    before = digest(b)
    # Replay a's whole history to b twice, in reverse order: nothing may change or go backwards.
    history = a.changes_since("a", 0)
    mark = b.vector()["a"]
    for record in reversed(history * 2):
        changed = await b.apply_remote("a", mark[0], [record], 0, 0)
        assert changed == []
    assert digest(b) == before and b.vector()["a"] == mark


async def test_a_gap_holds_the_mark_until_it_is_filled(stores: OpenStore) -> None:
    a, b = await stores("a"), await stores("b")
    net = Net()
    await net.link(a, b)
    start = b.vector()["a"][1]
    epoch = a.epoch
    first, second = [{**(await create(a, n)), "name": f"n{n}"} for n in (1, 2)]
    net.frames.clear()  # the live pushes are lost; we deliver by hand, out of order
    for session, _ in net.sessions["a"]:
        session.flush()
    await b.apply_remote("a", epoch, [second], first["originSeq"], second["originSeq"])
    assert b.vector()["a"][1] == start  # second arrived before first: no claim yet
    assert b.get(uid(2)) is not None
    await b.apply_remote("a", epoch, [first], start, first["originSeq"])
    assert b.vector()["a"][1] == first["originSeq"]


async def test_stale_seqs_and_tombstones_never_go_backwards(stores: OpenStore) -> None:
    a, b = await stores("a"), await stores("b")
    net = Net()
    await net.link(a, b)
    original = await create(a, 1, "one")
    renamed = await a.write_local(uid(1), mutations.build("rename", {"name": "two"}, NOW))
    deleted = await a.write_local(uid(1), mutations.build("delete", {}, NOW))
    await net.settle()
    assert renamed is not None and deleted is not None
    assert (b.get(uid(1)) or {})["deleted"] is True
    for stale in (original, renamed):
        assert await b.apply_remote("a", a.epoch, [stale], 0, 0) == []
    assert (b.get(uid(1)) or {})["deleted"] is True


async def test_a_wiped_store_recovers_its_records_and_its_new_writes_win(stores: OpenStore) -> None:
    a, b = await stores("a"), await stores("b")
    net = Net()
    await net.link(a, b)
    for n in range(1, 4):
        await create(a, n, f"old{n}")
    await net.settle()
    old_top = a.own_seq
    net.unlink_all()
    wiped = await stores("a", name="a-wiped")  # same machine name, new file: a new epoch
    assert wiped.epoch != a.epoch
    net2 = Net()
    await net2.link(wiped, b)
    assert {uid(n) for n in range(1, 4)} <= set(wiped.records)  # recovered from b
    assert wiped.own_seq >= old_top
    renamed = await wiped.write_local(uid(2), mutations.build("rename", {"name": "new2"}, NOW))
    assert renamed is not None and renamed["originSeq"] > old_top
    await net2.settle()
    assert (b.get(uid(2)) or {})["name"] == "new2"
    assert b.vector()["a"] == wiped.vector()["a"]  # b moved to the new lineage
    assert digest(b) == digest(wiped)


async def test_old_lineage_records_held_only_by_a_laggard_reach_everyone(stores: OpenStore) -> None:
    # c holds a record of a's previous life that b never saw; a was wiped and relinked to b.
    a, c = await stores("a"), await stores("c")
    net = Net()
    await net.link(a, c)
    await create(a, 1, "only-on-c")
    await net.settle()
    net.unlink_all()
    b = await stores("b")
    wiped = await stores("a", name="a-wiped")
    await create(wiped, 2, "new-life")
    net2 = Net()
    await net2.link(wiped, b)
    await net2.link(b, c)  # c now meets the new lineage through b only
    assert uid(1) in b.records and uid(1) in wiped.records
    assert digest(wiped) == digest(b) == digest(c)


async def test_a_chain_relays_through_the_middle(stores: OpenStore) -> None:
    a, b, c = await stores("a"), await stores("b"), await stores("c")
    await create(a, 1)
    await create(c, 3)
    net = Net()
    await net.link(a, b)
    await net.link(b, c)
    assert digest(a) == digest(b) == digest(c)
    await create(a, 10)
    await create(c, 30)
    await net.settle()
    assert digest(a) == digest(b) == digest(c) and len(c.records) == 4
    assert a.vector() == b.vector() == c.vector()


async def test_marks_travel_the_chain_even_without_records(stores: OpenStore) -> None:
    # gamma joins later and has written nothing: its mark still reaches alpha through beta, so
    # nobody keeps asking gamma's lineage from scratch (and lag reads 0 everywhere).
    a, b, c = await stores("a"), await stores("b"), await stores("c")
    net = Net()
    await net.link(a, b)
    await net.link(b, c)
    assert a.vector() == b.vector() == c.vector()
    assert set(a.vector()) == {"a", "b", "c"}


async def test_delete_beats_a_concurrent_rename_whatever_the_order(stores: OpenStore) -> None:
    a, b = await stores("a"), await stores("b")
    net = Net()
    await net.link(a, b)
    await create(a, 1, "x")
    await net.settle()
    net.unlink_all()
    # Partitioned: b force-deletes a's record, a renames it.
    forced = mutations.build("delete", {"force": True}, NOW)

    def as_tombstone(current: Record | None) -> Record | None:
        new = forced(current)
        if new is not None:
            new["machine"] = "a"
        return new

    await b.write_local(uid(1), as_tombstone)
    await a.write_local(uid(1), mutations.build("rename", {"name": "y"}, NOW))
    net2 = Net()
    await net2.link(b, a)
    for store in (a, b):
        assert (store.get(uid(1)) or {})["deleted"] is True
    assert digest(a) == digest(b)


async def anti_entropy_round(net: Net) -> list[str]:
    """Every session's timer fires once; returns the kinds of the frames that travelled."""
    for pairs in list(net.sessions.values()):
        for session, store in pairs:
            await net.run(session, store, session.anti_entropy_due())
    kinds: list[str] = []
    for _ in range(MAX_ROUNDS):
        if not net.frames:
            break
        kinds.append(json.loads(net.frames[0][1])["t"])
        await net.deliver_one()
    await net.settle()
    return kinds


async def test_anti_entropy_heals_lost_pushes_and_a_gap_without_a_new_link(stores: OpenStore) -> None:
    a, b, c = await stores("a"), await stores("b"), await stores("c")
    net = Net()
    await net.link(a, b)
    await net.link(b, c)
    await create(a, 1)
    for session, store in net.sessions["a"]:
        await net.run(session, store, session.flush())
    net.frames.clear()  # the push of record 1 is lost on a live link
    await create(a, 2)
    await net.settle()  # record 2 arrives above a gap: b holds it, its mark stays put
    assert b.get(uid(2)) is not None and b.get(uid(1)) is None
    assert b.vector()["a"] != a.vector()["a"] and c.get(uid(2)) is None
    kinds = await anti_entropy_round(net)
    assert kinds.count("batch") >= 1
    assert digest(a) == digest(b) == digest(c) and a.vector() == b.vector() == c.vector()
    # Converged and idle: a round is probes and vectors only, not one batch.
    assert sorted(set(await anti_entropy_round(net))) == ["ae", "vector"]


def _open_from(net: Net, store: Store, peer: str) -> PeerSession:
    """A link on `store` whose hello from `peer` (holding nothing) is already accepted; what it
    sends goes nowhere, and the Apply commands it returns are carried out with `net.run`."""
    session = PeerSession(store.machine, store, Role.LISTENER, tokens=lambda name: TOKEN)
    session.start()
    session.receive(json.dumps({"t": "hello", "proto": PROTO_VERSION, "machine": peer, "token": TOKEN,
                                "epoch": "", "vector": {}}))
    assert session.is_open
    net.sessions.setdefault(store.machine, []).append((session, store))
    return session


def _of(origin: str, n: int, seq: int) -> Record:
    record = new_record(uuid=uid(n), agent="claude", machine=origin, cwd="/tmp", now=NOW, name=f"s{seq}")
    record.update(origin=origin, originSeq=seq)
    return record


def _batch(origin: str, epoch: str, records: list[Record], from_seq: int, to_seq: int) -> str:
    return json.dumps({"t": "batch", "origin": origin, "epoch": epoch, "hwm": to_seq, "from": from_seq,
                       "to": to_seq, "records": records})


async def test_two_links_that_read_one_origin_before_either_applies_keep_the_newest_lineage(
        stores: OpenStore) -> None:
    # Jepsen-lite seed 23: gamma, restored from an old copy, holds beta's first lineage P. On the
    # reconnect beta sends its newest lineage N while alpha, cut from beta, sends the older O.
    # Each link's reader reads its batch before either apply has committed (one store, two
    # readers): judged against P, both look newer. Applied in turn, O must not replace N, or
    # gamma keeps O for good and every later push of N is taken for an older life.
    gamma = await stores("gamma")
    await gamma.apply_remote("beta", "P", [_of("beta", 1, 100)], 0, 100)
    net = Net()
    from_beta, from_alpha = _open_from(net, gamma, "beta"), _open_from(net, gamma, "alpha")
    newest = from_beta.receive(_batch("beta", "N", [_of("beta", 1, 300)], 0, 300))
    older = from_alpha.receive(_batch("beta", "O", [_of("beta", 1, 200)], 0, 200))
    await net.run(from_beta, gamma, newest)
    await net.run(from_alpha, gamma, older)
    assert gamma.vector()["beta"] == ("N", 300)
    assert (gamma.get(uid(1)) or {})["originSeq"] == 300
    await net.run(from_beta, gamma, from_beta.receive(_batch("beta", "N", [_of("beta", 2, 301)], 300, 301)))
    assert gamma.vector()["beta"] == ("N", 301)


async def test_a_wiped_store_gets_its_newest_version_from_peers_whose_marks_already_moved_on(
        stores: OpenStore) -> None:
    # The race of tests/mesh/test_recovery_window.py, made deterministic. The wiped a meets the
    # lagging b (which holds only "old"), and b passes a's new lineage on to c (which holds
    # "new") while a is away. When a links again, both peers' marks for a are in its new lineage
    # and the deltas after them are empty: only because a's hello asks back every record of its
    # own (it is recovering) does "new" come back. Closing the window writes it again in the new
    # lineage, so it travels by delta like any write.
    a, b, c = await stores("a"), await stores("b"), await stores("c")
    net = Net()
    await net.link(a, b)
    await net.link(b, c)
    await create(a, 1, "old")
    await net.settle()
    net.unlink_all()
    net = Net()
    await net.link(a, c)
    renamed = await a.write_local(uid(1), mutations.build("rename", {"name": "new"}, NOW))
    assert renamed is not None
    await net.settle()
    assert (b.get(uid(1)) or {})["name"] == "old" and (c.get(uid(1)) or {})["name"] == "new"
    net.unlink_all()
    wiped = await stores("a", name="a-wiped")
    assert wiped.recovering
    for x, y in ((wiped, b), (b, c)):
        net = Net()
        await net.link(x, y)
        net.unlink_all()
    assert b.vector()["a"] == c.vector()["a"] == wiped.vector()["a"]  # both marks in the new lineage
    assert (wiped.get(uid(1)) or {})["name"] == "old"
    net = Net()
    await net.link(wiped, b)
    await net.link(wiped, c)
    assert (wiped.get(uid(1)) or {})["name"] == "new"
    rewritten = await wiped.end_recovery()
    assert [r["uuid"] for r in rewritten] == [uid(1)] and not wiped.recovering
    await net.settle()
    assert {s.machine: (s.get(uid(1)) or {})["name"] for s in (wiped, b, c)} == {"a": "new", "b": "new", "c": "new"}
    assert digest(wiped) == digest(b) == digest(c) and wiped.vector() == b.vector() == c.vector()


async def test_closing_the_window_sends_an_adopted_old_version_to_a_peer_that_got_the_new_lineage_first(
        stores: OpenStore) -> None:
    # Jepsen-lite seed 11: a record of a's older lineage that only b holds. The wiped a links c
    # first, and c takes a's new lineage from a full set without it; then a adopts it from b. Its
    # seq is of the old lineage, below c's mark for a, so no delta ever carries it to c: closing
    # the window writes it again in the new lineage, and then it does travel.
    a, b, c = await stores("a"), await stores("b"), await stores("c")
    net = Net()
    await net.link(a, b)
    await create(a, 1, "only-on-b")
    await net.settle()
    net.unlink_all()
    wiped = await stores("a", name="a-wiped")
    await create(wiped, 2, "new-life")
    net = Net()
    await net.link(wiped, c)
    await net.link(wiped, b)
    assert (wiped.get(uid(1)) or {})["name"] == "only-on-b" and c.get(uid(1)) is None
    assert c.vector()["a"] == wiped.vector()["a"]  # c holds "all" of a's new lineage, yet not uid 1
    [rewritten] = await wiped.end_recovery()
    assert rewritten["uuid"] == uid(1) and rewritten["originSeq"] > (b.get(uid(1)) or {})["originSeq"]
    await net.settle()
    assert (c.get(uid(1)) or {})["name"] == "only-on-b"
    assert digest(wiped) == digest(b) == digest(c) and wiped.vector() == b.vector() == c.vector()


@pytest.mark.parametrize("window_open_at_copy", [False, True], ids=["window-closed", "window-open"])
async def test_a_restore_the_marks_hide_reaches_the_peer_that_never_saw_the_lost_write(
        stores: OpenStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window_open_at_copy: bool) -> None:
    # tests/mesh/test_recovery_window.py, made deterministic. a is restored from a copy taken
    # before it wrote uid 2, which only c holds. The restored a meets b first, and b passes a's
    # new counter on to c, so when a meets c no mark shows the restore; c sends uid 2 back
    # because its seq lies inside a jump of a's counter, and a moves to a new epoch.
    # Two ways it broke: the new epoch started at the counter the peers already held for the
    # old one, and an epoch that sorts lower lost the tie, so every peer kept a's new lineage
    # loose for good (window-closed); and a copy taken while a's window was still open adopted
    # uid 2 with its old seq, above the window's floor, so closing the window never wrote it
    # again and b never got it (window-open, the clean-clone CI failure).
    a, b, c = await stores("a"), await stores("b"), await stores("c")
    net = Net()
    await net.link(a, b)
    await net.link(a, c)
    await net.link(b, c)
    await create(a, 1, "before-the-copy")
    await net.settle()
    if not window_open_at_copy:
        await a.end_recovery()
    net.unlink_all()
    source = sqlite3.connect(f"file:{tmp_path / 'a.sqlite'}?mode=ro", uri=True)
    target = sqlite3.connect(tmp_path / "a-restored.sqlite")
    source.backup(target)
    source.close()
    target.close()
    net = Net()
    await net.link(a, c)
    await create(a, 2, "the-lost-future")
    await net.settle()
    net.unlink_all()
    assert (c.get(uid(2)) or {})["name"] == "the-lost-future" and b.get(uid(2)) is None
    restored = await stores("a", name="a-restored")
    assert restored.recovering is window_open_at_copy
    old_epoch = restored.epoch
    # Every epoch minted from here on sorts below the old one: the tie always goes against it.
    monkeypatch.setattr(secrets, "token_hex", lambda n: "0" * (2 * n))
    for x, y in ((restored, b), (b, c)):
        net = Net()
        await net.link(x, y)
        net.unlink_all()
    assert b.vector()["a"] == c.vector()["a"] == restored.vector()["a"]  # no mark shows the restore
    net = Net()
    await net.link(restored, c)
    assert net.rebased == [restored.epoch] and restored.epoch < old_epoch and restored.recovering
    net = Net()
    await net.link(restored, b)
    await net.link(restored, c)
    assert b.vector()["a"] == c.vector()["a"] == restored.vector()["a"]  # the new lineage replaced the old
    rewritten = await restored.end_recovery()
    assert {r["uuid"] for r in rewritten} == {uid(1), uid(2)}
    await net.settle()
    for store in (restored, b, c):
        assert {u: (store.get(u) or {}).get("name") for u in (uid(1), uid(2))} == {
            uid(1): "before-the-copy", uid(2): "the-lost-future"}, store.machine
    assert digest(restored) == digest(b) == digest(c)
    assert restored.vector() == b.vector() == c.vector()
