"""A store restored from an old copy, and a store wiped while the clock is behind.

Real daemons on loopback. Each machine writes while it cannot reach anyone, then links: every
write of both lives must converge on every machine, and the newest write of a record must win.
"""

from __future__ import annotations

import glob
import shutil
from pathlib import Path

import pytest

from tests.harness import Daemon, free_port, uid
from tests.mesh.helpers import link, mesh_daemon, register, replica, running, vector, wait_converged, wait_linked

pytestmark = pytest.mark.mesh

STORE_FILES = ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm")


def _alone(daemon: Daemon) -> Path:
    """Start `daemon` unreachable and without peers; returns where its peers.json was put."""
    aside = daemon.home / "peers.json.aside"
    shutil.move(daemon.home / "peers.json", aside)
    daemon.listen = f"127.0.0.1:{free_port()}"  # the peers dial its old port: refused
    daemon.start()
    return aside


def _rejoin(daemon: Daemon, aside: Path) -> None:
    shutil.move(aside, daemon.home / "peers.json")
    daemon.call("peers-reload")


@pytest.mark.parametrize("clock", ["sane", "a-day-slow"])
def test_a_store_restored_from_an_old_copy_loses_neither_life(clock: str) -> None:
    slow = _faketime_lib() if clock == "a-day-slow" else None
    a, b, c = mesh_daemon("alpha"), mesh_daemon("beta"), mesh_daemon("gamma")
    link(a, b)
    link(a, c)
    link(b, c)
    with running(a, b, c):
        register(a, uid(1), name="before-the-copy")
        wait_converged(a, b, c)
        old_epoch = vector(a)["alpha"][0]
        a.stop()
        copy = a.home / "copy"
        copy.mkdir()
        for name in STORE_FILES:
            if (a.home / name).exists():
                shutil.copy2(a.home / name, copy / name)

        a.start()
        register(a, uid(2), name="the-lost-future")  # reaches beta and gamma, then the disk is restored
        wait_converged(a, b, c)
        lost_seq = int(vector(a)["alpha"][1])
        a.stop()
        for name in STORE_FILES:
            (a.home / name).unlink(missing_ok=True)
            if (copy / name).exists():
                shutil.copy2(copy / name, a.home / name)

        if slow is not None:
            # The restored copy's counter is then above the slow wall clock: no jump at its start,
            # so its next seqs follow the copy's, below every seq the lost future issued.
            a.extra_env = {**a.extra_env, "LD_PRELOAD": slow, "FAKETIME": "-1d", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        aside = _alone(a)
        assert uid(2) not in replica(a)
        register(a, uid(3), name="after-the-restore")  # one write before any link catches up
        if slow is not None:
            assert int(vector(a)["alpha"][1]) < lost_seq  # the clock really held the counter back
        _rejoin(a, aside)

        wait_converged(a, b, c)
        for daemon in (a, b, c):
            names = {uuid: record["name"] for uuid, record in replica(daemon).items()}
            assert names == {uid(1): "before-the-copy", uid(2): "the-lost-future", uid(3): "after-the-restore"}, (
                daemon.machine)
        assert vector(a)["alpha"][0] != old_epoch  # the forked lineage was left behind
        # The new epoch closed every link of alpha's (docs/mesh-protocol.md, Epochs); the data can
        # converge over the first link back while the other is still in its reconnect pause.
        wait_linked(a, "beta", "gamma")
        status = a.call("status")
        assert all(n == 0 for peer in status["peers"] for n in peer["lag"].values()), status["peers"]


def _faketime_lib() -> str:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found or shutil.which("faketime") is None:
        pytest.skip("NOT AVAILABLE: faketime (scripts/test installs the Debian package)")
    return found[0]


def test_a_store_wiped_while_the_clock_is_a_day_slow_still_wins_with_its_new_writes() -> None:
    lib = _faketime_lib()
    a, b = mesh_daemon("alpha"), mesh_daemon("beta")
    link(a, b)
    with running(a, b):
        register(a, uid(1), name="old-name")
        assert a.sesh("rename", uid(1), "old-name-2").code == 0
        wait_converged(a, b)
        a.stop()
        peers = (a.home / "peers.json").read_text()
        shutil.rmtree(a.home)
        a.home.mkdir()
        (a.home / "peers.json").write_text(peers)
        # A day slow for the daemon only: its wall clock (and so a new store's counter) is behind.
        a.extra_env = {**a.extra_env, "LD_PRELOAD": lib, "FAKETIME": "-1d", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
        aside = _alone(a)
        slow = a.call("status")
        assert int(slow["vector"]["alpha"][1]) < int(vector(b)["alpha"][1])  # the clock really is behind
        register(a, uid(1), name="rediscovered")  # the wiped machine finds its conversation again
        assert a.sesh("rename", uid(1), "renamed-while-slow").code == 0
        _rejoin(a, aside)

        wait_converged(a, b)
        for daemon in (a, b):
            assert replica(daemon)[uid(1)]["name"] == "renamed-while-slow", daemon.machine
