"""Table tests of the pure merge rule."""

from __future__ import annotations

import pytest

from sesh_mesh.store.merge import Version, should_apply


def v(origin: str, seq: int, deleted: bool = False, owner: str = "a") -> Version:
    return Version(origin, seq, deleted, owner)


@pytest.mark.parametrize(
    ("stored", "incoming", "expected"),
    [
        (None, v("a", 1), True),
        (v("a", 5), v("a", 4), False),  # lower seq ignored
        (v("a", 5), v("a", 5), False),  # equal seq ignored (idempotent)
        (v("a", 5), v("a", 6), True),  # higher seq wins
        (v("a", 9, deleted=True), v("a", 3), False),  # tombstone vs older write
        (v("a", 9, deleted=True), v("a", 12), False),  # deletion is absorbing, even for a higher seq
        (v("a", 3), v("a", 2, deleted=True), True),  # a tombstone wins over any live version
        (v("a", 3), v("b", 1, deleted=True), True),  # forced delete from another origin
        (v("b", 1, deleted=True), v("a", 7, deleted=True), True),  # owner's own tombstone preferred
        (v("a", 7, deleted=True), v("b", 1, deleted=True), False),
        (v("b", 4), v("a", 2), True),  # the owner's write wins over a non-owner's live version
    ],
)
def test_should_apply(stored: Version | None, incoming: Version, expected: bool) -> None:
    assert should_apply(stored, incoming) is expected


def test_choice_is_independent_of_arrival_order() -> None:
    versions = [v("a", 3), v("a", 8), v("b", 2, deleted=True), v("a", 9, deleted=True), v("c", 5, deleted=True)]
    import itertools

    winners = set()
    for order in itertools.permutations(versions):
        current: Version | None = None
        for version in order:
            if should_apply(current, version):
                current = version
        winners.add(current)
    assert winners == {v("a", 9, deleted=True)}
