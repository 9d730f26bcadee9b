"""The TUI cockpit against real daemons and real agents (claude, codex, pi in tmux panes):
the preview shows the exchanged text and follows a live turn, `m` sends and the reply shows,
`n` creates a session that appears in the list and in tmux, and the needs-you flag is raised by
a real turn end and a real dialog and lowered by previewing or entering the session.

Remote cells open the TUI on beta, whose sessions all live on alpha: the preview's transcript
and pane text and the sends go through the mesh to the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid as uuid_mod
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from sesh_mesh.tui.app import SeshApp
from sesh_mesh.tui.attention import NEEDS_INPUT, TURN_ENDED
from sesh_mesh.tui.forms import MessageScreen, NewSessionScreen
from tests.agents_e2e.bed import Bed, Beds, ok, sesh, target
from tests.agents_e2e.matrix import COCKPIT_FEATURES, assert_covered, cells
from tests.tui.helpers import cursor_to, loaded, make_app, until

pytestmark = pytest.mark.agents

SIZE = (160, 40)
TURN_S = 60.0
"""Bound for one real agent turn seen through the TUI (fake model, but agents start slowly)."""


@contextlib.contextmanager
def inside_tmux(bed: Bed) -> Iterator[None]:
    """The TUI as if it ran in a pane of the bed's tmux server, in the agents' environment (the
    daemon launches a new agent with the caller's PATH and config dirs): `n` opens its pane there."""
    pane = bed.tmux.run("list-panes", "-t", "keeper", "-F", "#{pane_id}").split()[0]
    wanted = {k: v for k, v in bed.env.items() if k not in ("SESH_HOME", "SESH_MACHINE")}
    wanted.update(TMUX=f"{bed.tmux.socket_path},0,0", TMUX_PANE=pane)
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.asynccontextmanager
async def cockpit(bed: Bed, where: str, **options: Any) -> AsyncIterator[tuple[SeshApp, Pilot[Any]]]:
    app = make_app(bed.daemon(where).socket, **options)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        yield app, pilot


def user_texts(bed: Bed) -> list[str]:
    return [r.user_text for r in bed.llm.requests() if r.user_text]


def test_matrix_complete() -> None:
    assert_covered(globals(), COCKPIT_FEATURES)


def diagnose(bed: Bed, app: SeshApp) -> str:
    names = [r.get("name") for r in bed.alpha.call("list")]
    log = (bed.alpha.home / "daemon.log").read_text(errors="replace")[-2000:]
    return f"notes {notes(app)}; workers {[w.name for w in app.workers]}; alpha has {names}; log:\n{log}"


def notes(app: SeshApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def shows(app: SeshApp, text: str) -> bool:
    return text in app.preview_text()


@pytest.mark.parametrize(("where", "agent"), cells("cockpit_preview_send"))
async def test_cockpit_preview_send(beds: Beds, where: str, agent: str) -> None:
    bed, pane, uuid = beds.shared_session(agent)
    async with cockpit(bed, where) as (app, pilot):
        await until(pilot, lambda: uuid in app.rowset.rows, within=20, what="the agent's session in the list")
        await cursor_to(pilot, uuid)
        await pilot.press("p")
        await until(pilot, lambda: shows(app, "ECHO: hello-"), within=30,
                    what=f"the first exchange in the preview; it shows:\n{app.preview_text()}")
        marker = f"typed-{where}-{uuid_mod.uuid4().hex[:6]}"
        bed.send(pane, marker)  # a turn typed in the pane, not through the TUI
        await until(pilot, lambda: shows(app, f"ECHO: {marker}"), within=TURN_S,
                    what=f"the live turn in the preview; it shows:\n{app.preview_text()}")

        said = f"from-tui-{where}-{uuid_mod.uuid4().hex[:6]}"
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MessageScreen), what="the message form")
        app.screen.query_one(TextArea).insert(said)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: shows(app, f"ECHO: {said}"), within=TURN_S,
                    what=f"the reply to m in the preview; it shows:\n{app.preview_text()}")
        assert any(said in text for text in user_texts(bed)), "the message reached the model"
        await pilot.press("v")  # the live pane, through the owner
        await until(pilot, lambda: said in app.preview.pane_text, within=20,
                    what=f"the pane text in the preview; problem: {app.preview.problem}")


