"""Every TUI key, driven with Pilot against a real daemon subprocess; outcomes are checked in
the daemon's own state (`info`/`list`), never in the widget."""

from __future__ import annotations

from typing import Any

import pytest
from textual.message import Message
from textual.widgets import Input, OptionList

from sesh_mesh.tui.dialogs import ChooserScreen, ConfirmScreen, PromptScreen
from sesh_mesh.tui.rows import View
from tests.harness import Daemon
from tests.tui.helpers import AUTH, DOCS, FLAKY, OLD, Tui, cursor_to, names, notes, order, until


def info(daemon: Daemon, uuid: str) -> dict[str, Any]:
    result: dict[str, Any] = daemon.call("info", {"uuid": uuid})
    return result


async def test_rows_in_the_daemons_newest_first_order_cursor_on_top(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, _):
        assert [row.uuid for row in app.rowset.visible] == order(seeded)
        assert set(names(app)) == {"auth-refactor", "docs-site", "flaky-tests"}
        assert app.table.cursor_uuid == order(seeded)[0]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["down"], 1), (["j"], 1), (["ctrl+j"], 1), (["j", "j"], 2),
        (["j", "j", "j"], 0),  # wraps past the end
        (["up"], 2), (["k"], 2), (["ctrl+k"], 2),  # wraps past the start
        (["j", "k"], 0),
    ],
)  # fmt: skip
async def test_movement_wraps(seeded: Daemon, tui: Tui, keys: list[str], expected: int) -> None:
    async with tui.open() as (app, pilot):
        await pilot.press(*keys)
        assert app.table.cursor_uuid == order(seeded)[expected]


async def test_archive_and_unarchive(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, DOCS)
        await pilot.press("a")  # archive, no confirmation
        await app.settle()
        assert info(seeded, DOCS)["archived"] is True
        await until(pilot, lambda: "docs-site" not in names(app), what="docs-site to leave the active view")
        await pilot.press("tab")  # archived view
        assert app.rowset.view is View.ARCHIVED
        await cursor_to(pilot, DOCS)
        await pilot.press("u")
        await app.settle()
        assert info(seeded, DOCS)["archived"] is False


async def test_tab_cycles_views_named_in_footer(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        seen = []
        for _ in range(4):
            await pilot.press("tab")
            seen.append((app.rowset.view, str(app.status_line.render())))
        assert [view for view, _ in seen] == [View.ARCHIVED, View.ALL, View.NEEDS, View.ACTIVE]
        assert "view: archived" in seen[0][1] and "view: all" in seen[1][1] and "view: needs you" in seen[2][1]
        assert "view: active" in seen[3][1]
        await pilot.press("tab")
        assert names(app) == ["old-spike"]


async def test_rename_prompt_is_prefilled(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, AUTH)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        box = app.screen.query_one(Input)
        assert box.value == "auth-refactor"
        box.value = ""
        await pilot.press(*"login-v2", "enter")
        await app.settle()
        assert info(seeded, AUTH)["name"] == "login-v2"
        await until(pilot, lambda: "login-v2" in names(app), what="the rename to come back from the daemon")


async def test_rename_cancelled_with_escape(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, AUTH)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("x", "escape")  # Esc closes the prompt first, and does not quit
        await app.settle()
        assert not isinstance(app.screen, PromptScreen)
        assert app.is_running
        assert info(seeded, AUTH)["name"] == "auth-refactor"


async def test_add_tag(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, AUTH)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"urgent", "enter")
        await app.settle()
        assert info(seeded, AUTH)["tags"] == ["urgent", "work"]


async def test_daemon_refusal_becomes_a_notification(seeded: Daemon, tui: Tui) -> None:
    messages: list[Message] = []
    async with tui.open(messages) as (app, pilot):
        await cursor_to(pilot, AUTH)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("space", "enter")  # a whitespace tag: the daemon says no
        await app.settle()
        assert info(seeded, AUTH)["tags"] == ["work"]
        assert any("tag refused: empty tag name" in note for note in notes(messages)), notes(messages)
        assert app.is_running


async def test_remove_tag_with_chooser(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, DOCS)
        await pilot.press("x")  # docs-site has tags docs, web
        await until(pilot, lambda: isinstance(app.screen, ChooserScreen))
        options = app.screen.query_one(OptionList)
        assert [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)] == ["docs", "web"]
        await pilot.press("j", "enter")
        await app.settle()
        assert info(seeded, DOCS)["tags"] == ["docs"]


async def test_remove_tag_without_tags_says_so(seeded: Daemon, tui: Tui) -> None:
    messages: list[Message] = []
    async with tui.open(messages) as (app, pilot):
        await cursor_to(pilot, FLAKY)
        await pilot.press("x")  # flaky-tests has no tags
        assert not isinstance(app.screen, ChooserScreen)
        assert any("has no tags" in note for note in notes(messages))


