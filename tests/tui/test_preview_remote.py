"""The preview of a session whose owner is another machine that is gone: it says so, in the
headline (the record is its last known state) and in the line about the transcript it cannot
fetch, instead of showing an empty or a stale transcript as if it were live."""

from __future__ import annotations

import asyncio

import pytest

from tests.harness import uid
from tests.mesh.helpers import link, mesh_daemon, register, running, wait_converged
from tests.polling import eventually
from tests.tui.helpers import cursor_to, loaded, make_app, until

pytestmark = pytest.mark.mesh


def test_the_preview_of_a_gone_machines_session_says_it_is_unreachable() -> None:
    a, b = mesh_daemon("alpha"), mesh_daemon("beta")
    link(a, b)
    with running(a, b):
        far = uid(7)
        register(b, far, name="far-away")
        wait_converged(a, b)
        b.stop()
        eventually(lambda: any(r["uuid"] == far and r.get("stale") for r in a.call("list")), 20,
                   what="alpha to see beta's session as stale")

        async def run() -> None:
            app = make_app(a)
            async with app.run_test() as pilot:
                await loaded(pilot)
                await cursor_to(pilot, far)
                await pilot.press("p")
                await until(pilot, lambda: app.preview.problem, what="the preview's line about the transcript")
                shown = "\n".join(str(line.text) for line in app.preview.lines)
                assert "(stale) beta is unreachable" in shown, shown
                problem = str(app.preview.problem)
                assert "cannot reach machine 'beta'" in problem and "link down since" in problem, problem

        asyncio.run(run())
