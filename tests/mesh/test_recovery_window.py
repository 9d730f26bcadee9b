"""A wiped or restored store gets back everything of its own that any peer holds.

Both cases were found by the Jepsen-lite runs (seed 11): a recovery window that closed at the first
peer's catch-up, though a newer version of ours sat on another peer; and a restore no mark could
show, because the restored store's new counter had already travelled through a peer that never
saw the lost writes. Three real daemons, links through cuttable proxies.

The first also raced: when gamma took beta's new lineage from alpha before linking to beta, its
catch-up for beta was an empty delta, and the newer version came back only through alpha's relay,
which could arrive after the window had closed. A recovering store's hello now asks every peer for
all its own records (`test_replication_sim.py` plays that order deterministically).

The second failed about one run in three: the new epoch started at the very counter the peers
already held for the old lineage, so the epochs' order decided and often every peer kept the new
lineage loose; and when the copy was taken before the first window had closed, the lost write
was adopted with its old seq and never reached beta. `test_replication_sim.py` plays both.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.harness import Daemon, uid
from tests.mesh.helpers import (
    Proxy,
    link,
    mesh_daemon,
    proxies,
    register,
    replica,
    running,
    vector,
    wait_converged,
    wait_linked,
)
from tests.mesh.test_restore import STORE_FILES
from tests.polling import eventually

pytestmark = pytest.mark.mesh

Pairs = dict[tuple[str, str], Proxy]


@contextmanager
def triangle() -> Iterator[tuple[dict[str, Daemon], Pairs]]:
    daemons = {name: mesh_daemon(name) for name in ("alpha", "beta", "gamma")}
    pairs = [(x, y) for x in daemons for y in daemons if x != y]
    with proxies(*[daemons[y].port or 0 for _, y in pairs]) as made, running(*daemons.values()):
        cut = dict(zip(pairs, made, strict=True))
        for x, y in (("alpha", "beta"), ("alpha", "gamma"), ("beta", "gamma")):
            link(daemons[x], daemons[y], a_dials=cut[x, y].url, b_dials=cut[y, x].url)
        yield daemons, cut


def block(cut: Pairs, x: str, y: str) -> None:
    cut[x, y].block()
    cut[y, x].block()


def unblock(cut: Pairs, x: str, y: str) -> None:
    cut[x, y].unblock()
    cut[y, x].unblock()


def test_a_wiped_store_caught_up_first_by_a_lagging_peer_still_gets_its_newest_version() -> None:
    with triangle() as (d, cut):
        alpha, beta, gamma = d["alpha"], d["beta"], d["gamma"]
        register(beta, uid(1), name="old")
        wait_converged(alpha, beta, gamma)
        block(cut, "alpha", "beta")
        block(cut, "alpha", "gamma")  # alpha misses beta's next write
        assert beta.sesh("rename", uid(1), "new").code == 0  # acknowledged; gamma holds it
        wait_converged(beta, gamma)
        beta.stop()
        for name in STORE_FILES:
            (beta.home / name).unlink(missing_ok=True)
        unblock(cut, "alpha", "beta")
        block(cut, "beta", "gamma")  # the wiped beta comes back linked to the lagging alpha only
        beta.start()
        wait_linked(beta, "alpha")
        unblock(cut, "alpha", "gamma")
        unblock(cut, "beta", "gamma")
        wait_converged(alpha, beta, gamma, timeout=30)
        assert {m.machine: replica(m)[uid(1)]["name"] for m in (alpha, beta, gamma)} == dict.fromkeys(
            ("alpha", "beta", "gamma"), "new")


def test_a_restore_hidden_from_the_marks_is_found_by_the_peer_that_holds_the_lost_write() -> None:
    with triangle() as (d, cut):
        alpha, beta, gamma = d["alpha"], d["beta"], d["gamma"]
        register(alpha, uid(1), name="before-the-copy")
        wait_converged(alpha, beta, gamma)
        aside = alpha.home / "copy"
        aside.mkdir()
        source = sqlite3.connect(f"file:{alpha.home / 'store.sqlite'}?mode=ro", uri=True)
        target = sqlite3.connect(aside / "store.sqlite")
        source.backup(target)
        source.close()
        target.close()
        block(cut, "alpha", "beta")
        block(cut, "beta", "gamma")  # beta never sees the write the restore loses
        register(alpha, uid(2), name="the-lost-future")  # acknowledged; gamma holds it
        wait_converged(alpha, gamma)
        alpha.stop()
        for name in STORE_FILES:
            (alpha.home / name).unlink(missing_ok=True)
            if (aside / name).exists():
                shutil.copy2(aside / name, alpha.home / name)
        block(cut, "alpha", "gamma")
        unblock(cut, "alpha", "beta")  # the restored alpha meets beta first...
        alpha.start()
        wait_linked(alpha, "beta")
        unblock(cut, "beta", "gamma")  # ...and beta passes alpha's new counter on to gamma
        eventually(lambda: vector(gamma)["alpha"] == vector(alpha)["alpha"], 20, what="gamma's mark for alpha")
        unblock(cut, "alpha", "gamma")
        wait_converged(alpha, beta, gamma, timeout=30)
        for machine in (alpha, beta, gamma):
            held = replica(machine)
            assert held[uid(2)]["name"] == "the-lost-future", machine.machine
            assert held[uid(1)]["name"] == "before-the-copy", machine.machine
        log = (alpha.home / "daemon.log").read_text(encoding="utf-8")
        assert "sent back 1 lost versions of ours" in log
