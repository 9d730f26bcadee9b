"""Shown ids (`list`, the TUI's ID column) are unique prefixes, even for time-ordered ids."""

from __future__ import annotations

from typing import Any

from sesh_mesh.daemon.lookup import resolve
from sesh_mesh.ids import short_ids
from sesh_mesh.tui.rows import RowSet

# codex and pi mint UUIDv7 ids: sessions begun within the same ~65 s share 8 characters and more.
SAME_MINUTE = ("01a1fd97-2dab-7810-8000-00000000000a", "01a1fd97-2dab-7811-8000-00000000000b")
AGENT_ID_ELSEWHERE = "01a1fd97-2dac-7000-8000-000000000000"
RANDOM = "4fa05162-3dbe-4a5f-a162-5d6e7f8091a5"


def records() -> dict[str, dict[str, Any]]:
    return {
        SAME_MINUTE[0]: {"uuid": SAME_MINUTE[0], "agentSessionId": SAME_MINUTE[0], "agent": "codex"},
        SAME_MINUTE[1]: {"uuid": SAME_MINUTE[1], "agentSessionId": None, "agent": "pi"},
        RANDOM: {"uuid": RANDOM, "agentSessionId": AGENT_ID_ELSEWHERE, "agent": "codex"},
    }


def test_shown_ids_are_unique_prefixes_that_resolve() -> None:
    held = records()
    shown = short_ids([(uuid, r["agentSessionId"]) for uuid, r in held.items()])
    assert shown[RANDOM] == RANDOM[:8], "an id without a near neighbour stays 8 characters"
    assert shown[SAME_MINUTE[0]] == "01a1fd97-2dab-7810" and shown[SAME_MINUTE[1]] == "01a1fd97-2dab-7811"
    assert len(set(shown.values())) == len(shown)
    for uuid, prefix in shown.items():
        assert resolve(held, prefix)["uuid"] == uuid
        assert not prefix.endswith("-")


def test_another_sessions_agent_id_counts_too() -> None:
    # RANDOM's agent id shares 12 characters with SAME_MINUTE[0]'s uuid: that prefix names both.
    shown = short_ids([(SAME_MINUTE[0], None), (RANDOM, "01a1fd97-2dab-7000-8000-000000000000")])
    assert shown[SAME_MINUTE[0]] == "01a1fd97-2dab-7810"[:16]


def test_tui_rows_grow_their_id_when_a_neighbour_arrives() -> None:
    rows = RowSet(str)
    rows.apply([{"uuid": SAME_MINUTE[0], "name": "one", "agent": "codex", "machine": "a", "cwd": "/"}])
    assert rows.rows[SAME_MINUTE[0]].cells["id"] == SAME_MINUTE[0][:8]
    rows.apply([{"uuid": SAME_MINUTE[1], "name": "two", "agent": "pi", "machine": "a", "cwd": "/"}])
    assert rows.rows[SAME_MINUTE[0]].cells["id"] == "01a1fd97-2dab-7810"
    assert rows.rows[SAME_MINUTE[1]].cells["id"] == "01a1fd97-2dab-7811"
    rows.apply([{"uuid": SAME_MINUTE[1], "deleted": True}])
    assert rows.rows[SAME_MINUTE[0]].cells["id"] == SAME_MINUTE[0][:8], "alone again: back to 8"
