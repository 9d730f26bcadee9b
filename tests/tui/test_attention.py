"""Who needs you (sesh_mesh/tui/attention.py) and how flagged rows are shown: pure, no daemon."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.tui.attention import BY_HAND, ENDED_AWAY, NEEDS_INPUT, TURN_ENDED, Attention
from sesh_mesh.tui.columns import parse_columns
from sesh_mesh.tui.rows import RowSet, View
from sesh_mesh.tui.table import fit_tail


def rec(uuid: str, **fields: Any) -> dict[str, Any]:
    return {"uuid": uuid, "name": uuid, "agent": "pi", "machine": "alpha", "cwd": "/srv", "tags": [], **fields}


def test_a_turn_ending_out_of_sight_flags_it_and_looking_lowers_it() -> None:
    seen = Attention()
    busy, idle = rec("a", turnStatus="busy"), rec("a", turnStatus="idle")
    assert not seen.changed(None, busy, looking_at=None)  # a turn starting asks nothing of you
    assert seen.changed(busy, idle, looking_at=None)
    assert seen.flags == {"a": TURN_ENDED}
    assert seen.seen("a") and "a" not in seen
    assert not seen.changed(busy, idle, looking_at="a")  # you were watching it end
    assert len(seen) == 0


def test_a_turn_too_short_to_be_seen_busy_is_flagged_by_the_transcripts_count() -> None:
    seen = Attention()
    before = rec("c", turnStatus="idle", lastTurn={"count": 2, "outcome": "completed", "reply": "old"})
    after = rec("c", turnStatus="idle", lastTurn={"count": 3, "outcome": "completed", "reply": "ECHO: hi"})
    assert seen.changed(before, after, looking_at=None)
    assert seen.flags["c"] == f"{TURN_ENDED}: ECHO: hi"
    failed = rec("c", turnStatus="idle", lastTurn={"count": 4, "outcome": "failed", "reply": None})
    assert seen.changed(after, failed, looking_at=None) and seen.flags["c"] == f"{TURN_ENDED} (failed)"


def test_a_question_flags_it_with_what_it_asks() -> None:
    seen = Attention()
    asking = rec("b", turnStatus="idle", needsInput=True,
                 pendingPrompt={"question": "Allow edit to main.py?", "options": ["Yes", "No"], "text": "…"})
    assert seen.changed(rec("b", turnStatus="busy"), asking, looking_at=None)
    assert seen.flags["b"] == f"{NEEDS_INPUT}: Allow edit to main.py?"
    assert seen.changed(asking, {"uuid": "b", "deleted": True}, looking_at=None)  # deleted: no flag left
    assert "b" not in seen


def test_flags_survive_a_restart_and_activity_while_closed_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "tui-attention.json"
    first = Attention.load(path)
    first.toggle("kept")
    first.save(now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    assert json.loads(path.read_text())["flags"] == {"kept": BY_HAND}
    assert path.stat().st_mode & 0o777 == 0o600

    second = Attention.load(path)
    second.opened([
        rec("kept", turnStatus="idle"),
        rec("finished", turnStatus="idle", lastActivity="2026-11-30T13:00:00Z"),
        rec("older", turnStatus="idle", lastActivity="2026-11-30T11:00:00Z"),
        rec("asks", turnStatus="idle", needsInput=True),
        rec("shelved", turnStatus="idle", archived=True, lastActivity="2026-11-30T13:00:00Z"),
    ])  # fmt: skip
    assert second.flags == {"kept": BY_HAND, "finished": ENDED_AWAY, "asks": NEEDS_INPUT}
    assert not second.toggle("kept") and "kept" not in second


def test_a_torn_file_starts_with_no_flags(tmp_path: Path) -> None:
    path = tmp_path / "tui-attention.json"
    path.write_text('{"flags": {"a": ')
    assert len(Attention.load(path)) == 0


def test_flagged_rows_lead_the_active_view_and_fill_the_needs_you_view() -> None:
    seen = Attention()
    rows = RowSet(str, flagged=seen.flags)
    rows.apply([rec("old", updatedAt="2026-11-20T00:00:00Z"), rec("new", updatedAt="2026-11-21T00:00:00Z"),
                rec("mid", updatedAt="2026-11-20T12:00:00Z")])
    assert [r.uuid for r in rows.visible] == ["new", "mid", "old"]
    seen.toggle("old")
    rows.flags_changed()
    assert [r.uuid for r in rows.visible] == ["old", "new", "mid"]
    assert rows.counts()["needs you"] == 1
    rows.set_view(View.NEEDS)
    assert [r.uuid for r in rows.visible] == ["old"]


def test_a_cut_cwd_keeps_its_project_name() -> None:
    assert fit_tail("/home/me/src/very/long/path/project-name", 14) == ("…/project-name", 27)
    assert fit_tail("/srv/app", 16) == ("/srv/app", 0)


def test_columns_are_checked() -> None:
    assert parse_columns("name,ctx,model,turns") == ("glyph", "name", "ctx", "model", "turns")
    for bad, message in (("name,colour", "unknown column 'colour'"), ("", "no columns"), ("name,name", "twice")):
        with pytest.raises(ValueError, match=message):
            parse_columns(bad)
