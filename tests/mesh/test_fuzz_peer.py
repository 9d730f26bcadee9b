"""Property-based fuzz of the peer protocol: after a valid hello, generated frames (every frame
type, near-valid fields of random JSON types, garbage). Each frame is answered, ignored or closes
the link with a reason; the daemon never crashes, keeps serving, and its own records and store
stay intact (docs/mesh-protocol.md, "Hostile input")."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed

from tests.harness import Daemon, uid
from tests.mesh.helpers import NOBODY, add_peer, mesh_daemon, register, replica, running
from tests.mesh.test_refusals import TOKEN, dial, hello

pytestmark = pytest.mark.mesh

EXAMPLES = 150
KINDS = ["hello", "batch", "ae", "vector", "caught-up", "links", "rpc-call", "rpc-cancel", "rpc-chunk",
         "rpc-item", "rpc-reply", "rpc-ack", "bogus"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
    st.text(max_size=30), st.sampled_from(["alpha", "beta", "e", uid(1), "ping", "list", "mutate", "\ud800"]),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)
FIELDS = ["t", "id", "key", "op", "args", "ctx", "data", "origin", "epoch", "hwm", "from", "to", "records",
          "vector", "n", "machines", "proto", "machine", "token"]


@st.composite
def frames(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.text(max_size=80))  # garbage text
    if shape == 1:
        depth = draw(st.integers(1, 3000))
        return "[" * depth + "]" * depth
    frame: dict[str, Any] = {"t": draw(st.sampled_from(KINDS) | st.text(max_size=8))}
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=6)):
        frame[key] = draw(json_values)
    if frame["t"] == "batch" and draw(st.booleans()):
        frame.update(origin="alpha", epoch="e", hwm=1, to=1, records=[{"uuid": uid(5), **draw(
            st.dictionaries(st.sampled_from(["machine", "agent", "originSeq", "name", "deleted", "origin"]),
                            json_values, max_size=4))}])
        frame["from"] = draw(st.sampled_from([0, 1]))
    if frame["t"] == "rpc-call" and draw(st.booleans()):
        frame.update(id=draw(st.text(min_size=1, max_size=8)), op=draw(st.sampled_from(["ping", "list", "find",
                                                                                        "info", "mutate", "bogus"])))
    return json.dumps(frame, ensure_ascii=False)


@pytest.fixture(scope="module")
def beta() -> Iterator[Daemon]:
    daemon = mesh_daemon("beta")
    add_peer(daemon, "alpha", NOBODY, TOKEN)
    with running(daemon):
        register(daemon, uid(1), name="mine")
        yield daemon
        daemon.stop()
        with sqlite3.connect(daemon.home / "store.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def drain(ws: Any) -> tuple[int, str] | None:
    """Read what the daemon sends for a moment; the close (code, reason) if it closed the link."""
    try:
        while True:
            json.loads(ws.recv(timeout=0.2))
    except TimeoutError:
        return None
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the daemon dropped the link without a close frame"
        return closed.rcvd.code, closed.rcvd.reason


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(sent=st.lists(frames(), min_size=1, max_size=3))
def test_generated_frames_after_a_valid_hello_never_crash_the_daemon(beta: Daemon, sent: list[str]) -> None:
    mine = replica(beta)[uid(1)]
    with dial(beta) as ws:
        ws.send(hello())
        assert json.loads(ws.recv(timeout=10))["t"] == "hello"
        closed = None
        for frame in sent:
            try:
                ws.send(frame)
            except ConnectionClosed:
                break
            closed = drain(ws)
            if closed is not None:
                break
    if closed is not None:
        code, reason = closed
        assert code != 1011, f"internal error closing the link after {sent!r}: {reason}"
        assert reason or code in (1000, 1001), (code, sent)
    assert beta.call("ping")["machine"] == "beta"
    assert replica(beta)[uid(1)] == mine  # a peer never rewrites the receiver's own record
    assert "Traceback" not in beta.log_tail(50), beta.log_tail(50)
