"""The cockpit keys against a real daemon (seeded records, no agents): help, palette, flags,
views, the preview's honest line for a session without a transcript, and --columns."""

from __future__ import annotations

import json
from typing import Any

from textual.binding import Binding

from sesh_mesh.tui.app import _ACTION_OF, KEY_HELP, SeshApp
from sesh_mesh.tui.forms import HelpScreen
from sesh_mesh.tui.rows import View
from tests.harness import Daemon
from tests.tui.helpers import AUTH, DOCS, FLAKY, Tui, cursor_to, names, until


def test_every_key_is_in_the_help_and_the_palette() -> None:
    helped = {key for _, group in KEY_HELP for key, _ in group}
    actions = set(_ACTION_OF.values())
    for binding in SeshApp.BINDINGS:
        assert isinstance(binding, Binding)
        action = binding.action.split("(")[0]
        if action in ("move", "move_page", "escape", "cancel", "unarchive", "quit_list"):
            continue  # listed by their keys as a group (arrows, PgUp/PgDn, Esc, a / u, q)
        assert action in actions, f"{binding.key} ({action}) is not in the help / palette"
    assert {"p", "v", "m", "n", "R", "X", "A", "f", "N", "?"} <= helped


async def test_question_mark_opens_the_help_and_esc_closes_it(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), what="the help screen")
        shown = " ".join(str(w.render()) for w in app.screen.query("Static"))
        for key in ("preview", "send a message", "new session", "abort the running turn", "needs you"):
            assert key in shown, key
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="the help to close")
        assert names(app)  # the list is back, keys act on it again


async def test_f_flags_a_session_first_and_into_the_needs_you_view(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, FLAKY)
        await pilot.press("f")
        assert app.rowset.visible[0].uuid == FLAKY, "a flagged session leads the active view"
        assert app.table.cursor_uuid == FLAKY
        status = str(app.status_line.render())
        assert "1 needs you" in status and "flagged by hand" in status, status
        for _ in range(3):
            await pilot.press("tab")
        assert app.rowset.view is View.NEEDS and names(app) == ["flaky-tests"]
        await pilot.press("f")  # unflag: the needs-you view empties
        assert names(app) == [] and "1 needs you" not in str(app.status_line.render())


async def test_capital_n_switches_this_machines_notifications(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, DOCS)
        await pilot.press("N")
        await app.settle()
        assert seeded.call("notify", {"uuid": DOCS})["notify"] is False
        await pilot.press("N")
        await app.settle()
        assert seeded.call("notify", {"uuid": DOCS})["notify"] is True


async def test_the_command_palette_runs_an_action_by_name(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, DOCS)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"flag", "enter")
        await until(pilot, lambda: DOCS in app.attention, what="the palette's flag action to run")


async def test_preview_says_why_it_has_nothing_to_show(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, AUTH)
        await pilot.press("p")
        assert app.previewing and app.preview.record is not None and app.preview.record["uuid"] == AUTH
        await until(pilot, lambda: app.preview.problem, what="the preview's line about the missing transcript")
        assert "no transcript yet" in str(app.preview.problem)
        await pilot.press("v")  # the pane of a session that is not live
        await until(pilot, lambda: app.preview.problem and "not live" in app.preview.problem,
                    what="the pane preview's line")
        await pilot.press("j")  # follows the selection
        await until(pilot, lambda: app.preview.record is not None and app.preview.record["uuid"] != AUTH,
                    what="the preview to follow the cursor")
        await pilot.press("p")
        assert not app.previewing


async def test_m_on_a_session_without_an_agent_reports_the_failure(seeded: Daemon, tui: Tui) -> None:
    async with tui.open() as (app, pilot):
        await cursor_to(pilot, FLAKY)
        await pilot.press("m")
        await pilot.pause(0.1)
        await pilot.press("ctrl+s")  # empty: refused in the form
        assert "empty" in str(app.screen.query_one("#message-error").render())
        await pilot.press(*"hello", "ctrl+s")
        await app.settle()
        assert app.previewing, "the reply is shown in the preview, so m opens it"
        failed = [n for n in app._notifications if n.severity == "error"]
        assert failed and str(failed[-1].title).startswith("message to flaky-tests failed"), \
            [(n.title, n.message) for n in app._notifications]


def _columns_cli(daemon: Daemon, *args: str) -> Any:
    return daemon.sesh("tui", *args)


def test_bad_columns_are_refused_before_the_screen(seeded: Daemon) -> None:
    run = _columns_cli(seeded, "--columns", "name,colour")
    assert run.code == 2 and run.err.startswith("sesh: --columns: unknown column 'colour'"), run.err
    (seeded.home / "config.toml").write_text('machine = "alpha"\n[tui]\ncolumns = 3\n')
    run = _columns_cli(seeded)
    assert run.code == 2 and "[tui].columns must be a list" in run.err, run.err


async def test_columns_option_shows_context_and_model(seeded: Daemon, tui: Tui) -> None:
    async with tui.open(columns=("glyph", "name", "ctx", "model", "turns", "cwd")) as (app, _pilot):
        header = app.table.render_line(0).text
        assert "CTX" in header and "MODEL" in header and "TURNS" in header and "AGENT" not in header, header


def test_flags_are_kept_for_the_next_run(seeded: Daemon, tmp_path: Any) -> None:
    import asyncio

    from tests.tui.helpers import loaded, make_app

    path = tmp_path / "tui-attention.json"

    async def run() -> None:
        app = make_app(seeded, attention_path=path)
        async with app.run_test() as pilot:
            await loaded(pilot)
            await cursor_to(pilot, DOCS)
            await pilot.press("f")
        assert json.loads(path.read_text())["flags"] == {DOCS: "flagged by hand"}
        again = make_app(seeded, attention_path=path)
        async with again.run_test() as pilot:
            await loaded(pilot)
            assert DOCS in again.attention and again.rowset.visible[0].uuid == DOCS

    asyncio.run(run())


async def test_a_flag_reaches_its_file_while_the_tui_runs(seeded: Daemon, tui: Tui, tmp_path: Any) -> None:
    # A TUI that is killed, or whose terminal closes, never runs its exit: the flag must already
    # be in the file by then.
    path = tmp_path / "tui-attention.json"

    def flags() -> Any:
        return json.loads(path.read_text())["flags"] if path.exists() else None

    async with tui.open(attention_path=path) as (_app, pilot):
        await cursor_to(pilot, DOCS)
        await pilot.press("f")
        await until(pilot, lambda: flags() == {DOCS: "flagged by hand"}, within=5,
                    what="the flag in its file, the TUI still running")
        await pilot.press("f")
        await until(pilot, lambda: flags() == {}, within=5, what="the lowered flag in its file")
