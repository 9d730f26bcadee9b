"""Tombstone GC with real daemons: a partitioned peer holds it back, nothing resurrects, a newcomer
never sees the purged record. The horizon is 0 s here (SESH_TEST_TOMBSTONE_HORIZON_S)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import Daemon, uid
from tests.mesh.helpers import link, mesh_daemon, register, replica, running, wait_converged, wait_linked
from tests.polling import eventually

pytestmark = pytest.mark.mesh

GC_ENV = {"SESH_TEST_TOMBSTONE_HORIZON_S": "0", "SESH_TEST_MESH_ANTI_ENTROPY_S": "0.5"}
"""Every tombstone is old enough at once, and peers report their vectors twice a second."""


def gc_daemon(machine: str) -> Daemon:
    return mesh_daemon(machine, extra_env=GC_ENV)


def listed(daemon: Daemon) -> set[str]:
    return {r["uuid"] for r in daemon.sesh("list", "--json").json()}


def test_gc_waits_for_a_partitioned_peer_and_nothing_is_resurrected() -> None:
    a, b, c = gc_daemon("alpha"), gc_daemon("beta"), gc_daemon("gamma")
    link(a, b)
    with running(a, b):
        register(a, uid(1), name="doomed")
        register(a, uid(2), name="kept")
        wait_converged(a, b)

        b.stop()  # partitioned, holding the live record
        assert a.sesh("delete", uid(1)).code == 0
        held = a.sesh("daemon", "gc")
        assert (held.code, held.out) == (0, "purged 0 tombstones\n")
        assert held.err == ("sesh: note: kept until these peers confirm they hold them: beta 1 (a peer that is "
                            "away holds them back; remove it with `sesh peer remove` if it is gone)\n")
        assert replica(a)[uid(1)]["deleted"] is True

        b.start()  # back with its old live copy
        eventually(lambda: replica(b)[uid(1)]["deleted"] is True, 20, what="beta to receive the tombstone")

        def purged(daemon: Daemon) -> dict[str, Any]:
            result: dict[str, Any] = daemon.call("gc")
            return result if uid(1) not in replica(daemon) else {}

        assert eventually(lambda: purged(a), 20, what="alpha to purge once beta acknowledged")["heldBack"] == {}
        eventually(lambda: purged(b), 20, what="beta to purge too")
        for daemon in (a, b):
            assert set(replica(daemon)) == {uid(2)}
            assert listed(daemon) == {uid(2)}

        # A newcomer joins after the GC: it gets everything except the purged record.
        link(a, c)
        with running(c):
            wait_linked(a, "gamma")
            wait_converged(a, b, c)
            assert set(replica(c)) == {uid(2)}
            assert listed(c) == {uid(2)}
            assert b.call("gc")["purged"] == []  # nothing to purge, nothing revived
            assert uid(1) not in replica(b)
