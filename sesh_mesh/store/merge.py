"""Which of two versions of a record wins. Pure, total, deterministic.

Order is only ever by (origin, originSeq), never by wall-clock time. Deletion is absorbing:
a tombstone from any origin wins over every live version of the same uuid.
Among versions of the same kind from different origins the owner's own write wins, then the
greater (origin, seq) pair, so every replica picks the same version whatever the arrival order.
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
