"""A push lost on a live link is healed by the periodic anti-entropy exchange, without a reconnect."""

from __future__ import annotations

import time

import pytest

from tests.harness import uid
from tests.mesh.helpers import (
    link,
    log_line,
    mesh_daemon,
    register,
    relays,
    replica,
    running,
    wait_converged,
    wait_linked,
)
from tests.polling import eventually, scaled

pytestmark = pytest.mark.mesh

ANTI_ENTROPY_S = 1.0
HEAL_WITHIN_S = 3 * ANTI_ENTROPY_S + 2.0
"""The next probe comes within one interval; allow a superseded probe, a round trip and slack."""


def test_a_push_lost_on_a_live_link_is_healed_by_the_periodic_exchange() -> None:
    env = {"SESH_TEST_MESH_ANTI_ENTROPY_S": str(ANTI_ENTROPY_S)}
    a = mesh_daemon("alpha", listen=False, extra_env=env)
    b = mesh_daemon("beta", extra_env=env)
    assert b.port
    with relays(b.port) as (relay,), running(a, b):
        link(a, b, a_dials=relay.url)  # alpha does not listen: the one link is alpha's, via the relay
        wait_linked(a, "beta")
        wait_linked(b, "alpha")
        register(a, uid(1), name="before")
        wait_converged(a, b)
        since = {p["name"]: p["since"] for p in a.call("status")["peers"]}["beta"]

        relay.drop_next("up", "batch")  # alpha's next push to beta is lost; the link stays up
        register(a, uid(2), name="lost-push")
        eventually(relay.dropped_count, 5, what="the push to be dropped")
        lost_at = time.monotonic()
        assert relay.dropped[0]["records"][0]["uuid"] == uid(2)

        eventually(lambda: uid(2) in replica(b), HEAL_WITHIN_S, interval=0.05, what="beta to receive the lost record")
        healed_s = time.monotonic() - lost_at
        assert healed_s <= scaled(HEAL_WITHIN_S)
        wait_converged(a, b, timeout=HEAL_WITHIN_S)
        assert "sent again: alpha after" in log_line(a, "anti-entropy:")
        # The same link all along: no reconnect, no second connection through the relay.
        assert relay.accepted == 1
        assert {p["name"]: p["since"] for p in a.call("status")["peers"]}["beta"] == since
        # Healed and idle: later rounds still probe both ways but send no batch.
        before = relay.relayed_now()
        time.sleep(3 * ANTI_ENTROPY_S)
        after = relay.relayed_now() - before
        assert after[("up", "ae")] >= 2 and after[("down", "ae")] >= 2, after
        assert after[("up", "vector")] >= 2 and after[("down", "vector")] >= 2, after
        assert after[("up", "batch")] == after[("down", "batch")] == 0, after
        assert relay.dropped_count() == 1
