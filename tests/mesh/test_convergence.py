"""Real daemons converge: a fully linked triangle, and a chain whose ends are not linked."""

from __future__ import annotations

import pytest

from tests.harness import uid
from tests.mesh.helpers import link, mesh_daemon, register, replica, running, wait_converged, wait_linked

pytestmark = pytest.mark.mesh


def test_three_daemons_converge_after_writes_on_all_three() -> None:
    a, b, c = mesh_daemon("alpha"), mesh_daemon("beta"), mesh_daemon("gamma")
    with running(a, b, c):
        # Linked with the CLI a user runs; the running daemons pick the change up without restart.
        for left, right in ((a, b), (b, c), (a, c)):
            token = a.sesh("peer", "token").out.strip()  # what a user pastes
            for here, there in ((left, right), (right, left)):
                run = here.sesh("peer", "add", there.machine, there.url, "--token", token)
                assert run.code == 0, run.err
                assert run.out == f"added peer {there.machine} ({there.url})\n"
        for index, daemon in enumerate((a, b, c)):
            for n in range(3):
                register(daemon, uid(index * 10 + n), name=f"{daemon.machine}-{n}")
        wait_converged(a, b, c)
        # Live pushes once the links are up, including a change of an existing record.
        for index, daemon in enumerate((a, b, c)):
            register(daemon, uid(100 + index), name=f"late-{daemon.machine}")
        assert a.sesh("rename", uid(0), "alpha-renamed").code == 0
        final = wait_converged(a, b, c)
        assert len(final) == 12
        owners = {r["uuid"]: r["machine"] for r in replica(c).values()}
        assert owners[uid(0)] == "alpha" and owners[uid(10)] == "beta" and owners[uid(101)] == "beta"
        assert replica(c)[uid(0)]["name"] == "alpha-renamed"
        for daemon in (a, b, c):
            wait_linked(daemon, *(d.machine for d in (a, b, c) if d is not daemon))
            peers = daemon.call("status")["peers"]
            assert all(p["connected"] and p["lastError"] is None for p in peers)
            assert all(n == 0 for p in peers for n in p["lag"].values()), peers


def test_a_chain_converges_through_the_middle_and_forwards_across_it() -> None:
    a, b, c = mesh_daemon("alpha"), mesh_daemon("beta"), mesh_daemon("gamma")
    link(a, b)
    link(b, c)
    with running(a, b, c):
        register(a, uid(1), name="on-alpha")
        register(c, uid(3), name="on-gamma")
        wait_converged(a, b, c)
        assert [p["name"] for p in a.call("status")["peers"]] == ["beta"]  # alpha and gamma never link
        register(c, uid(4), name="later-on-gamma")
        wait_converged(a, b, c)
        listed = {r["uuid"]: r for r in a.sesh("list", "--json").json()}
        assert "stale" not in listed[uid(4)]  # gamma is reachable through beta: not stale
        # A mutation of gamma's record from alpha travels alpha → beta → gamma and back.
        run = a.sesh("rename", uid(3), "renamed-from-alpha")
        assert run.code == 0, run.err
        assert replica(c)[uid(3)]["name"] == "renamed-from-alpha"
        assert replica(c)[uid(3)]["origin"] == "gamma"  # written by the owner
        wait_converged(a, b, c)
