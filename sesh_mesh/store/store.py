"""The sequenced session store: one SQLite file in WAL mode, one writer, records cached in memory.

Every local write allocates the next originSeq for this machine inside the same transaction as
the upsert, so kill -9 leaves the whole write or none of it. Replicated records are applied
idempotently through `merge.should_apply`, and the per-origin high-water mark moves in the same
transaction as the data (never ahead of it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from sesh_mesh.errors import SeshError
from sesh_mesh.store import merge
from sesh_mesh.store.record import Record, clone
from sesh_mesh.store.schema import migrate
from sesh_mesh.store.validation import MAX_SEQ, check_local_write, encodable, needs_sanitizing, sanitize_remote
from sesh_mesh.wire import dumps_compact_ascii

log = logging.getLogger(__name__)

ChangeListener = Callable[[Record], None]
Mutation = Callable[[Record | None], Record | None]
"""Takes the current record (or None) and returns the new one, or None for no change."""


@dataclass(frozen=True)
class OriginMark:
    origin: str
    epoch: str
    max_seq: int


FORWARD_RESULTS_TTL_S = 24 * 3600.0
FORWARD_RESULTS_MAX = 10_000
"""A forwarded mutation's result answers a retry of its key for a day, across owner restarts;
retries come within seconds or minutes, and the table stays small however long the daemon runs."""


class StoreFull(SeshError):
    """A write refused because the disk holding the store is full (SQLITE_FULL)."""


def _disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_FULL) or "disk is full" in str(exc)


GAPS_KEPT = 64
"""Counter jumps remembered (one per daemon start): a peer's mark inside one proves a restore."""

REBASE_MAX_SEQ = MAX_SEQ // 2
"""Honest seqs are wall-clock microseconds (2**52 us is the year 2112): a peer's mark for our
own origin above this is broken or hostile, and moves neither the counter nor any record."""


@dataclass(frozen=True)
class Applied:
    """What applying one batch did."""

    changed: list[Record]
    """The records that changed this store."""
    mark_moved: bool
    """The mark for the batch's origin moved (possibly without any record changing)."""
    loose: bool
    """Kept as records of another lineage, the mark left alone: relay them as loose ones."""


@dataclass(frozen=True)
class OwnConflict:
    """A peer's mark for this machine's own origin that this store's counter does not cover."""

    peer_seq: int
    since: int
    """Every version of ours above this seq (up to `peer_seq`, or all for a restore) is written
    again with a new seq, so it wins over whatever the peers hold."""
    new_epoch: bool
    """The peer holds seqs of our own epoch that this store never issued: it was restored from an
    old copy, and its lineage forked. A new epoch makes every peer resend what it holds of ours."""
    why: str


def _version(record: Record) -> merge.Version:
    return merge.Version(
        origin=str(record.get("origin") or record["machine"]),
        seq=int(record["originSeq"]),
        deleted=bool(record.get("deleted")),
        owner=str(record["machine"]),
    )


def _now_us() -> int:
    return time.time_ns() // 1000


