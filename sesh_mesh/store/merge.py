"""Which of two versions of a record wins. Pure, total, deterministic.

Order is only ever by (origin, originSeq), never by wall-clock time. Deletion is absorbing:
a tombstone from any origin wins over every live version of the same uuid.
Among versions of the same kind from different origins the owner's own write wins, then the
greater (origin, seq) pair, so every replica picks the same version whatever the arrival order.
`kept_loose` is the same kind of rule for marks: which of two lineages of an origin is newer.
"""

from __future__ import annotations

from typing import NamedTuple


class Version(NamedTuple):
    origin: str
    seq: int
    deleted: bool
    owner: str


def _rank(version: Version) -> tuple[bool, bool, str, int]:
    return (version.deleted, version.origin == version.owner, version.origin, version.seq)


def should_apply(stored: Version | None, incoming: Version) -> bool:
    """True when `incoming` must replace `stored`."""
    if stored is None:
        return True
    if stored.deleted != incoming.deleted:
        return incoming.deleted
    if stored.origin == incoming.origin:
        return incoming.seq > stored.seq
    return _rank(incoming) > _rank(stored)


def kept_loose(held: tuple[str, int] | None, epoch: str, from_seq: int, hwm: int) -> bool:
    """True when a batch of lineage `epoch` (its claim starting at `from_seq`, its sender's mark
    `hwm`) must leave the mark `held` (epoch, max_seq) alone: its records are kept and passed
    on as loose ones, and only a batch for which this is False may move or replace the mark.

    Within the held lineage nothing is loose. A batch of another lineage replaces the mark only
    as a full set (`from_seq` 0) of a lineage that is newer, which is judged by the marks alone:
    a newer lineage of an origin always starts its counter above everything its older ones
    issued (the counter jumps to the wall clock at every start, and moves above a peer's mark
    on a conflict, docs/mesh-protocol.md "Epochs"). Equal marks fall to the greater epoch, so
    every replica ranks two lineages the same way and no pair of them can swap marks forever.
    """
    if held is None or held[0] == epoch:
        return False
    return from_seq > 0 or (hwm, epoch) < (held[1], held[0])
