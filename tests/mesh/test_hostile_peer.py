"""An authenticated but hostile peer, speaking the real protocol to a real daemon: it cannot
rewrite the receiver's own records, brick its counter, or crash its links
(docs/mesh-protocol.md, "Hostile input")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from sesh_mesh.store.validation import MAX_SEQ
from tests.harness import uid
from tests.mesh.helpers import NOBODY, add_peer, log_line, mesh_daemon, register, replica, running
from tests.mesh.test_refusals import MAX_FRAMES_AFTER_HELLO, TOKEN, dial, hello, refused

pytestmark = pytest.mark.mesh

HUGE = 2**63 - 1
"""SQLite's largest integer: adopted as our seq, no local write could ever follow."""


def caught_up(ws: ClientConnection) -> dict[str, Any]:
    """The daemon's hello, after reading its catch-up up to its caught-up frame."""
    greeting: dict[str, Any] = json.loads(ws.recv(timeout=10))
    assert greeting["t"] == "hello"
    next_frame(ws, "caught-up")
    return greeting


def next_frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    for _ in range(MAX_FRAMES_AFTER_HELLO):
        frame: dict[str, Any] = json.loads(ws.recv(timeout=10))
        if frame["t"] == kind:
            return frame
    raise AssertionError(f"no {kind} frame from the daemon")


def batch(origin: str, records: list[dict[str, Any]], to: int, hwm: int | None = None) -> str:
    return json.dumps({"t": "batch", "origin": origin, "epoch": "forged", "hwm": to if hwm is None else hwm,
                       "from": 0, "to": to, "records": records})


def test_a_hostile_peer_cannot_rewrite_our_records_brick_our_counter_or_crash_the_link() -> None:
    beta = mesh_daemon("beta")
    add_peer(beta, "alpha", NOBODY, TOKEN)  # "alpha" holds a valid token and turns hostile
    with running(beta):
        mine = register(beta, uid(1), name="mine")
        seq = int(mine["originSeq"])

        # Even while beta's new store may still recover its own records, a version of a record
        # beta wrote itself is refused, and a seq that would brick the counter closes the link.
        with dial(beta) as ws:
            ws.send(hello())
            caught_up(ws)
            ws.send(batch("beta", [{**mine, "name": "pwned", "originSeq": seq + 10}], seq + 10))
            forged_top = {**mine, "uuid": uid(2), "originSeq": HUGE}
            reason = f"bad batch message: record {uid(2)} has originSeq out of range (above {MAX_SEQ})"
            assert refused(ws, batch("beta", [forged_top], seq + 30), authenticated=True) == (1007, reason)
        log_line(beta, f"refused a version of {uid(1)} (seq {seq + 10}) from a peer")
        log_line(beta, "closing alpha (in 127.0.0.1")

        # A peer that knew beta caught it up: the recovery window closes, and from then on
        # records claiming beta's origin are ignored (the link stays up).
        with dial(beta) as ws:
            ws.send(hello().replace('"vector": {}', '"vector": {"beta": ["e", 1]}'))
            caught_up(ws)
            ws.send(json.dumps({"t": "caught-up"}))
            log_line(beta, "caught this reset store up; its recovery window is closed")
            planted = {**mine, "uuid": uid(3), "name": "planted", "originSeq": seq + 20}
            ws.send(batch("beta", [planted], seq + 20))
            log_line(beta, "ignored 1 records of this machine's own origin beta from a peer")
            ws.send(json.dumps({"t": "ae", "n": 1}))  # still served: the probe is answered
            # Neither the refused rewrite nor the ignored record moved beta's counter.
            assert next_frame(ws, "vector")["vector"]["beta"][1] < seq + 10

        # An out-of-range mark of another origin: refused, the link closed, nothing crashed.
        with dial(beta) as ws:
            ws.send(hello())
            caught_up(ws)
            reason = f"bad batch message: to {2**64} is out of range (at most {MAX_SEQ})"
            assert refused(ws, batch("alpha", [], 2**64, hwm=0), authenticated=True) == (1007, reason)

        records = replica(beta)
        assert records[uid(1)]["name"] == "mine" and int(records[uid(1)]["originSeq"]) < seq + 10
        assert uid(2) not in records and uid(3) not in records

        # The counter still works, also after a restart.
        beta.stop()
        beta.start()
        after = register(beta, uid(4), name="after-restart")
        assert seq < int(after["originSeq"]) < MAX_SEQ
        renamed = beta.sesh("rename", uid(1), "still-mine")
        assert renamed.code == 0, renamed.err
        assert replica(beta)[uid(1)]["name"] == "still-mine"
        assert beta.call("ping")["machine"] == "beta"
