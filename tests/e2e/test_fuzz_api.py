"""Property-based fuzz of the local API: generated garbage and near-valid requests (every op of
the op table, arguments of random JSON types, unknown keys) sent to a real daemon's socket. Every
reply is a well-formed `{ok: true, result}` or `{ok: false, error: {what, fix, kind}}`, and the
daemon keeps serving."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import Daemon, uid

UNSAFE = frozenset({
    "daemon-stop",  # a valid reply, and then nothing serves: not what this test is about
    "new", "send", "resume", "stop", "abort", "compact", "pane-keys",  # would drive agents and tmux
    "backup", "copy", "transcript-receive", "adopt-transcript",  # write files where told to
    "autoname", "discover",  # run the agents' CLIs or scan the real home
    "subscribe", "tail",  # streams that end only when the client goes away
    "pane",  # raw bytes, outside the JSON framing
})
"""Ops left out of the fuzz: they reach outside the daemon (agents, files, the terminal)."""

EXAMPLES = 300


def op_schemas() -> dict[str, dict[str, Any]]:
    """Every op's argument schema, from the op table the daemon builds."""
    from sesh_mesh.config import Config
    from sesh_mesh.daemon.main import Daemon as RealDaemon
    from sesh_mesh.store.store import Store

    async def build() -> dict[str, dict[str, Any]]:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            store = await Store.open(home / "store.sqlite", "doc")
            try:
                return RealDaemon(store, home, "doc", Config(path=home / "config.toml"), None).ops.schemas()
            finally:
                await store.close()

    return asyncio.run(build())


SCHEMAS = op_schemas()
SAFE_OPS = sorted(name for name in SCHEMAS if name not in UNSAFE)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
    st.text(max_size=40), st.sampled_from(["", "alpha", "claude", "codex", "pi", "/tmp", uid(1), uid(1)[:8],
                                           "rename", "delete", "\n", "\x1b[2J", "\ud800", "9" * 400]),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=12)


@st.composite
def requests(draw: st.DrawFn) -> Any:
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(json_values)  # not even an object
    op = draw(st.sampled_from(SAFE_OPS) | st.text(max_size=12))
    properties = SCHEMAS.get(op, {}).get("args", {}).get("properties", {})
    keys = draw(st.lists(st.sampled_from(sorted(properties)) if properties else st.text(max_size=8), max_size=5))
    args: dict[str, Any] = {key: draw(json_values) for key in keys}
    if "op" in args and draw(st.booleans()):
        args["op"] = draw(st.sampled_from(SAFE_OPS))  # a wrapper around another safe op
    if draw(st.integers(0, 5)) == 0:
        args[draw(st.text(max_size=8))] = draw(json_values)  # an unknown key
    request: dict[str, Any] = {"op": op, "args": args, "ctx": draw(st.dictionaries(st.text(max_size=6), scalars,
                                                                                     max_size=2))}
    if shape == 1:
        request["args"] = draw(json_values)
    if shape == 2:
        del request[draw(st.sampled_from(["op", "args", "ctx"]))]
    return request


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Daemon]:
    daemon = Daemon("alpha").start()
    try:
        yield daemon
    finally:
        daemon.stop()
        with sqlite3.connect(daemon.home / "store.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        shutil.rmtree(daemon.home, ignore_errors=True)


def well_formed(reply: dict[str, Any]) -> bool:
    if reply.get("ok") is True:
        return "result" in reply
    error = reply.get("error")
    return (reply.get("ok") is False and isinstance(error, dict)
            and all(isinstance(error.get(key), str) and error[key] for key in ("what", "kind"))
            and isinstance(error.get("fix"), str))


def exchange(daemon: Daemon, line: bytes) -> dict[str, Any]:
    """Send one request line; the final reply (stream items before it are checked and skipped)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(20)
        sock.connect(str(daemon.socket))
        sock.sendall(line)
        reader = sock.makefile("rb")
        while True:
            raw = reader.readline()
            assert raw.endswith(b"\n"), f"the daemon closed the connection without a reply to {line[:200]!r}"
            reply: dict[str, Any] = json.loads(raw)
            if "item" in reply and "ok" not in reply:
                continue
            return reply


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(request=requests())
def test_every_generated_request_gets_a_well_formed_reply(fuzzed: Daemon, request: Any) -> None:
    line = json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
    reply = exchange(fuzzed, line)
    assert well_formed(reply), (request, reply)
    if reply["ok"] is False:
        assert "daemon error" not in reply["error"]["what"], (request, reply)  # an unexpected exception
    assert exchange(fuzzed, b'{"op":"ping"}\n')["result"]["machine"] == "alpha"


@settings(max_examples=EXAMPLES // 2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=300).filter(lambda b: b"\n" not in b)
       | st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth))
def test_garbage_lines_get_a_usage_error(fuzzed: Daemon, garbage: bytes) -> None:
    reply = exchange(fuzzed, garbage + b"\n")
    assert well_formed(reply), (garbage, reply)
    assert exchange(fuzzed, b'{"op":"ping"}\n')["result"]["machine"] == "alpha"
