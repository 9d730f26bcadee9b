"""record_events as a table: a record's versions in, the events they mean out (docs/events.md);
and the hub's bounded fan-out."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesh_mesh.daemon.events import Dropped, Event, EventFilter, EventHub
from sesh_mesh.daemon.record_events import CREATED_FRESH_S, REPLY_GRACE_S, RecordEvents

NOW_WALL = 1_800_000_000.0
FRESH = "2027-01-15T08:00:00Z"  # NOW_WALL as ISO
OLD = "2026-01-01T00:00:00Z"
BASE: dict[str, Any] = {"uuid": "u1", "machine": "m", "name": "n", "agent": "claude", "createdAt": FRESH,
                        "turnStatus": "idle", "live": True, "needsInput": False, "archived": False,
                        "filePath": "/t.jsonl", "lastTurn": {"count": 1, "outcome": "completed", "reply": "old"}}


def turn(count: int, reply: str) -> dict[str, Any]:
    return {"lastTurn": {"count": count, "outcome": "completed", "reply": reply}}


def run(versions: list[dict[str, Any]], *, primed: bool = True, at: float = 0.0) -> list[tuple[str, dict[str, Any]]]:
    derive = RecordEvents()
    if primed:
        derive.prime([BASE])
    out: list[tuple[str, dict[str, Any]]] = []
    for version in versions:
        for event in derive.commit({**BASE, **version}, at, NOW_WALL, "t"):
            out.append((event.kind, event.detail))
    for event in derive.due(at + REPLY_GRACE_S, "t"):
        out.append((event.kind, event.detail))
    return out


CASES = [
    ("a new session", [{}], False, [("session-created", {"cwd": None, "headless": False})]),
    ("an old session first seen (catch-up, import)", [{"createdAt": OLD}], False, []),
    ("a tombstone first seen", [{"deleted": True}], False, []),
    ("archived then unarchived", [{"archived": True}, {"archived": False}], True,
     [("session-archived", {}), ("session-unarchived", {})]),
    ("deleted, then nothing more", [{"deleted": True}, {"deleted": True, "archived": True}], True,
     [("session-deleted", {})]),
    ("a turn, the count in the idle version", [{"turnStatus": "busy"}, {"turnStatus": "idle", **turn(2, "hi")}], True,
     [("turn-started", {}), ("turn-ended", {"reply": "hi", "outcome": "completed", "turns": 2})]),
    ("the count before the idle: ended once", [{"turnStatus": "busy"}, {"turnStatus": "busy", **turn(2, "hi")},
                                               {"turnStatus": "idle", **turn(2, "hi")}], True,
     [("turn-started", {}), ("turn-ended", {"reply": "hi", "outcome": "completed", "turns": 2})]),
    ("the count after the idle, within the grace", [{"turnStatus": "busy"}, {"turnStatus": "idle"},
                                                    {"turnStatus": "idle", **turn(2, "late")}], True,
     [("turn-started", {}), ("turn-ended", {"reply": "late", "outcome": "completed", "turns": 2})]),
    ("no count within the grace: ended without a reply", [{"turnStatus": "busy"}, {"turnStatus": "idle"}], True,
     [("turn-started", {}), ("turn-ended", {"reply": None, "outcome": None, "turns": None})]),
    ("no transcript: ended at once", [{"turnStatus": "busy", "filePath": None},
                                      {"turnStatus": "idle", "filePath": None}], True,
     [("turn-started", {}), ("turn-ended", {"reply": None, "outcome": None, "turns": None})]),
    ("a turn too short to show busy (or replicated in one step)", [turn(2, "quick")], True,
     [("turn-ended", {"reply": "quick", "outcome": "completed", "turns": 2})]),
    ("a transcript learned of: its turns are not news", [{"filePath": "/t", "lastTurn": None},
                                                          {"filePath": "/t", **turn(5, "x")}], True, []),
    ("a new conversation's first transcript", [{"turnStatus": "busy", "filePath": None, "lastTurn": None},
                                               {"turnStatus": "idle", **turn(1, "first")}], True,
     [("turn-started", {}), ("turn-ended", {"reply": "first", "outcome": "completed", "turns": 1})]),
    ("a registered conversation's transcript found", [{"filePath": None, "lastTurn": None},
                                                       {"turnStatus": "idle", **turn(4, "old")}], True, []),
    ("a failed turn names the agent's error", [{"turnStatus": "busy"}, {"turnStatus": "idle", "lastTurn": {
        "count": 2, "outcome": "failed", "reply": None, "error": "API Error: 400"}}], True,
     [("turn-started", {}),
      ("turn-ended", {"reply": None, "outcome": "failed", "turns": 2, "error": "API Error: 400"})]),
    ("busy to unknown is no end", [{"turnStatus": "busy"}, {"turnStatus": "unknown"}], True, [("turn-started", {})]),
    ("a dialog, with what it asks", [{"needsInput": True, "pendingPrompt": {"question": "Trust?", "options": ["Yes"],
                                                                             "text": "T"}}], True,
     [("needs-input", {"question": "Trust?", "options": ["Yes"], "text": "T"})]),
    ("a dialog cleared: no event", [{"needsInput": True}, {"needsInput": False}], True,
     [("needs-input", {"question": None, "options": [], "text": None})]),
    ("the agent gone mid-turn", [{"turnStatus": "busy"}, {"turnStatus": "idle", "live": False, "filePath": None}],
     True, [("turn-started", {}), ("turn-ended", {"reply": None, "outcome": None, "turns": None}),
            ("agent-exited", {})]),
]


@pytest.mark.parametrize(("versions", "primed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_record_events(versions: list[dict[str, Any]], primed: bool, expected: list[tuple[str, Any]]) -> None:
    assert run(versions, primed=primed) == expected


def test_the_grace_holds_the_end_until_it_passes() -> None:
    derive = RecordEvents()
    derive.prime([BASE])
    derive.commit({**BASE, "turnStatus": "busy"}, 0.0, NOW_WALL, "t")
    assert derive.commit({**BASE, "turnStatus": "idle"}, 1.0, NOW_WALL, "t") == []
    assert derive.next_due() == 1.0 + REPLY_GRACE_S
    assert derive.due(1.0 + REPLY_GRACE_S - 0.1, "t") == []
    assert [e.kind for e in derive.due(1.0 + REPLY_GRACE_S, "t")] == ["turn-ended"]
    assert derive.next_due() is None and derive.due(100.0, "t") == []


def test_a_slow_subscriber_gets_a_dropped_marker_and_bounded_memory() -> None:
    async def scenario() -> list[Any]:
        hub = EventHub("m")
        slow = hub.subscribe(limit=3)
        quiet = hub.subscribe(EventFilter(frozenset({"peer-up"})))
        for n in range(10):
            hub.publish(Event("turn-started", "m", f"u{n}", None, None, "t"))
        assert slow.pending() == 4, "three events and one marker, however many were published"
        got = [slow.get_nowait() for _ in range(4)]
        hub.publish(Event("turn-ended", "m", "late", None, None, "t"))
        got.append(await slow.get())
        assert quiet.pending() == 0
        hub.close()
        assert await slow.get() is None and slow.closed and hub.subscribers() == 0
        return got

    got = asyncio.run(scenario())
    assert [g.uuid if isinstance(g, Event) else g for g in got] == ["u0", "u1", "u2", Dropped(7), "late"]
    assert [g.id for g in got if isinstance(g, Event)] == [1, 2, 3, 11]


def test_recent_keeps_the_last_events() -> None:
    hub = EventHub("m", recent=5)
    for n in range(8):
        hub.publish(Event("peer-up" if n % 2 else "peer-down", f"p{n}", None, None, None, "t"))
    assert [e.machine for e in hub.recent()] == ["p3", "p4", "p5", "p6", "p7"]
    assert [e.machine for e in hub.recent(EventFilter(frozenset({"peer-up"})), 1)] == ["p7"]
    assert hub.recent(n=0) == []


_OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59)


@settings(max_examples=400, deadline=None)
@given(ago=st.floats(min_value=-86_400.0, max_value=CREATED_FRESH_S + 5 * 86_400.0), offset=_OFFSETS,
       style=st.sampled_from(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y%m%dT%H%M%S"]))
def test_the_date_shortcut_never_hides_a_fresh_session(ago: float, offset: int, style: str) -> None:
    """A first-seen record is announced as created when its createdAt is within the fresh window,
    whatever ISO form or UTC offset it is written in; the date shortcut for old ones must agree."""
    zone = timezone(timedelta(minutes=offset))
    created = datetime.fromtimestamp(NOW_WALL - ago, zone)
    text = created.strftime(style) + created.strftime("%z")
    announced = [kind for kind, _ in _first_sight(text)]
    assert announced == (["session-created"] if ago <= CREATED_FRESH_S else []), text


def _first_sight(created_at: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e.kind, e.detail) for e in RecordEvents().commit({**BASE, "createdAt": created_at}, 0.0, NOW_WALL, FRESH)]


@pytest.mark.parametrize("created_at", ["yesterday", "", "0000-00-00", "11/30/2026", None, 17])
def test_a_created_at_no_one_can_read_announces_nothing(created_at: Any) -> None:
    assert _first_sight(created_at) == []
