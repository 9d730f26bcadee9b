"""Prefix resolution (daemon/lookup.resolve): tombstones and archived records step aside."""

from __future__ import annotations

from typing import Any

import pytest

from sesh_mesh.daemon.lookup import resolve
from sesh_mesh.errors import SeshError

A = "abcd0001-0000-4000-8000-000000000001"
B = "abcd0002-0000-4000-8000-000000000002"
C = "abcd0003-0000-4000-8000-000000000003"


def rec(uuid: str, **fields: Any) -> dict[str, Any]:
    return {"uuid": uuid, "machine": "alpha", "agent": "claude", "name": uuid[:8], **fields}


def table(*records: dict[str, Any]) -> dict[str, Any]:
    return {r["uuid"]: r for r in records}


def test_the_one_unarchived_match_wins_over_archived_ones() -> None:
    records = table(rec(A, archived=True), rec(B), rec(C, archived=True))
    assert resolve(records, "abcd")["uuid"] == B


def test_the_one_unarchived_match_wins_over_archived_and_deleted_ones() -> None:
    records = table(rec(A, archived=True), rec(B, deleted=True), rec(C))
    assert resolve(records, "abcd")["uuid"] == C


def test_a_deleted_unarchived_record_does_not_win() -> None:
    records = table(rec(A, archived=True), rec(B, archived=True), rec(C, deleted=True))
    with pytest.raises(SeshError) as caught:
        resolve(records, "abcd")
    assert caught.value.what == (f"ambiguous prefix 'abcd' matches {A} (abcd0001@alpha, archived), "
                                 f"{B} (abcd0002@alpha, archived)")


def test_two_unarchived_matches_stay_ambiguous_and_list_every_candidate() -> None:
    records = table(rec(A), rec(B), rec(C, archived=True))
    with pytest.raises(SeshError) as caught:
        resolve(records, "abcd")
    assert caught.value.what == (f"ambiguous prefix 'abcd' matches {A} (abcd0001@alpha), {B} (abcd0002@alpha), "
                                 f"{C} (abcd0003@alpha, archived)")
    assert caught.value.fix == "type more characters of the uuid"


def test_a_single_archived_match_still_resolves() -> None:
    assert resolve(table(rec(A, archived=True)), "abcd")["uuid"] == A
