"""Which tombstones may be purged. Pure: tombstones, peers' acknowledged vectors and a clock in.

A tombstone is purged only when both hold (docs/mesh-protocol.md, "Tombstone GC"):

1. it is older than the horizon (30 days; a grace period for peers not configured here yet);
2. every configured peer has *acknowledged* a vector that covers it: the peer's own report of
   what it holds (its hello, its anti-entropy answer, the marks on its batches), in the same
   lineage, at or above the tombstone's seq. What we merely sent does not count.

A peer that never acknowledged anything, or that is away, holds every newer tombstone back: it
may still carry the live record, and only the tombstone can kill it there. Purging leaves the
uuid in the store's purged set, so a stale live copy that turns up later is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sesh_mesh.store.record import Record

HORIZON_S = float(os.environ.get("SESH_TEST_TOMBSTONE_HORIZON_S") or 30 * 86400)
"""Tombstones younger than this are kept even when every peer has them. Tests shorten it."""

Vector = Mapping[str, tuple[str, int]]


@dataclass(frozen=True)
class Tombstone:
    uuid: str
    origin: str
    seq: int
    deleted_at: float | None
    """Seconds since the epoch of the delete (its `updatedAt`); None: unknown, never purged."""


@dataclass(frozen=True)
class Plan:
    purge: tuple[str, ...]
    held_back: dict[str, int]
    """Per peer: tombstones old enough that only this peer's missing acknowledgement keeps."""
    young: int
    """Tombstones kept because they are younger than the horizon."""


def tombstones(records: Iterable[Record]) -> list[Tombstone]:
    found = []
    for record in records:
        if record.get("deleted"):
            found.append(Tombstone(str(record["uuid"]), str(record.get("origin") or record["machine"]),
                                   int(record["originSeq"]), _seconds(record.get("updatedAt"))))
    return found


def _seconds(stamp: object) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def covers(acked: Vector | None, ours: Vector, stone: Tombstone) -> bool:
    """The peer reported holding `stone`'s origin up to its seq, in the lineage we hold."""
    if acked is None:
        return False
    theirs, mine = acked.get(stone.origin), ours.get(stone.origin)
    return theirs is not None and mine is not None and theirs[0] == mine[0] and theirs[1] >= stone.seq


def plan(
    stones: Iterable[Tombstone], ours: Vector, acks: Mapping[str, Vector | None], now: float, horizon: float
) -> Plan:
    """The tombstones to purge now: old enough, and acknowledged by every configured peer."""
    purge: list[str] = []
    held: dict[str, int] = {}
    young = 0
    for stone in stones:
        if stone.deleted_at is None or now - stone.deleted_at < horizon:
            young += 1
            continue
        missing = [peer for peer, acked in sorted(acks.items()) if not covers(acked, ours, stone)]
        for peer in missing:
            held[peer] = held.get(peer, 0) + 1
        if not missing:
            purge.append(stone.uuid)
    return Plan(tuple(sorted(purge)), held, young)
