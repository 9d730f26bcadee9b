"""Hostile or broken peers: refused with a logged reason, and the daemon keeps serving."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.harness import Daemon, uid
from tests.mesh.helpers import NOBODY, add_peer, log_line, mesh_daemon, proxies, register, running, wait_converged
from tests.polling import eventually, scaled

pytestmark = pytest.mark.mesh

TOKEN = "the-right-token-7Qx2Lm9Vb4Nc8Rt"
MAX_FRAMES_AFTER_HELLO = 100
"""An authenticated dialer first receives the catch-up (a few frames here) before the close."""
AUTH_REASON = "authentication failed (check the peer name and token on both machines)"


def dial(daemon: Daemon) -> ClientConnection:
    return connect(daemon.url, proxy=None, open_timeout=5, close_timeout=2, max_size=None)


def hello(machine: str = "alpha", token: str | None = TOKEN) -> str:
    message: dict[str, Any] = {"t": "hello", "proto": 1, "machine": machine, "epoch": "e", "vector": {}}
    if token is not None:
        message["token"] = token
    return json.dumps(message)


def refused(ws: ClientConnection, frame: str | bytes, authenticated: bool = False) -> tuple[int, str]:
    """Send `frame` and return the close; unauthenticated, the daemon must send nothing first."""
    ws.send(frame)
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(MAX_FRAMES_AFTER_HELLO if authenticated else 1):
            ws.recv(timeout=10)
    received = closed.value.rcvd
    assert received is not None
    return received.code, received.reason


@pytest.fixture
def beta() -> Any:
    b = mesh_daemon("beta")
    add_peer(b, "alpha", NOBODY, TOKEN)  # beta knows alpha and its token; no alpha runs
    with running(b):
        yield b


def test_wrong_no_or_unknown_credentials_are_refused_and_logged(beta: Daemon) -> None:
    cases = [
        (hello(token="wrong-token"), "machine 'alpha' sent a wrong token"),
        (hello(token=None), "machine 'alpha' sent no token"),
        (hello(machine="mallory"), "no peer named 'mallory' in peers.json"),
    ]
    for frame, logged in cases:
        with dial(beta) as ws:
            assert refused(ws, frame) == (4001, AUTH_REASON)
        log_line(beta, logged)
    with dial(beta) as ws:
        assert refused(ws, hello(machine="beta")) == (4002, "peer claims to be this machine ('beta')")
    with dial(beta) as ws:  # records before authentication are not even looked at
        batch = {"t": "batch", "origin": "alpha", "epoch": "e", "hwm": 1, "from": 0, "to": 1, "records": []}
        assert refused(ws, json.dumps(batch)) == (1008, "expected hello before anything else, got 'batch'")
    assert beta.call("ping")["machine"] == "beta"
    assert beta.call("replica") == []


def test_garbage_binary_and_oversized_frames_close_the_link_not_the_daemon(beta: Daemon) -> None:
    with dial(beta) as ws:
        assert refused(ws, "{nonsense") == (
            1007, "garbage frame: not JSON (Expecting property name enclosed in double quotes)")
    log_line(beta, "garbage frame: not JSON")
    with dial(beta) as ws:
        reason = "garbage frame: binary frame (the mesh speaks JSON text frames)"
        assert refused(ws, b"\x00\xff binary") == (1007, reason)
    with dial(beta) as ws:  # authenticated, then garbage
        ws.send(hello())
        assert json.loads(ws.recv(timeout=10))["t"] == "hello"
        assert refused(ws, "[1, 2, 3]", authenticated=True) == (1007, "garbage frame: a JSON list, not an object")
    with dial(beta) as ws:  # over the 4 MiB frame limit (and, before the hello, the 64 KiB one)
        code, _ = refused(ws, "x" * (5 * 1024 * 1024))
        assert code == 1009
    log_line(beta, "closed here: frame exceeds limit of 65536 bytes (1009)")
    with dial(beta) as ws:  # authenticated: the 4 MiB limit
        ws.send(hello())
        assert json.loads(ws.recv(timeout=10))["t"] == "hello"
        code, _ = refused(ws, "x" * (5 * 1024 * 1024), authenticated=True)
        assert code == 1009
    log_line(beta, "closed here: frame exceeds limit of 4194304 bytes (1009)")
    with socket.create_connection(("127.0.0.1", beta.port or 0), timeout=5) as raw:  # not even HTTP
        raw.sendall(b"\x16\x03\x01 this is not a websocket handshake\r\n\r\n")
        raw.settimeout(5)
        answer = raw.recv(4096)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4")  # dropped, never served
    assert beta.call("ping")["machine"] == "beta"


def test_a_daemon_with_the_wrong_token_shows_it_and_does_not_hammer() -> None:
    a = mesh_daemon("alpha", listen=False)
    b = mesh_daemon("beta")
    assert b.port
    with proxies(b.port) as (wire,), running(b):
        add_peer(b, "alpha", NOBODY, "right-token-Hd83kPq0Zw7Xy5Vm")
        add_peer(a, "beta", wire.url, "wrong-token-Jf62nRs1Tu9Gb4Ce")
        register(b, uid(1))
        with running(a):

            def refused_fatally() -> dict[str, Any]:
                peer: dict[str, Any] = a.call("status")["peers"][0]
                return peer if peer["fatal"] else {}

            peer = eventually(refused_fatally, 10, what="alpha to see the refusal")
            assert peer["connected"] is False
            assert peer["lastError"] == f"closed by the peer: {AUTH_REASON} (4001)"
            attempts = wire.accepted
            doctor = {c["check"]: c for c in a.sesh("doctor", "--json").json()}
            assert doctor["peer beta"]["status"] == "fail"
            assert a.call("replica") == []  # nothing accepted from the refused link
            time.sleep(scaled(3))  # an absence is only seen over time: no retry storm meanwhile
            assert wire.accepted == attempts
            # Fixing the token with the CLI takes effect at once, without a restart.
            fixed = a.sesh("peer", "add", "beta", wire.url, "--token", "right-token-Hd83kPq0Zw7Xy5Vm")
            assert fixed.code == 0 and fixed.out == f"updated peer beta ({wire.url})\n"
            wait_converged(a, b, timeout=10)
            assert wire.accepted == attempts + 1


def rpc_answer(ws: ClientConnection, call_id: str) -> dict[str, Any]:
    """The owner's reply to our rpc-call `call_id`, skipping the catch-up frames before it."""
    for _ in range(MAX_FRAMES_AFTER_HELLO):
        frame = json.loads(ws.recv(timeout=10))
        if frame.get("t") == "rpc-reply" and frame.get("id") == call_id:
            answer: dict[str, Any] = json.loads(frame["data"])
            return answer
    raise AssertionError(f"no rpc-reply for {call_id} within {MAX_FRAMES_AFTER_HELLO} frames")


