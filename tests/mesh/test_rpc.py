"""The generic forwarding RPC: chunked replies, streams, cancellation, remote errors."""

from __future__ import annotations

import json
from collections.abc import Generator

import pytest

from sesh_mesh.daemon.mesh_rpc import RPC_CHUNK_CHARS
from tests.harness import uid
from tests.mesh.helpers import linked_pair, register, seed, wait_converged
from tests.polling import eventually

pytestmark = pytest.mark.mesh


def test_a_reply_larger_than_a_frame_chunk_arrives_whole() -> None:
    with linked_pair() as (a, b):
        seed(b, 1500)
        wait_converged(a, b)
        direct = b.call("replica")
        assert len(json.dumps(direct)) > 2 * RPC_CHUNK_CHARS  # travels as three or more pieces
        forwarded = a.call("forward", {"machine": "beta", "op": "replica"})
        # Runtime state may be re-derived between the two reads; identity and names may not change.
        assert [(r["uuid"], r["name"]) for r in forwarded] == [(r["uuid"], r["name"]) for r in direct]


def test_a_forwarded_stream_delivers_items_and_stops_when_the_caller_goes_away() -> None:
    with linked_pair() as (a, b):
        register(b, uid(1), name="first")
        wait_converged(a, b)
        feed = a.client().stream("forward-stream", {"machine": "beta", "op": "subscribe", "args": {"snapshot": True}})
        kind, snapshot = next(feed)
        assert kind == "item" and [r["uuid"] for r in snapshot["snapshot"]] == [uid(1)]
        register(b, uid(2), name="second")
        kind, change = next(feed)
        assert kind == "item" and [r["uuid"] for r in change["changes"]] == [uid(2)]
        assert isinstance(feed, Generator)
        feed.close()  # the caller goes away (the generator's finally closes the socket)

        written = iter(range(3, 100))

        def cancelled_at_owner() -> bool:
            register(b, uid(next(written)))  # the next item fails to reach the gone caller
            log = b.home / "daemon.log"
            return "mesh: subscribe (key" in log.read_text(errors="replace") and "cancelled by its caller" in (
                log.read_text(errors="replace"))

        eventually(cancelled_at_owner, 15, interval=0.2, what="beta to cancel the orphaned stream")


def test_a_remote_error_reads_exactly_like_a_local_one() -> None:
    with linked_pair() as (a, b):
        register(b, uid(1), name="tagless")
        wait_converged(a, b)
        here, there = a.sesh("retag", uid(1), "nosuch=x"), b.sesh("retag", uid(1), "nosuch=x")
        assert (here.code, here.err) == (there.code, there.err) == (
            1, f"sesh: session {uid(1)} has no tag 'nosuch' (its tags: none)\n")
