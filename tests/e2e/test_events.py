"""The event stream between real daemons, a webhook on a loopback HTTP server, and one event log
shared by two daemons (docs/events.md). Agent turns and dialogs: tests/agents_e2e/test_events.py.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh import clock
from tests.harness import Daemon, uid
from tests.mesh.helpers import link, mesh_daemon, register, running, wait_linked
from tests.polling import eventually


def events(daemon: Daemon, **args: Any) -> list[dict[str, Any]]:
    return [v for kind, v in daemon.client().stream("events", {"n": 1000, **args}) if kind == "item"]


def kinds_of(daemon: Daemon, uuid: str) -> list[str]:
    return [e["kind"] for e in events(daemon) if e.get("uuid") == uuid]


class Receiver(http.server.ThreadingHTTPServer):
    """A loopback HTTP server that records every POST; answers `fail_first` of them with 503."""

    def __init__(self, fail_first: int = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            failing = len(self.server.posts) <= self.server.fail_first
        self.send_response(503 if failing else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_posts_the_event_signed_and_retries_a_503(receiver: Receiver) -> None:
    daemon = Daemon("alpha")
    daemon.home.mkdir(parents=True, exist_ok=True)
    (daemon.home / "config.toml").write_text(
        f'[[hooks]]\non = "session-archived"\nurl = "{receiver.url}"\nsecret = "s3cret"\n'
        'headers = { Authorization = "Bearer tok" }\n')
    with running(daemon):
        register(daemon, uid(1), "hooked")
        daemon.call("mutate", {"uuid": uid(1), "op": "archive"})
        eventually(lambda: len(receiver.posts) >= 2, timeout=20, what="the POST and its retry")
        archived = next(e for e in events(daemon) if e["kind"] == "session-archived")
        shown = daemon.sesh("hooks", "--json").json()
        assert [(h["index"], h["on"], h["url"], h["runs"], h["failures"]) for h in shown] == [
            (1, ["session-archived"], receiver.url, 1, 0)], "one run: its first try failed, the retry worked"
    assert len(receiver.posts) == 2, "one 503, then the retry that succeeded; nothing else"
    for headers, body in receiver.posts:
        assert json.loads(body) == archived
        expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["x-sesh-signature-256"] == expected
        assert headers["x-sesh-event"] == "session-archived" and headers["authorization"] == "Bearer tok"
        assert headers["content-type"] == "application/json"
    assert archived["name"] == "hooked" and archived["machine"] == "alpha" and archived["uuid"] == uid(1)


def test_an_event_log_shared_by_two_daemons_stays_json_lines(tmp_path: Path) -> None:
    shared = tmp_path / "events.jsonl"
    count = 400
    daemons = [Daemon(m, extra_env={"SESH_EVENT_LOG": str(shared)}) for m in ("alpha", "beta")]
    with running(*daemons):
        paths = []
        for offset, daemon in enumerate(daemons):
            path = daemon.home / "seed.json"
            path.write_text(json.dumps([
                {"uuid": uid(offset * count + n), "agent": "claude", "machine": daemon.machine, "cwd": "/tmp",
                 "name": f"{daemon.machine}-{n}-" + "x" * 150, "createdAt": clock.now_iso()}
                for n in range(1, count + 1)]))
            paths.append(path)
        # Both daemons write their 400 events at once, into the one file.
        threads = [threading.Thread(target=d.call, args=("import", {"path": str(p)})) for d, p in zip(daemons, paths,
                                                                                                     strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        eventually(lambda: shared.exists() and shared.read_bytes().count(b"\n") >= 2 * count, timeout=30,
                   what="every event in the shared log")
    lines = shared.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the log ends with a whole line"
    parsed = [json.loads(line) for line in lines[:-1]]  # each line is one whole JSON document
    assert len(parsed) == 2 * count
    for machine in ("alpha", "beta"):
        mine = [e for e in parsed if e["seenOn"] == machine]
        assert [e["id"] for e in mine] == list(range(1, count + 1)), f"{machine}'s lines are not all there, in order"
        assert {e["kind"] for e in mine} == {"session-created"} and all(e["machine"] == machine for e in mine)


def test_events_of_a_session_on_a_second_daemon_are_seen_on_the_first() -> None:
    alpha, beta = mesh_daemon("alpha"), mesh_daemon("beta")
    link(alpha, beta)
    with running(alpha, beta):
        wait_linked(alpha, "beta")
        # One change at a time: a peer derives events from the versions it receives, and changes
        # made faster than a push may reach it as one version (docs/events.md).
        register(beta, uid(7), "over-there")
        eventually(lambda: kinds_of(alpha, uid(7)) == ["session-created"], timeout=20, what="created on alpha")
        beta.call("mutate", {"uuid": uid(7), "op": "archive"})
        eventually(lambda: kinds_of(alpha, uid(7))[-1:] == ["session-archived"], timeout=20, what="archived on alpha")
        beta.call("mutate", {"uuid": uid(7), "op": "delete"})
        eventually(lambda: kinds_of(alpha, uid(7)) == ["session-created", "session-archived", "session-deleted"],
                   timeout=20, what="beta's session events on alpha")
        seen = [e for e in events(alpha, machine="beta") if e.get("uuid") == uid(7)]
        assert {(e["machine"], e["seenOn"], e["name"], e["agent"]) for e in seen} == {
            ("beta", "alpha", "over-there", "claude")}
        assert kinds_of(beta, uid(7)) == kinds_of(alpha, uid(7)), "the owner saw the same events"
        up = [e for e in events(alpha, kinds=["peer-up"]) if e["machine"] == "beta"]
        assert up and up[-1]["detail"]["peer"] == "beta"
        cli = alpha.sesh("events", "--json", "--machine", "beta", "--kind", "session-archived")
        assert cli.code == 0, cli.err
        assert [json.loads(line)["uuid"] for line in cli.out.splitlines()] == [uid(7)]
        human = alpha.sesh("events", "--kind", "session-deleted")
        assert human.code == 0 and "session-deleted" in human.out and "over-there (claude@beta)" in human.out
        beta.stop()
        down = eventually(lambda: [e for e in events(alpha, kinds=["peer-down"]) if e["machine"] == "beta"],
                          timeout=30, what="peer-down on alpha after beta stopped")
        assert down[-1]["uuid"] is None and down[-1]["detail"]["peer"] == "beta"


def test_events_refuses_bad_input_in_one_line() -> None:
    with running(Daemon("alpha")) as (daemon,):
        run = daemon.sesh("events", "--kind", "turn-done")
        assert (run.code, run.out) == (2, "")
        assert run.err == ("sesh: unknown event kind 'turn-done' (use one of: session-created, session-deleted, "
                           "session-archived, session-unarchived, turn-started, turn-ended, needs-input, "
                           "agent-exited, peer-up, peer-down)\n")
        run = daemon.sesh("events", "-n", "-1")
        assert (run.code, run.err) == (2, "sesh: -n must be 0 or more (e.g. sesh events -n 20)\n")
        register(daemon, uid(3), "quiet")
        run = daemon.sesh("notify", uid(3)[:8], "--off")
        assert run.code == 0 and run.out == "quiet: notifications off on this machine\n"
        assert "no [notify] table" in run.err
        assert json.loads((daemon.home / "notify.json").read_text()) == {"off": [uid(3)]}
        assert daemon.sesh("notify", uid(3), "--json").json()["notify"] is False
        assert daemon.sesh("notify", uid(3), "--on", "--json").json()["notify"] is True


def test_a_broken_hook_in_config_toml_is_one_line_naming_the_file() -> None:
    daemon = Daemon("alpha")
    daemon.home.mkdir(parents=True, exist_ok=True)
    config = daemon.home / "config.toml"
    config.write_text('[[hooks]]\non = "needs-input"\ncommand = "notify-send hi"\n')
    run = daemon.sesh("list")
    assert (run.code, run.out) == (2, "")
    assert run.err == (f"sesh: {config}: [[hooks]] entry 1.command must be a non-empty list of strings (argv; no "
                       'shell runs it) (write command = ["/path/to/program", "arg"])\n')
    assert not daemon.socket.exists(), "a daemon started with a broken config.toml"