@pytest.mark.parametrize(("where", "agent"), cells("cockpit_attention"))
async def test_cockpit_attention(
    beds: Beds, where: str, agent: str
) -> None:
    bed, pane, uuid = beds.shared_session(agent)
    async with cockpit(bed, where) as (app, pilot):
        await until(pilot, lambda: uuid in app.rowset.rows, within=20, what="the agent's session in the list")
        await cursor_to(pilot, uuid)
        bed.send(pane, f"attention {where} SLEEP 2")
        await until(pilot, lambda: str(app.attention.flags.get(uuid, "")).startswith(TURN_ENDED), within=TURN_S,
                    what=f"the flag after the turn ended; record {app.rowset.rows[uuid].record.get('turnStatus')}")
        assert app.rowset.visible[0].uuid == uuid and "needs you" in str(app.status_line.render())
        await pilot.press("p")  # previewing it is looking at it
        assert uuid not in app.attention
        await pilot.press("p")
        bed.send(pane, f"attention again {where} SLEEP 2")
        await until(pilot, lambda: uuid in app.attention, within=TURN_S, what="the second flag")
        await cursor_to(pilot, uuid)
        await pilot.press("enter")  # entering it lowers it too (the app exits with the record)
    assert uuid not in app.attention and app.return_value is not None and app.return_value["uuid"] == uuid


@pytest.mark.parametrize("agent", [pytest.param(a, marks=pytest.mark.xdist_group(f"agent-{a}"))
                                   for a in ("claude", "codex", "pi")])
async def test_n_creates_a_session_in_the_list_and_in_tmux(beds: Beds, agent: str) -> None:
    bed, _, uuid = beds.shared_session(agent)
    windows_before = set(bed.tmux.run("list-panes", "-a", "-F", "#{pane_id}").split())
    name = f"cockpit-new-{agent}"
    with inside_tmux(bed):
        async with cockpit(bed, "local") as (app, pilot):
            await until(pilot, lambda: uuid in app.rowset.rows, within=20, what="the agent's session")
            await cursor_to(pilot, uuid)  # the form preselects this row's agent
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, NewSessionScreen), what="the new-session form")
            form = app.screen
            await pilot.press(*name)
            form.query_one("#cwd", Input).value = str(bed.cwd)
            form.query_one("#message", TextArea).insert("first words")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: not isinstance(app.screen, NewSessionScreen), what="the form to close")
            await until(pilot, lambda: any(r.cells["name"] == name for r in app.rowset.rows.values()),
                        within=TURN_S, what=f"the new session in the list; {diagnose(bed, app)}")
            made = next(r for r in app.rowset.rows.values() if r.cells["name"] == name).record
            assert made["agent"] == agent and made["machine"] == "alpha"
            await until(pilot, lambda: any(n.startswith("None: started") or "started" in n for n in notes(app)),
                        within=TURN_S, what=f"the new session's first reply; {diagnose(bed, app)}")
    record = bed.alpha.call("info", {"uuid": made["uuid"]})
    assert record["tmux"]["pane"] not in windows_before, "it runs in a new pane of the bed's tmux"
    assert "first words" in " ".join(user_texts(bed))
    ok(sesh(bed, "local", "stop", made["uuid"]))
    ok(sesh(bed, "local", "delete", made["uuid"]))


async def test_a_real_dialog_flags_it_with_what_it_asks(beds: Beds) -> None:
    bed = beds.bed("claude")
    untrusted = bed.root / f"untrusted-cockpit-{uuid_mod.uuid4().hex[:4]}"
    untrusted.mkdir()
    await asyncio.to_thread(subprocess.run, ["git", "init", "-q", str(untrusted)], check=True)
    async with cockpit(bed, "local") as (app, pilot):
        run = await asyncio.to_thread(sesh, bed, "local", "new", "--agent", "claude", "--target", target(bed),
                                      "--cwd", str(untrusted), "--json")
        made = ok(run).json()
        uuid = made["uuid"]
        await until(pilot, lambda: str(app.attention.flags.get(uuid, "")).startswith(NEEDS_INPUT), within=TURN_S,
                    what=f"the needs-input flag from claude's trust dialog; record "
                         f"{bed.alpha.call('info', {'uuid': uuid}).get('needsInput')}, flags {app.attention.flags}")
        await cursor_to(pilot, uuid)
        assert NEEDS_INPUT in str(app.status_line.render())
        await pilot.press("p")
        assert uuid not in app.attention
    ok(sesh(bed, "local", "stop", uuid))
    ok(sesh(bed, "local", "delete", uuid))