class Store:
    """Open with `await Store.open(path, machine)`; close with `await store.close()`."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        machine: str,
        epoch: str,
        schema_version: int,
        *,
        recovering: bool = False,
        first_seq: int | None = None,
        gaps: Sequence[tuple[int, int]] = (),
    ) -> None:
        self._db = db
        self.machine = machine
        self.epoch = epoch
        self.schema_version = schema_version
        self.recovering = recovering
        """The reset-recovery window: this store is new (or restored), and not every configured
        peer has caught it up yet. Only then are records of our own origin adopted from peers."""
        self.recovered_from: set[str] = set()
        """Peers that have caught this store up since its recovery window opened (this process)."""
        self.first_seq = first_seq
        """The counter this store started at (None for stores older than the recovery window):
        every seq above it was written here, and no peer can replace such a version."""
        self.gaps = list(gaps)
        self.epochs: list[str] = [epoch]
        """Every lineage (epoch) of our own origin this store has had, oldest first."""
        """(below, above): the counter jumped from `below` to `above` when the store opened; no
        seq in between was ever issued by this store."""
        self.records: dict[str, Record] = {}
        self.marks: dict[str, OriginMark] = {}
        self.purged: set[str] = set()
        """Uuids whose tombstones were garbage-collected (store/gc.py); never accepted again."""
        self._lock = asyncio.Lock()
        self._listeners: list[ChangeListener] = []

    @classmethod
    async def open(cls, path: Path, machine: str) -> Store:
        schema_version, epoch, recovering, first_seq, gaps, epochs = _prepare(path, machine)
        db = await aiosqlite.connect(path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives the process being killed;
        # only an OS crash may lose the last commits, which replication then heals.
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        store = cls(db, machine, epoch, schema_version, recovering=recovering, first_seq=first_seq, gaps=gaps)
        store.epochs = epochs
        await store._load()
        return store

    async def close(self) -> None:
        await self._db.close()

    async def _load(self) -> None:
        repaired = 0
        async with self._db.execute("SELECT body FROM records") as cursor:
            async for (body,) in cursor:
                record = json.loads(body)
                # A record stored before the checks of `validation` could hold a lone surrogate
                # (every reply holding it failed) or terminal escapes in its name or tags: it is
                # served as a peer would receive it, and the next write stores that.
                clean = sanitize_remote(record)
                repaired += clean != record
                self.records[clean["uuid"]] = clean
        if repaired:
            log.warning("store: %d records held text that cannot be shown safely; serving them sanitised", repaired)
        async with self._db.execute("SELECT origin, epoch, max_seq FROM origins") as cursor:
            async for origin, epoch, max_seq in cursor:
                self.marks[origin] = OriginMark(origin, epoch, int(max_seq))
        async with self._db.execute("SELECT uuid FROM purged") as cursor:
            self.purged = {str(uuid) async for (uuid,) in cursor}

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self, records: Iterable[Record]) -> None:
        for record in records:
            for listener in list(self._listeners):
                listener(record)

    @property
    def own_seq(self) -> int:
        return self.marks[self.machine].max_seq

    # ---- local writes -------------------------------------------------------------------

    async def write_local(self, uuid: str, mutation: Mutation) -> Record | None:
        """Apply `mutation` to the current version and commit it with the next originSeq."""
        written = await self.write_local_many([(uuid, mutation)])
        return written[0] if written else None

    async def write_local_many(self, mutations: Sequence[tuple[str, Mutation]]) -> list[Record]:
        async with self._lock:
            next_seq = self.own_seq
            pending: dict[str, Record] = {}
            for uuid, mutation in mutations:
                current = pending.get(uuid) or self.records.get(uuid)
                new = mutation(clone(current) if current is not None else None)
                if new is None:
                    continue
                next_seq += 1
                new["uuid"] = uuid
                new["origin"] = self.machine
                new["originSeq"] = next_seq
                # Before anything is committed: a refused write leaves the store as it was.
                check_local_write(new, current)
                pending[uuid] = new
            if not pending:
                return []
            rows = [_row(record) for record in pending.values()]
            async with self._transaction():
                await self._db.executemany(_UPSERT, rows)
                await self._db.execute(
                    "UPDATE origins SET max_seq = ? WHERE origin = ?", (next_seq, self.machine)
                )
            self.records.update(pending)
            self.marks[self.machine] = OriginMark(self.machine, self.epoch, next_seq)
        written = list(pending.values())
        self._notify(written)
        return written

    # ---- replication --------------------------------------------------------------------

    def changes_since(self, origin: str, after_seq: int, limit: int | None = None) -> list[Record]:
        """Every record whose latest write came from `origin` with originSeq > after_seq, ascending."""
        found = [
            record
            for record in self.records.values()
            if (record.get("origin") or record["machine"]) == origin and record["originSeq"] > after_seq
        ]
        found.sort(key=lambda record: int(record["originSeq"]))
        return found if limit is None else found[:limit]

    def vector(self) -> dict[str, tuple[str, int]]:
        return {mark.origin: (mark.epoch, mark.max_seq) for mark in self.marks.values()}

    def own_gaps(self) -> list[tuple[int, int]]:
        return list(self.gaps)

    def lost_to_restore(self, epoch: str, records: Sequence[Record]) -> list[Record]:
        """Records of our own origin and epoch, from a peer, with a seq our counter skipped at a
        start and that we do not hold: versions this store wrote and lost to a restore."""
        if epoch != self.epoch:
            return []
        lost = []
        for record in records:
            seq = int(record.get("originSeq") or 0)
            held = self.records.get(str(record.get("uuid")))
            if held is not None and int(held.get("originSeq") or 0) == seq:
                continue
            if any(below < seq < above for below, above in self.gaps):
                lost.append(record)
        return lost

    def restore_evidence(self, epoch: str, records: Sequence[Record]) -> OwnConflict | None:
        """The new epoch that `lost_to_restore` records call for, if they are any.

        Also while the recovery window is open (a copy taken before it closed starts with it
        open): adopted as it is, such a version would keep its seq, one of our current lineage
        below every peer's mark and above `first_seq`, which neither a delta nor closing the
        window would ever carry to a peer that lacks it."""
        lost = self.lost_to_restore(epoch, records)
        return self.own_conflict((epoch, min(int(r["originSeq"]) for r in lost))) if lost else None

    def own_conflict(self, peer_mark: tuple[str, int] | None) -> OwnConflict | None:
        """What a peer's hello mark for our own origin says is wrong with our counter, if anything."""
        if peer_mark is None:
            return None
        epoch, seq = peer_mark
        if seq > REBASE_MAX_SEQ:
            return None
        if epoch == self.epoch:
            inside = next(((below, above) for below, above in self.gaps if below < seq < above), None)
            if seq <= self.own_seq and inside is None:
                return None
            since = inside[0] if inside else (self.gaps[-1][0] if self.gaps else (self.first_seq or 0))
            where = (f"inside the jump {inside[0]}..{inside[1]} at a start" if inside
                     else f"above its counter {self.own_seq}")
            return OwnConflict(seq, since, True, f"a peer holds seq {seq} of this machine's epoch {epoch}, {where}: "
                               "this store was restored from an old copy")
        if epoch not in self.epochs and not self.recovering:
            # A lineage of ours this store never had: it was created after the copy this store
            # was restored from. A new epoch reopens the window, and the peer sends that lineage.
            since = self.gaps[-1][0] if self.gaps else (self.first_seq or 0)
            return OwnConflict(seq, since, True, f"a peer holds this machine's lineage {epoch}, which this store "
                               "never had: it was restored from an older copy")
        floor = self.first_seq or 0
        exposed = [r for r in self.records.values() if _own(r, self.machine) and floor < int(r["originSeq"]) <= seq]
        if seq <= self.own_seq and not exposed:
            return None
        return OwnConflict(seq, floor, False, f"a peer holds seq {seq} of this machine's earlier lineage {epoch}, "
                           f"not below this store's counter {self.own_seq} (a reset store, a clock behind)")

    async def rebase(self, conflict: OwnConflict) -> list[Record]:
        """Move the counter above `conflict.peer_seq` and write again, with new seqs, every version
        of ours it exposes; with `new_epoch`, also start a new lineage and reopen the recovery
        window so our own records the peers hold come back. Returns the versions written again."""
        async with self._lock:
            # Strictly above: our lineages are ranked by their marks (`merge.kept_loose`), and a
            # peer may hold exactly `max(own_seq, peer_seq)` for the lineage this one replaces
            # (the counter travelled there). At an equal mark the epochs' order decides, and half
            # of all new lineages would be kept loose by every peer until anti-entropy.
            top = max(self.own_seq, conflict.peer_seq) + 1
            restamped: list[Record] = []
            for record in sorted(self.records.values(), key=lambda r: int(r["originSeq"])):
                seq = int(record["originSeq"])
                exposed = conflict.new_epoch or seq <= conflict.peer_seq
                if _own(record, self.machine) and seq > conflict.since and exposed:
                    top += 1
                    restamped.append({**clone(record), "originSeq": top})
            epoch = secrets.token_hex(8) if conflict.new_epoch else self.epoch
            first_seq = max(self.own_seq, conflict.peer_seq) + 1 if conflict.new_epoch else self.first_seq
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                if restamped:
                    await self._db.executemany(_UPSERT, [_row(record) for record in restamped])
                await self._db.execute(
                    "UPDATE origins SET epoch = ?, max_seq = ? WHERE origin = ?", (epoch, top, self.machine))
                if conflict.new_epoch:
                    await self._db.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (epoch,))
                    await self._db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('recovering', '1'), ('first_seq', ?)",
                        (str(first_seq),))
                    # The skipped seqs belonged to the old lineage: a record of ours inside them
                    # says nothing about the new one (and must not start yet another epoch).
                    await self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('gaps', '[]')")
                    await self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epochs', ?)",
                                           (json.dumps([*self.epochs, epoch][-GAPS_KEPT:]),))
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            self.records.update({record["uuid"]: record for record in restamped})
            self.epoch, self.first_seq = epoch, first_seq
            if conflict.new_epoch:
                self.recovered_from.clear()  # a reopened window waits for every peer again
                self.gaps = []
                self.epochs = [*self.epochs, epoch][-GAPS_KEPT:]
            self.recovering = self.recovering or conflict.new_epoch
            self.marks[self.machine] = OriginMark(self.machine, epoch, top)
        self._notify(restamped)
        return restamped

    async def remember_lineage(self, epoch: str) -> None:
        """Count `epoch` among the lineages of our own origin this store has had (`epochs`)."""
        if epoch in self.epochs:
            return
        async with self._lock:
            epochs = [epoch, *self.epochs][-GAPS_KEPT:]
            async with self._transaction():
                await self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epochs', ?)",
                                       (json.dumps(epochs),))
            self.epochs = epochs

    async def end_recovery(self) -> list[Record]:
        """Close the reset-recovery window for good (every configured peer has caught us up), and
        write again, with new seqs, every version of ours this store holds from before the window
        (adopted from peers, or from the copy it was restored from); returns them.

        Those versions carry seqs of older lineages, below the marks peers keep for our current
        one, so no delta would ever carry one to a peer that got our current lineage without it
        (from a full set sent before we had adopted it). Written again in the current lineage
        they travel like any write. Only now: every peer has sent us what it holds of ours, so
        no newer version of one of them can still arrive and lose to the rewritten copy."""
        if not self.recovering:
            return []
        async with self._lock:
            floor = self.first_seq
            top = self.own_seq
            restamped: list[Record] = []
            if floor is not None:
                for record in sorted(self.records.values(), key=lambda r: int(r["originSeq"])):
                    if _own(record, self.machine) and int(record["originSeq"]) <= floor:
                        top += 1
                        restamped.append({**clone(record), "originSeq": top})
            async with self._transaction():
                if restamped:
                    await self._db.executemany(_UPSERT, [_row(record) for record in restamped])
                    await self._db.execute("UPDATE origins SET max_seq = ? WHERE origin = ?", (top, self.machine))
                await self._db.execute("DELETE FROM meta WHERE key = 'recovering'")
            self.recovering = False
            self.records.update({record["uuid"]: record for record in restamped})
            self.marks[self.machine] = OriginMark(self.machine, self.epoch, top)
        self._notify(restamped)
        return restamped

    async def apply_remote(
        self,
        origin: str,
        epoch: str,
        records: Sequence[Record],
        from_seq: int,
        to_seq: int,
        *,
        adopt_own: bool | None = None,
    ) -> list[Record]:
        """`apply_batch` for a batch whose sender's mark is its `to_seq`; the records that changed."""
        applied = await self.apply_batch(origin, epoch, records, from_seq, to_seq, adopt_own=adopt_own)
        return applied.changed

    async def apply_batch(
        self,
        origin: str,
        epoch: str,
        records: Sequence[Record],
        from_seq: int,
        to_seq: int,
        *,
        hwm: int | None = None,
        loose: bool = False,
        adopt_own: bool | None = None,
    ) -> Applied:
        """Apply a batch of `origin`'s records in lineage `epoch`.

        The sender vouches that these records together with everything of `origin` up to
        `from_seq` are everything up to `to_seq`, so the high-water mark moves to `to_seq` only
        when ours already reached `from_seq` in the same epoch. A batch of another lineage
        replaces the mark only when `merge.kept_loose` says that lineage is newer (`hwm`, the
        sender's own mark, defaults to `to_seq`); otherwise, and for a `loose` batch, its records
        are kept and the mark is left alone. That is judged here, under the store's lock, against
        the mark as it is when the batch is applied: two links may read batches of one origin
        before either is applied, and a judgement made at reading time would let the older
        lineage replace the newer one. Records of our own origin are adopted only when
        `adopt_own` (default: while `recovering`), and never over a version written here. Every
        record is sanitised (`validation.sanitize_remote`, a copy) before it is kept; one that
        needs nothing is kept as given, so callers hand over records no one else changes (the
        mesh passes the ones it just decoded).
        """
        for seq in (from_seq, to_seq):
            if not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
                raise ValueError(f"batch mark {seq!r} is out of range (0 to {MAX_SEQ})")
        for record in records:
            if (record.get("origin") or record.get("machine")) != origin:
                raise ValueError(f"record {record.get('uuid')} is not from origin {origin}")
            seq = record.get("originSeq", 0)
            if not isinstance(seq, int) or seq <= 0:
                raise ValueError(f"record {record.get('uuid')} has no positive originSeq")
            if seq > MAX_SEQ:
                raise ValueError(f"record {record.get('uuid')} has originSeq {seq} above {MAX_SEQ}")
        if origin == self.machine:
            if not (self.recovering if adopt_own is None else adopt_own):
                if records or to_seq > self.own_seq:
                    log.warning(
                        "ignored %d records of this machine's own origin %s from a peer: they are "
                        "adopted only while a reset store recovers (docs/mesh-protocol.md, Epochs)",
                        len(records), origin,
                    )
                return Applied([], False, False)
            records = self._not_written_here(records)
        # The uuid keys the record in memory and on disk alike: one that sanitising would change
        # (a lone surrogate) is sanitised before anything looks it up. The rest wait for the
        # cheap check below, on the records that change.
        records = [sanitize_remote(record) if _unencodable_uuid(record) else record for record in records]
        # A purged tombstone's record stays dead: a stale live copy from a peer is not taken back.
        records = [record for record in records if record.get("uuid") not in self.purged]
        async with self._lock:
            mark = self.marks.get(origin)
            changed: dict[str, Record] = {}
            for record in sorted(records, key=lambda r: int(r["originSeq"])):
                current = changed.get(record["uuid"]) or self.records.get(record["uuid"])
                if current is None or merge.should_apply(_version(current), _version(record)):
                    changed[record["uuid"]] = record
            if origin == self.machine:
                # Our own records coming back from a peer while a reset store recovers: the
                # counter continues above every seq of ours that exists anywhere (bounded by
                # MAX_SEQ, so no peer can push it where a write would overflow). Only records
                # adopted count; a bare claim or a refused version moves nothing.
                seen = max([0, *(int(r["originSeq"]) for r in records)])
                new_mark = OriginMark(origin, self.epoch, max(self.own_seq, seen))
                loose = False
            else:
                held = (mark.epoch, mark.max_seq) if mark is not None else None
                loose = loose or merge.kept_loose(held, epoch, from_seq, to_seq if hwm is None else hwm)
                if not loose:
                    new_mark = _advance(mark, origin, epoch, from_seq, to_seq)
                elif mark is not None:
                    new_mark = mark
                else:
                    # Records of an origin we had no mark for: a mark at 0 in their lineage, so
                    # that our catch-ups serve them too.
                    new_mark = OriginMark(origin, epoch, 0)
            own_bump = origin == self.machine and new_mark.max_seq > self.own_seq
            if not changed and new_mark == mark and not own_bump:
                return Applied([], False, loose)
            rows = []
            for uuid, record in changed.items():
                row = _row(record)
                if needs_sanitizing(record, row[-1]):
                    changed[uuid] = record = sanitize_remote(record)
                    row = _row(record)
                rows.append(row)
            async with self._transaction():
                if changed:
                    await self._db.executemany(_UPSERT, rows)
                await self._db.execute(
                    "INSERT INTO origins (origin, epoch, max_seq) VALUES (?, ?, ?) "
                    "ON CONFLICT(origin) DO UPDATE SET epoch = excluded.epoch, max_seq = excluded.max_seq",
                    (origin, new_mark.epoch, new_mark.max_seq),
                )
            self.records.update(changed)
            self.marks[origin] = new_mark
        applied = list(changed.values())
        self._notify(applied)
        return Applied(applied, new_mark != mark, loose)

    async def purge(self, uuids: Sequence[str]) -> list[str]:
        """Drop these tombstones for good, remembering their uuids (store/gc.py decides which)."""
        async with self._lock:
            gone = [uuid for uuid in uuids if (self.records.get(uuid) or {}).get("deleted")]
            if not gone:
                return []
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                await self._db.executemany("DELETE FROM records WHERE uuid = ?", [(uuid,) for uuid in gone])
                await self._db.executemany(
                    "INSERT OR REPLACE INTO purged (uuid, purged_at) VALUES (?, ?)",
                    [(uuid, time.time()) for uuid in gone],
                )
                await self._db.execute("COMMIT")
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            for uuid in gone:
                del self.records[uuid]
                self.purged.add(uuid)
        return gone

    def _not_written_here(self, records: Sequence[Record]) -> list[Record]:
        """Our own origin's records minus those that would replace a version this store wrote."""
        floor = self.first_seq
        kept: list[Record] = []
        for record in records:
            held = self.records.get(record["uuid"])
            if (
                held is not None
                and (held.get("origin") or held["machine"]) == self.machine
                and (floor is None or int(held["originSeq"]) > floor)
                and int(record["originSeq"]) > int(held["originSeq"])
            ):
                log.warning(
                    "refused a version of %s (seq %s) from a peer: this machine wrote that record "
                    "itself (seq %s), and only it writes its own origin",
                    record["uuid"], record["originSeq"], held["originSeq"],
                )
                continue
            kept.append(record)
        return kept

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """One write transaction. When it fails, the error that made it fail is the one raised:
        SQLite may already have rolled back (a full disk does), and the ROLLBACK that then fails
        ("no transaction is active") must not hide it. A full disk is StoreFull."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            await self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                try:
                    await self._db.execute("ROLLBACK")
                except sqlite3.Error as rollback_failed:
                    log.warning("store: rollback after %r failed: %r", exc, rollback_failed)
            if isinstance(exc, sqlite3.Error) and _disk_full(exc):
                raise StoreFull(
                    "disk full: the store cannot grow, so this write was not made; nothing was changed",
                    "free some space on the disk holding SESH_HOME and retry",
                ) from exc
            raise

    # ---- forwarded-call results (idempotency) -------------------------------------------

    async def remember_result(self, key: str, result: Any) -> None:
        """Remember a forwarded mutation's result under its idempotency key, and forget the results
        older than FORWARD_RESULTS_TTL_S or beyond the newest FORWARD_RESULTS_MAX."""
        now = time.time()
        async with self._lock, self._transaction():
            await self._db.execute(
                "INSERT OR REPLACE INTO forward_results (key, result, created_at) VALUES (?, ?, ?)",
                (key, json.dumps(result), now),
            )
            await self._db.execute(
                "DELETE FROM forward_results WHERE created_at < ? OR key NOT IN "
                "(SELECT key FROM forward_results ORDER BY created_at DESC LIMIT ?)",
                (now - FORWARD_RESULTS_TTL_S, FORWARD_RESULTS_MAX),
            )

    async def forward_results_count(self) -> int:
        async with self._db.execute("SELECT count(*) FROM forward_results") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def recall_result(self, key: str) -> Any | None:
        async with self._db.execute("SELECT result FROM forward_results WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else json.loads(row[0])

    # ---- reads --------------------------------------------------------------------------

    def get(self, uuid: str) -> Record | None:
        return self.records.get(uuid)

    async def integrity_check(self) -> str:
        async with self._db.execute("PRAGMA integrity_check") as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else "no answer"


_UPSERT = (
    "INSERT INTO records (uuid, origin, origin_seq, machine, deleted, agent, agent_session_id, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(uuid) DO UPDATE SET origin = excluded.origin, "
    "origin_seq = excluded.origin_seq, machine = excluded.machine, deleted = excluded.deleted, "
    "agent = excluded.agent, agent_session_id = excluded.agent_session_id, body = excluded.body"
)


def _row(record: Record) -> tuple[Any, ...]:
    return (
        record["uuid"],
        record.get("origin") or record["machine"],
        int(record["originSeq"]),
        record["machine"],
        1 if record.get("deleted") else 0,
        record.get("agent"),
        record.get("agentSessionId"),
        dumps_compact_ascii(record),
    )


def _unencodable_uuid(record: Record) -> bool:
    uuid = record.get("uuid")
    return isinstance(uuid, str) and not uuid.isascii() and not encodable(uuid)


def _advance(mark: OriginMark | None, origin: str, epoch: str, from_seq: int, to_seq: int) -> OriginMark:
    """The high-water mark after a batch that covers (from_seq, to_seq] of `origin` in `epoch`."""
    if mark is None or mark.epoch != epoch:
        # A new lineage of that origin: start over, keeping every record we hold (never drop).
        start = OriginMark(origin, epoch, 0)
        return OriginMark(origin, epoch, to_seq) if from_seq <= 0 else start
    if mark.max_seq >= from_seq:
        return OriginMark(origin, epoch, max(mark.max_seq, to_seq))
    return mark


def _own(record: Record, machine: str) -> bool:
    return bool((record.get("origin") or record["machine"]) == machine)


def _prepare(path: Path, machine: str) -> tuple[int, str, bool, int | None, list[tuple[int, int]], list[str]]:
    """Create or migrate the file synchronously (before the loop serves anyone).

    Returns the schema version, the epoch, whether the reset-recovery window is open, the
    counter the store started at, and the counter's jumps at starts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        version = migrate(db)
        row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
        if row is None:
            epoch = secrets.token_hex(8)
            first_seq = _now_us()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
            db.execute("INSERT INTO meta (key, value) VALUES ('machine', ?)", (machine,))
            db.execute("INSERT INTO meta (key, value) VALUES ('recovering', '1')")
            db.execute("INSERT INTO meta (key, value) VALUES ('first_seq', ?)", (str(first_seq),))
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epochs', ?)", (json.dumps([epoch]),))
            # A new store starts its counter at the wall clock in microseconds, so a wiped
            # machine's new writes still sort after its old ones (docs/mesh-protocol.md "Epochs").
            db.execute(
                "INSERT INTO origins (origin, epoch, max_seq) VALUES (?, ?, ?)", (machine, epoch, first_seq)
            )
            db.execute("COMMIT")
            return version, epoch, True, first_seq, [], [epoch]
        else:
            epoch = str(row[0])
            stored_machine = db.execute("SELECT value FROM meta WHERE key = 'machine'").fetchone()
            if stored_machine is not None and stored_machine[0] != machine:
                raise StoreMachineMismatch(str(stored_machine[0]), machine, path)
            db.execute(
                "INSERT OR IGNORE INTO origins (origin, epoch, max_seq) VALUES (?, ?, ?)",
                (machine, epoch, _now_us()),
            )
            gaps = _jump_counter(db, machine)
        meta = dict(db.execute(
            "SELECT key, value FROM meta WHERE key IN ('recovering', 'first_seq', 'epochs')").fetchall())
        first = meta.get("first_seq")
        # Every lineage this store has had (a store older than the history knows only its own).
        epochs = [str(e) for e in json.loads(meta["epochs"])] if meta.get("epochs") else [epoch]
        return version, epoch, "recovering" in meta, int(first) if first is not None else None, gaps, epochs
    finally:
        db.close()


def _jump_counter(db: sqlite3.Connection, machine: str) -> list[tuple[int, int]]:
    """At every start the counter jumps to the wall clock in microseconds (never back), and the
    jump is remembered. A copy of this file restored later then writes seqs above those its lost
    future issued, and a peer's mark inside a jump shows that such a future existed."""
    (stored,) = db.execute("SELECT max_seq FROM origins WHERE origin = ?", (machine,)).fetchone()
    row = db.execute("SELECT value FROM meta WHERE key = 'gaps'").fetchone()
    gaps = [(int(below), int(above)) for below, above in json.loads(row[0])] if row else []
    now = _now_us()
    if now > int(stored):
        gaps = [*gaps, (int(stored), now)][-GAPS_KEPT:]
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE origins SET max_seq = ? WHERE origin = ?", (now, machine))
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('gaps', ?)", (json.dumps(gaps),))
        db.execute("COMMIT")
    return gaps


class StoreMachineMismatch(Exception):
    def __init__(self, stored: str, asked: str, path: Path) -> None:
        super().__init__(f"store {path} belongs to machine {stored!r}, not {asked!r}")
        self.stored, self.asked, self.path = stored, asked, path