@pytest.mark.parametrize("answer", ["y", "enter"])
async def test_delete_confirmed(seeded: Daemon, tui: Tui, answer: str) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, DOCS)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(answer)
        await app.settle()
        assert info(seeded, DOCS)["deleted"] is True
        await until(pilot, lambda: "docs-site" not in names(app))
        assert app.table.cursor_uuid is not None  # the cursor lands on a neighbour


@pytest.mark.parametrize("answer", ["n", "escape"])
async def test_delete_cancelled(seeded: Daemon, tui: Tui, answer: str) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, AUTH)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press(answer)
        await app.settle()
        assert app.is_running and not isinstance(app.screen, ConfirmScreen)
        assert info(seeded, AUTH)["deleted"] is False


async def test_delete_refused_by_daemon_is_a_notification(seeded: Daemon, tui: Tui) -> None:
    """The daemon's own refusal reaches the user verbatim (here: deleted meanwhile by the CLI;
    a live session's refusal takes the same path, and needs a real agent to reproduce)."""
    messages: list[Message] = []
    async with tui.open(messages) as (app, pilot):
        await cursor_to(pilot, FLAKY)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert seeded.sesh("delete", FLAKY).code == 0
        await pilot.press("y")
        await app.settle()
        assert any(f"delete refused: session {FLAKY} is deleted" in note for note in notes(messages)), notes(messages)


async def test_copy_uuid_shows_and_copies_it(seeded: Daemon, tui: Tui) -> None:
    messages: list[Message] = []
    async with tui.open(messages) as (app, pilot):
        await cursor_to(pilot, AUTH)
        await pilot.press("y")
        await app.settle()
        assert app.clipboard == AUTH
        assert any(AUTH in note for note in notes(messages))


async def test_id_column_toggles(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):

        def header() -> str:
            return app.table.render_line(0).text

        def first() -> str:
            return app.table.render_line(1).text

        top = order(seeded)[0]
        assert "ID" not in header().split() and top[:8] not in first()
        await pilot.press("i")
        assert header().split()[:2] == ["ID", "NAME"] and top[:8] in first()
        await pilot.press("i")
        assert "ID" not in header().split()


async def test_filter_escape_and_reedit(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await pilot.press("slash", *"tests")
        assert names(app) == ["flaky-tests"]
        assert app.table.cursor_uuid == FLAKY  # the best match, nearest the prompt
        await pilot.press("escape")  # applies the filter and returns to the list
        assert app.focused is app.table and names(app) == ["flaky-tests"]
        assert "filter: tests" in str(app.status_line.render())
        await pilot.press("slash", "backspace", "backspace", "backspace", "backspace", "backspace", *"docs")
        assert names(app) == ["docs-site"]
        await pilot.press("escape", "escape")  # apply, then clear
        assert app.rowset.query == "" and len(names(app)) == 3 and app.is_running
        await pilot.press("escape")  # nothing left to close or clear: quits
    assert app.return_value is None


async def test_filter_highlights_matched_characters(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await pilot.press("slash", *"arf")
        row = app.rowset.visible[0]
        assert row.uuid == AUTH
        found = app.rowset.match_of(AUTH)
        assert found is not None and row.highlights(found.positions) == {"name": [0, 5, 7]}
        match_style = app.table.get_component_rich_style("session-table--match")
        line = app.table.render_line(1)
        marked = "".join(seg.text for seg in line if seg.style and match_style.color == seg.style.color)
        assert marked == "arf"


async def test_filter_keys_typed_in_one_burst_go_to_the_prompt(seeded: Daemon, tui: Tui) -> None:
    """A paste right after `/` must filter, not archive (`a`) or untag (`u`)."""
    from textual import events

    async with tui.open() as (app, pilot):
        for key, char in [("slash", "/"), ("a", "a"), ("u", "u"), ("t", "t")]:
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: app.filter_input.value == "aut")
        await app.settle()
        assert not info(seeded, AUTH)["archived"]


async def test_enter_picks_the_cursor_row(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, DOCS)
        await pilot.press("enter")
    assert app.return_value is not None and app.return_value["uuid"] == DOCS


async def test_enter_in_filter_picks_best_match(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await pilot.press("slash", *"flaky", "enter")
    assert app.return_value is not None and app.return_value["uuid"] == FLAKY


async def test_q_quits_without_a_pick(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await pilot.press("q")
    assert app.return_value is None


async def test_cursor_option_preselects_even_archived(seeded: Daemon, tui: Tui) -> None:
    async with tui.open(cursor=OLD[:6]) as (app, _):
        assert app.table.cursor_uuid == OLD
        assert app.rowset.view is View.ALL  # switched so the preselected row is visible


async def test_empty_store_explains_how_to_get_sessions(tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        lines = [app.table.render_line(y).text for y in range(1, 6)]
        text = "\n".join(lines)
        assert "No sessions yet." in text and "sesh new" in text and "sesh discover --register" in text
        await pilot.press("enter")  # nothing to enter: stays open
        assert app.is_running
