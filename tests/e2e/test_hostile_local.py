"""Hostile input at the local doors: the Unix socket, peers.json, names and flags. Each gets a
one-line refusal, never a traceback, and the daemon keeps serving."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.config import check_machine_name
from sesh_mesh.daemon.peers import PeersFileError, check_name, load_peers
from sesh_mesh.errors import UsageError
from tests.harness import Daemon, uid

DEEP = 100_000
"""Far past Python's recursion limit: json.loads alone raises RecursionError on it."""


def raw_request(daemon: Daemon, line: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(daemon.socket))
        sock.sendall(line)
        reply = sock.makefile("rb").readline()
    answer: dict[str, Any] = json.loads(reply)
    return answer


@pytest.mark.parametrize("depth", [65, DEEP])
def test_deeply_nested_json_on_the_socket_is_a_one_line_refusal(daemon: Daemon, depth: int) -> None:
    for line in (b"[" * depth + b"]" * depth, b'{"op":"list","args":{"machine":' + b"[" * depth + b"]" * depth + b"}}"):
        answer = raw_request(daemon, line + b"\n")
        assert answer["ok"] is False
        assert answer["error"]["what"] == "malformed request: nested deeper than 64 levels", answer
    assert daemon.call("ping")["machine"] == "alpha"
    assert "Traceback" not in daemon.log_tail(200)


def test_deeply_nested_peers_json_is_a_clear_error(home: Path) -> None:
    (home / "peers.json").write_text('{"peers": ' + "[" * DEEP + "]" * DEEP + "}")
    with pytest.raises(PeersFileError) as refused:
        load_peers(home)
    assert refused.value.what == f"{home / 'peers.json'}: nested deeper than 64 levels"


@pytest.mark.parametrize("name", ["alpha\n", "alpha\r\n", "\nalpha", "al\npha"])
def test_machine_and_peer_names_may_not_end_in_a_newline(name: str) -> None:
    with pytest.raises(UsageError):
        check_machine_name(name, "SESH_MACHINE")
    with pytest.raises(UsageError):
        check_name(name)


def test_an_empty_cwd_is_a_usage_error(daemon: Daemon, tmp_path: Path) -> None:
    run = daemon.sesh("register", uid(1), "--agent", "claude", "--cwd", "", cwd=tmp_path)
    assert run.code == 2, (run.code, run.out, run.err)
    assert run.err.startswith("sesh: --cwd is empty"), run.err
    assert "Traceback" not in run.err
    assert daemon.call("list") == []


def test_a_subscriber_that_stops_reading_holds_one_pending_version_per_session(daemon: Daemon,
                                                                              tmp_path: Path) -> None:
    daemon.call("register", {"agent": "claude", "sessionId": uid(1), "cwd": str(tmp_path)})
    session = daemon.call("list")[0]["uuid"]
    writes = 2000
    with socket.socket(socket.AF_UNIX) as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(str(daemon.socket))
        stalled.sendall(b'{"op":"subscribe","args":{},"ctx":{}}\n')
        client = daemon.client()
        for n in range(writes):  # the subscriber reads nothing meanwhile (a suspended TUI)
            client.call("mutate", {"uuid": session, "op": "rename", "args": {"name": f"name-{n}"}})
        stalled.settimeout(10)
        reader = stalled.makefile("rb")
        delivered: list[str] = []
        while not delivered or delivered[-1] != f"name-{writes - 1}":
            line = json.loads(reader.readline())
            delivered += [r["name"] for r in line["item"]["changes"] if r["uuid"] == session]
    # What the kernel and the transport buffered before the daemon stopped writing, then the
    # latest version only: the versions in between were coalesced, not queued.
    renames = [name for name in delivered if str(name).startswith("name-")]  # not the snapshot's first name
    assert len(renames) < writes // 2, len(renames)
    assert renames == sorted(renames, key=lambda name: int(name.rsplit("-", 1)[1]))
