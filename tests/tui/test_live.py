"""Live behaviour: writes made elsewhere (the CLI) show up without a reload, the cursor keeps
its session, and a daemon that goes away and comes back is reported and reconnected."""

from __future__ import annotations

import asyncio

from textual.message import Message

from tests.harness import Daemon
from tests.tui.helpers import AUTH, DOCS, FLAKY, Tui, cursor_to, names, notes, until

NEW = "4fa05162-3dbe-4a5f-a162-5d6e7f8091a5"


async def test_cli_write_appears_and_cursor_stays_on_its_session(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, DOCS)
        snapshot_rows = app.rowset.rows
        # A rename moves flaky-tests to the top (newest first): the rows shift under the cursor.
        run = await asyncio.to_thread(seeded.sesh, "rename", FLAKY, "flaky-fixed")
        assert run.code == 0, run.err
        await until(pilot, lambda: "flaky-fixed" in names(app), within=5, what="the rename to be pushed")
        assert app.rowset.visible[0].uuid == FLAKY
        assert app.table.cursor_uuid == DOCS
        assert app.table.current is not None and app.table.current.uuid == DOCS
        assert app.rowset.rows is snapshot_rows, "applied in place, not reloaded"
        assert app.table.cursor == app.rowset.index_of(DOCS)

        # A new session registered elsewhere appears; a deleted one goes; the cursor stays.
        run = await asyncio.to_thread(
            seeded.sesh, "register", NEW, "--agent", "codex", "--name", "fresh", "--cwd", "/tmp"
        )
        assert run.code == 0, run.err
        await until(pilot, lambda: "fresh" in names(app), within=5)
        run = await asyncio.to_thread(seeded.sesh, "delete", AUTH)
        assert run.code == 0, run.err
        await until(pilot, lambda: "auth-refactor" not in names(app), within=5)
        assert app.table.cursor_uuid == DOCS


async def test_live_update_under_an_active_filter(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await pilot.press("slash", *"zebra", "escape")
        assert names(app) == []
        run = await asyncio.to_thread(seeded.sesh, "rename", DOCS, "zebra-docs")
        assert run.code == 0, run.err
        await until(pilot, lambda: names(app) == ["zebra-docs"], within=5)


async def test_daemon_going_away_is_shown_and_reconnected(seeded: Daemon, tui: Tui) -> None:
    messages: list[Message] = []
    async with tui.open(messages) as (app, pilot):
        assert "daemon: connected" in str(app.status_line.render())
        await asyncio.to_thread(seeded.stop)
        await until(pilot, lambda: "daemon: unreachable" in str(app.status_line.render()), within=5)
        assert any(note.startswith("Daemon unreachable") for note in notes(messages)), notes(messages)
        assert set(names(app)) == {"auth-refactor", "docs-site", "flaky-tests"}  # last known rows stay
        # Keys that need the daemon fail as a notification, not a traceback.
        await cursor_to(pilot, AUTH)
        await pilot.press("a")
        await app.settle()
        assert any("archive failed" in note or "archive refused" in note for note in notes(messages)), notes(messages)
        await asyncio.to_thread(seeded.start)
        await until(pilot, lambda: "daemon: connected" in str(app.status_line.render()), within=10)
        run = await asyncio.to_thread(seeded.sesh, "rename", DOCS, "after-restart")
        assert run.code == 0, run.err
        await until(pilot, lambda: "after-restart" in names(app), within=5)
        assert app.is_running
