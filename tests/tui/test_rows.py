"""Row rendering with hand-built records (live/busy states need real agents otherwise), the
view/filter model, and cwd relabelling."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sesh_mesh.glyphs import glyph
from sesh_mesh.tui.cwd_labels import CwdLabels, FormatterFailed
from sesh_mesh.tui.rows import RowSet, View, age, make_row
from tests.tui.helpers import NOW


def record(uuid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"uuid": uuid, "name": name, "agent": "claude", "machine": "alpha", "cwd": "/srv/app", "tags": [],
            "updatedAt": "2026-11-21T11:00:00Z", **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"turnStatus": "busy", "live": True}, "◐"),
        ({"turnStatus": "idle", "live": True}, "●"),
        ({"turnStatus": "unknown", "live": False}, "○"),
        ({"turnStatus": "idle", "live": True, "needsInput": True}, "●!"),
        ({"turnStatus": "busy", "live": True, "needsInput": True}, "◐!"),
    ],
)
def test_glyphs(state: dict[str, Any], expected: str) -> None:
    assert glyph(state) == expected
    assert make_row(record("u1", "x", **state), str).cells["glyph"] == expected


def test_stale_marker_on_machine() -> None:
    row = make_row(record("u1", "x", machine="beta", stale=True), str)
    assert row.cells["machine"] == "beta (stale)"
    assert row.stale


def test_age_units() -> None:
    assert age(None, NOW) == "-"
    assert age(NOW, NOW) == "now"
    assert age(NOW - timedelta(seconds=42), NOW) == "42s"
    assert age(NOW - timedelta(minutes=5), NOW) == "5m"
    assert age(NOW - timedelta(hours=3), NOW) == "3h"
    assert age(NOW - timedelta(days=2), NOW) == "2d"
    assert age(NOW - timedelta(days=15), NOW) == "2w"
    assert age(NOW - timedelta(days=800), NOW) == "2y"


def test_highlights_map_back_to_columns() -> None:
    row = make_row(record("abcdef12-0000", "auth", tags=["work"]), str)
    # text is "auth claude alpha /srv/app work abcdef12"
    positions = [row.text.index("work"), row.text.index("auth")]
    assert row.highlights(positions) == {"tags": [0], "name": [0]}


def test_views_and_newest_first() -> None:
    rows = RowSet(str)
    rows.apply([
        record("a", "older", updatedAt="2026-11-20T00:00:00Z"),
        record("b", "newer", updatedAt="2026-11-21T00:00:00Z"),
        record("c", "shelved", archived=True),
    ])  # fmt: skip
    assert [r.uuid for r in rows.visible] == ["b", "a"]
    rows.set_view(View.ARCHIVED)
    assert [r.uuid for r in rows.visible] == ["c"]
    rows.set_view(rows.view.next())
    assert rows.view is View.ALL and len(rows.visible) == 3
    assert rows.view.next() is View.NEEDS and View.NEEDS.next() is View.ACTIVE
    assert rows.counts() == {"all": 3, "archived": 1, "active": 2, "needs you": 0}


def test_changes_apply_per_record_and_tombstones_drop() -> None:
    rows = RowSet(str)
    rows.apply([record("a", "one"), record("b", "two")])
    rows.apply([record("a", "renamed", updatedAt="2026-11-22T00:00:00Z")])
    assert [r.cells["name"] for r in rows.visible] == ["renamed", "two"]
    rows.apply([{"uuid": "b", "deleted": True}])
    assert [r.uuid for r in rows.visible] == ["a"]


def test_filter_ranks_and_rescores_only_changes() -> None:
    rows = RowSet(str)
    rows.apply([record("a", "docs-site"), record("b", "auth-refactor"), record("c", "unrelated", agent="pi")])
    rows.set_query("ref")
    assert [r.uuid for r in rows.visible] == ["b"]
    found = rows.match_of("b")
    assert found is not None and found.positions
    rows.set_query("refa")  # narrowing: rows that failed "ref" are not scored again
    assert [r.uuid for r in rows.visible] == ["b"]
    rows.apply([record("c", "refactor-too", agent="pi")])
    assert {r.uuid for r in rows.visible} == {"b", "c"}
    rows.set_query("")
    assert len(rows.visible) == 3 and rows.match_of("b") is None


def test_cwd_rules_then_home() -> None:
    labels = CwdLabels([("^/srv/app", "app:")], home="/home/me")
    assert labels.label("/srv/app/tests") == "app:/tests"
    assert labels.label("/home/me/src") == "~/src"
    assert labels.label("/home/meow") == "/home/meow"


def test_formatter_runs_once_per_batch_and_caches(tmp_path: Any) -> None:
    counter = tmp_path / "runs"
    script = f"echo run >> {counter}; sed 's#^/srv/#svc:#'"
    labels = CwdLabels([], formatter=script, home="/nonexistent")
    assert labels.unknown(["/srv/a", "/srv/b", "/srv/a"]) == ["/srv/a", "/srv/b"]
    asyncio.run(labels.run_formatter(["/srv/a", "/srv/b"]))
    assert labels.label("/srv/a") == "svc:a" and labels.label("/srv/b") == "svc:b"
    assert labels.unknown(["/srv/a", "/srv/b"]) == []
    assert counter.read_text().count("run") == 1


def test_broken_formatter_is_loud_and_falls_back() -> None:
    labels = CwdLabels([("^/srv", "S")], formatter="echo nope >&2; exit 3", home="/nonexistent")
    with pytest.raises(FormatterFailed, match="SESH_CWD_FORMATTER exited 3: nope"):
        asyncio.run(labels.run_formatter(["/srv/a"]))
    assert labels.label("/srv/a") == "S/a"
    wrong = CwdLabels([], formatter="echo one", home="/nonexistent")
    with pytest.raises(FormatterFailed, match="printed 1 lines for 2 cwds"):
        asyncio.run(wrong.run_formatter(["/a", "/b"]))


_NAMES = st.text(alphabet=st.sampled_from(list("abAB1-_ /")), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(names=st.lists(_NAMES, min_size=1, max_size=25),
       keys=st.lists(st.sampled_from([*"ab1-A ", "\b"]), min_size=1, max_size=10))
def test_typing_ranks_as_a_fresh_query_does(names: list[str], keys: list[str]) -> None:
    """Letter by letter (narrowing, run extension, backspace back to a remembered query) the
    view equals a RowSet that meets the final query afresh: same rows, order and matches."""
    records = [record(f"u{n:03d}", name, agent=("claude", "codex", "pi")[n % 3]) for n, name in enumerate(names)]
    typed = RowSet(str)
    typed.apply(records)
    query = ""
    for key in keys:
        query = query[:-1] if key == "\b" else query + key
        typed.set_query(query)
        fresh = RowSet(str)
        fresh.apply(records)
        fresh.set_query(query)
        assert [row.uuid for row in typed.visible] == [row.uuid for row in fresh.visible], query
        shown = [row.uuid for row in typed.visible]
        assert [typed.match_of(uuid) for uuid in shown] == [fresh.match_of(uuid) for uuid in shown]


def test_a_remembered_term_is_reused_only_in_its_case_mode() -> None:
    """`b` alone ignores case; in `b A` every term is case-sensitive, so `b` must not match `B`."""
    records = [record("u1", "xB-A"), record("u2", "xb-A")]
    rows = RowSet(str)
    rows.apply(records)
    for query in ("b", "b ", "b A"):
        rows.set_query(query)
    assert [row.uuid for row in rows.visible] == ["u2"]
    fresh = RowSet(str)
    fresh.apply(records)
    fresh.set_query("b A")
    assert [row.uuid for row in fresh.visible] == ["u2"]
