"""A forwarded call whose frame is lost on a live link is sent again with the same key, and takes
effect once (docs/mesh-protocol.md, "Forwarding RPC")."""

from __future__ import annotations

import pytest

from tests.harness import uid
from tests.mesh.helpers import link, log_line, mesh_daemon, register, relays, replica, running, wait_converged

pytestmark = pytest.mark.mesh

ENV = {"SESH_TEST_MESH_RPC_ACK_S": "1", "SESH_TEST_MESH_RPC_PROBE_S": "1"}


@pytest.mark.parametrize(("direction", "kind"), [("up", "rpc-call"), ("down", "rpc-reply")])
def test_a_forwarded_mutation_whose_frame_is_lost_is_retried_and_takes_effect_once(direction: str, kind: str) -> None:
    a = mesh_daemon("alpha", listen=False, extra_env=ENV)
    b = mesh_daemon("beta", extra_env=ENV)
    assert b.port
    with relays(b.port) as (relay,), running(a, b):
        link(a, b, a_dials=relay.url)  # the one link is alpha's, through the relay
        register(b, uid(1), name="before")
        wait_converged(a, b)
        seq = replica(b)[uid(1)]["originSeq"]
        relay.drop_next(direction, kind)
        run = a.sesh("rename", uid(1), "after", "--json", timeout=30)
        assert run.code == 0, run.err
        assert run.json()["name"] == "after"
        assert relay.dropped_count() == 1
        assert replica(b)[uid(1)]["originSeq"] == seq + 1  # one effect, not two
        log_line(a, "sending it again (same key)") if kind == "rpc-call" else None
        wait_converged(a, b)
