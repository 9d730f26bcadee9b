"""The `(stale)` mark follows the peer link live: no record changes when a peer goes away or
comes back, yet the TUI learns it from the daemon (issue 11 item 15). Two real daemons."""

from __future__ import annotations

import asyncio

from tests.harness import uid
from tests.mesh.helpers import link, mesh_daemon, register, running, wait_linked
from tests.tui.helpers import Tui, until

REMOTE = uid(715)


async def test_stale_mark_follows_the_peer_link() -> None:
    alpha, beta = mesh_daemon("alpha"), mesh_daemon("beta")
    link(alpha, beta)
    with running(alpha, beta):
        await asyncio.to_thread(wait_linked, alpha, "beta")
        await asyncio.to_thread(register, beta, REMOTE, "on-beta")

        async with Tui(alpha).open() as (app, pilot):

            def machine() -> str | None:
                row = app.rowset.rows.get(REMOTE)
                return None if row is None else row.cells["machine"]

            await until(pilot, lambda: machine() == "beta", within=10, what="beta's session, not stale")
            seq = alpha.call("info", {"uuid": REMOTE})["originSeq"]
            await asyncio.to_thread(beta.stop)
            await until(pilot, lambda: machine() == "beta (stale)", within=15, what="the stale mark once beta left")
            assert alpha.call("info", {"uuid": REMOTE})["originSeq"] == seq, "the record itself never changed"
            await asyncio.to_thread(beta.start)
            await until(pilot, lambda: machine() == "beta", within=30, what="the mark gone once beta is back")
