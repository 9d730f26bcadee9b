"""Before the hello a connection is a stranger: a small frame limit, a cap on how many may wait
at once, and the hello timeout (docs/mesh-protocol.md, "Hostile input")."""

from __future__ import annotations

import contextlib
import json

import pytest
from websockets.exceptions import ConnectionClosed

from sesh_mesh.daemon.mesh import MAX_UNAUTHENTICATED_LINKS, PREAUTH_MAX_FRAME_BYTES
from tests.harness import Daemon, uid
from tests.mesh.helpers import log_line
from tests.mesh.test_refusals import beta, dial, hello, refused, rpc_answer

pytestmark = pytest.mark.mesh

__all__ = ["beta"]


def test_a_large_frame_before_the_hello_is_refused_on_its_header(beta: Daemon) -> None:
    with dial(beta) as ws:
        code, _ = refused(ws, "x" * (PREAUTH_MAX_FRAME_BYTES + 1))
        assert code == 1009
    log_line(beta, f"frame exceeds limit of {PREAUTH_MAX_FRAME_BYTES} bytes (1009)")
    # Once authenticated, the full limit holds: a 1 MiB call is answered.
    with dial(beta) as ws:
        ws.send(hello())
        assert json.loads(ws.recv(timeout=10))["t"] == "hello"
        big_name = "n" * 200
        ws.send(json.dumps({"t": "rpc-call", "id": "c1", "key": uid(9), "op": "find",
                            "args": {"prefix": "0" * 36, "machine": big_name}, "ctx": {"pad": "p" * 2**20}}))
        assert rpc_answer(ws, "c1")["ok"] is True
    assert beta.call("ping")["machine"] == "beta"


def test_connections_waiting_for_their_hello_are_capped(beta: Daemon) -> None:
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_UNAUTHENTICATED_LINKS):
            stack.enter_context(dial(beta))
        with dial(beta) as extra, pytest.raises(ConnectionClosed) as closed:
            extra.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "too many unauthenticated connections")
        log_line(beta, f"{MAX_UNAUTHENTICATED_LINKS} connections are already waiting for their hello")
    # The waiting ones gone, a peer is served again.
    with dial(beta) as ws:
        ws.send(hello())
        assert json.loads(ws.recv(timeout=10))["t"] == "hello"
    assert beta.call("ping")["machine"] == "beta"
