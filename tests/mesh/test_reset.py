"""Store reset: wipe a daemon's SESH_HOME, restart it under the same machine name."""

from __future__ import annotations

import shutil

import pytest

from tests.harness import uid
from tests.mesh.helpers import CONVERGE_S, link, mesh_daemon, register, replica, running, vector, wait_converged
from tests.polling import eventually

pytestmark = pytest.mark.mesh


def test_a_wiped_daemon_recovers_its_records_and_its_new_writes_reach_the_others() -> None:
    a, b, c = mesh_daemon("alpha"), mesh_daemon("beta"), mesh_daemon("gamma")
    tokens = {(a.machine, b.machine): link(a, b), (a.machine, c.machine): link(a, c)}
    link(b, c)
    with running(a, b, c):
        for n in range(1, 4):
            register(a, uid(n), name=f"alpha-{n}")
        register(b, uid(10), name="beta-10")
        register(c, uid(20), name="gamma-20")
        assert a.sesh("rename", uid(1), "alpha-1-renamed").code == 0
        before = wait_converged(a, b, c)
        old_epoch, old_top = vector(a)["alpha"][0], int(vector(a)["alpha"][1])

        a.stop()
        shutil.rmtree(a.home)
        a.home.mkdir()
        for (_, peer), token in tokens.items():  # the user re-adds the peers after the wipe
            there = b if peer == "beta" else c
            assert a.sesh("peer", "add", peer, there.url, "--token", token).code == 0
        a.start()

        # The three agree as soon as alpha has its records back from the peers, and again once
        # its recovery window closes and they are written anew: only the second is the end.
        eventually(lambda: a.call("status")["recovering"] is False, CONVERGE_S, what="alpha's recovery window to close")
        after = wait_converged(a, b, c)
        # Nothing lost anywhere: every record of before, with its content. Those of alpha's old
        # lineage were written again when its recovery window closed (docs/mesh-protocol.md,
        # Epochs), so they carry new, higher seqs; nobody else's changed.
        seqs = {uuid: seq for uuid, _, seq, _, _ in after}
        assert {(u, o, d, n) for u, o, _, d, n in before} == {(u, o, d, n) for u, o, _, d, n in after}
        assert all(seqs[u] > s if o == "alpha" else seqs[u] == s for u, o, s, _, _ in before)
        assert replica(a)[uid(1)]["name"] == "alpha-1-renamed"
        new_epoch, recovered_top = vector(a)["alpha"]
        assert new_epoch != old_epoch and int(recovered_top) >= old_top

        # New writes of the reset machine sort after its old ones and are not ignored as "old".
        assert a.sesh("rename", uid(2), "renamed-after-reset").code == 0
        register(a, uid(4), name="born-after-reset")
        wait_converged(a, b, c)
        for daemon in (b, c):
            records = replica(daemon)
            assert records[uid(2)]["name"] == "renamed-after-reset"
            assert int(records[uid(2)]["originSeq"]) > old_top
            assert records[uid(4)]["machine"] == "alpha"
            assert vector(daemon)["alpha"][0] == new_epoch
