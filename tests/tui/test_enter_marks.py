"""With Enter entering, rows of another machine show what Enter will do (docs/remote-enter.md):
the CLI hands the TUI a marker built from peers.json, and every row, snapshot or change, wears it."""

from __future__ import annotations

from sesh_mesh.cli.remote_enter import NO_SSH_MARK, RELAUNCH_MARK, marker
from tests.harness import Daemon
from tests.tui.helpers import AUTH, Tui, until


async def test_rows_of_another_machine_show_the_enter_mark(seeded: Daemon, tui: Tui) -> None:
    # The seeded sessions are alpha's and not live; the TUI runs as if on beta.
    async with tui.open(enter_acts=True, enter_mark=marker("beta", {"alpha"})) as (app, pilot):
        machines = {row.uuid: row.cells["machine"] for row in app.rowset.visible}
        assert set(machines.values()) == {f"alpha {RELAUNCH_MARK}"}, machines
        seeded.call("mutate", {"uuid": AUTH, "op": "rename", "args": {"name": "renamed"}})
        await until(pilot, lambda: app.rowset.rows[AUTH].cells["name"] == "renamed", what="the rename")
        assert app.rowset.rows[AUTH].cells["machine"] == f"alpha {RELAUNCH_MARK}", "a changed row lost its mark"
    async with tui.open(enter_acts=True, enter_mark=marker("beta", set())) as (app, _pilot):
        assert {row.cells["machine"] for row in app.rowset.visible} == {f"alpha {NO_SSH_MARK}"}
    async with tui.open() as (app, _pilot):
        assert {row.cells["machine"] for row in app.rowset.visible} == {"alpha"}, "plain pick shows no marks"
