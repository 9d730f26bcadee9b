"""Partition: a daemon stops, everyone writes (it too, after restart, still cut off), then it heals."""

from __future__ import annotations

import pytest

from tests.harness import uid
from tests.mesh.helpers import (
    link,
    mesh_daemon,
    proxies,
    register,
    replica,
    running,
    wait_converged,
)

pytestmark = pytest.mark.mesh


def test_partition_heals_with_nothing_lost_duplicated_or_resurrected() -> None:
    a, b, c = mesh_daemon("alpha"), mesh_daemon("beta"), mesh_daemon("gamma")
    assert a.port and b.port and c.port
    # gamma's four directed links go through proxies, so it can run while cut off.
    with proxies(c.port, c.port, a.port, b.port) as (a_to_c, b_to_c, c_to_a, c_to_b), running(a, b, c):
        link(a, b)
        link(a, c, a_dials=a_to_c.url, b_dials=c_to_a.url)
        link(b, c, a_dials=b_to_c.url, b_dials=c_to_b.url)
        register(c, uid(1), name="doomed")  # deleted by alpha while gamma is away, renamed by gamma
        register(c, uid(2), name="keeps")  # renamed by gamma while away
        register(a, uid(3), name="a-deleted")  # deleted normally by its owner during the partition
        register(b, uid(4), name="b-renamed")
        wait_converged(a, b, c)

        c.stop()
        for proxy in (a_to_c, b_to_c, c_to_a, c_to_b):
            proxy.block()
        refused = a.sesh("rename", uid(1), "nope")
        assert refused.code == 1 and refused.err.startswith("sesh: cannot reach machine 'gamma' (")
        assert a.sesh("delete", uid(1), "--force").code == 0
        assert a.sesh("delete", uid(3)).code == 0
        assert b.sesh("rename", uid(4), "b-renamed-twice").code == 0
        register(a, uid(5), name="new-on-alpha")
        register(b, uid(6), name="new-on-beta")

        c.start()  # restarted, still partitioned
        assert c.sesh("rename", uid(1), "renamed-while-away").code == 0
        assert c.sesh("rename", uid(2), "kept-and-renamed").code == 0
        register(c, uid(7), name="new-on-gamma")
        assert replica(c)[uid(3)]["deleted"] is False  # gamma has not heard yet

        for proxy in (a_to_c, b_to_c, c_to_a, c_to_b):
            proxy.unblock()
        final = wait_converged(a, b, c)
        records = replica(a)
        assert sorted(records) == [uid(n) for n in range(1, 8)]  # nothing lost, nothing extra
        assert len(final) == 7  # one version per record everywhere
        assert records[uid(1)]["deleted"] is True  # the tombstone beats the rename
        assert records[uid(2)]["name"] == "kept-and-renamed"
        assert records[uid(3)]["deleted"] is True  # not resurrected by gamma's old copy
        assert records[uid(4)]["name"] == "b-renamed-twice"
        for daemon in (a, b, c):
            listed = {r["uuid"] for r in daemon.sesh("list", "--json").json()}
            assert listed == {uid(2), uid(4), uid(5), uid(6), uid(7)}