@pytest.mark.parametrize(
    ("op", "args"),
    [
        ("daemon-stop", {}),
        ("peers-reload", {}),
        ("report", {"state": "busy", "uuid": "x"}),
        ("forward", {"machine": "beta", "op": "daemon-stop"}),
        ("forward-stream", {"machine": "beta", "op": "daemon-stop"}),
        ("on-machine", {"machine": "beta", "op": "daemon-stop"}),
        ("on-machine", {"op": "daemon-stop"}),
        ("forward", {"machine": "beta", "op": "on-machine", "args": {"op": "daemon-stop"}}),
    ],
)
def test_a_peer_cannot_run_a_local_only_op_directly_or_wrapped(beta: Daemon, op: str, args: dict[str, Any]) -> None:
    with dial(beta) as ws:
        ws.send(hello())
        assert json.loads(ws.recv(timeout=10))["t"] == "hello"
        ws.send(json.dumps({"t": "rpc-call", "id": "c1", "key": uid(7), "op": op, "args": args, "ctx": {}}))
        answer = rpc_answer(ws, "c1")
    assert answer["ok"] is False, answer
    assert "cannot" in answer["error"]["what"], answer
    # Nothing ran: the daemon still serves, and peers-reload did not rewrite its peer list.
    time.sleep(0.3)
    assert beta.call("ping")["machine"] == "beta"
    assert beta.process is not None and beta.process.poll() is None
