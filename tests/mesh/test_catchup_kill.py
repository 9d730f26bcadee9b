"""kill -9 of a daemon in the middle of a 10,000-record catch-up: after a restart it converges."""

from __future__ import annotations

import sqlite3

import pytest

from tests.mesh.helpers import link, mesh_daemon, proxies, running, seed, wait_converged
from tests.polling import eventually

pytestmark = pytest.mark.mesh

RECORDS = 10_000
THROTTLE_BYTES_PER_S = 120_000.0
"""Slow enough (the catch-up takes seconds) that the kill reliably lands in the middle of it."""


def test_sigkill_during_a_large_catch_up_then_restart_converges() -> None:
    a = mesh_daemon("alpha")
    b = mesh_daemon("beta", listen=False)
    assert a.port
    with proxies(a.port) as (throttled,), running(a):
        seed(a, RECORDS)
        throttled.rate = THROTTLE_BYTES_PER_S
        link(a, b, b_dials=throttled.url)  # beta does not listen: only beta dials, through the proxy
        b.start()

        def partly_there() -> int:
            held = int(b.call("status")["records"])
            return held if 500 <= held < RECORDS - 500 else 0

        held_at_kill = eventually(partly_there, 60, interval=0.02, what="beta in the middle of the catch-up")
        b.kill9()
        throttled.rate = None
        with running(b):
            wait_converged(a, b, timeout=60)
            assert int(b.call("status")["records"]) == RECORDS > held_at_kill
            store = b.home / "store.sqlite"
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                assert db.execute("SELECT count(*) FROM records").fetchone() == (RECORDS,)
