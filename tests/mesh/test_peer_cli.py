"""`sesh peer add|remove|list`: validation, the file, the JSON shape, live reload, broken files."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator

import pytest

from tests.harness import Daemon
from tests.mesh.helpers import mesh_daemon, running, wait_linked
from tests.polling import eventually

pytestmark = pytest.mark.mesh

TOKEN = "peer-cli-token-0123456789"


@pytest.fixture
def offline() -> Iterator[Daemon]:
    """A configured machine whose daemon is not running (the CLI edits the file alone)."""
    daemon = mesh_daemon("alpha")
    yield daemon
    shutil.rmtree(daemon.home, ignore_errors=True)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["add", "beta", "http://h:1", "--token", TOKEN],
         "sesh: bad peer address 'http://h:1' (write ws://HOST:PORT or wss://HOST:PORT)"),
        (["add", "beta", "ws://h", "--token", TOKEN],
         "sesh: bad peer address 'ws://h' (write ws://HOST:PORT or wss://HOST:PORT)"),
        (["add", "beta", "ws://h:1?token=x", "--token", TOKEN],
         ("sesh: bad peer address 'ws://h:1?token=x': no credentials or query in the URL (URLs end up in logs) "
         "(pass the secret with --token)")),
        (["add", "beta", "ws://h:1"],
         ("sesh: peer add needs --token T, the same secret on both machines "
         "(make one with T=$(sesh peer token); use that value on both sides)")),
        (["add", "beta", "ws://h:1", "--token", "two words"],
         "sesh: the peer token is empty or contains whitespace (use the same non-empty token on both machines)"),
        (["add", "bad name", "ws://h:1", "--token", TOKEN],
         ("sesh: bad peer name 'bad name' (use the peer's machine name: letters, digits, '.', '_' or '-', "
         "starting with a letter or digit)")),
        (["add", "alpha", "ws://h:1", "--token", TOKEN], ("sesh: 'alpha' is this machine's own name "
         "(add the other machine's name)")),
        (["add", "beta"], "sesh: peer add needs a NAME and an ADDRESS (sesh peer add NAME ws://HOST:PORT --token T)"),
        (["remove"], "sesh: peer remove needs exactly one NAME (sesh peer remove NAME)"),
        (["list", "extra"], "sesh: peer list takes no arguments, got 'extra' (sesh peer list [--json])"),
    ],
)
def test_bad_input_is_a_usage_error_and_writes_nothing(offline: Daemon, argv: list[str], line: str) -> None:
    run = offline.sesh("peer", *argv)
    assert (run.code, run.out, run.err) == (2, "", line + "\n")
    assert not (offline.home / "peers.json").exists()


def test_add_list_remove_without_a_daemon(offline: Daemon) -> None:
    added = offline.sesh("peer", "add", "beta", "ws://127.0.0.1:7433", "--token", TOKEN, "--json")
    assert added.code == 0, added.err
    assert added.json() == {"name": "beta", "address": "ws://127.0.0.1:7433", "result": "added"}
    assert added.err == "sesh: note: the daemon is not running; it applies peers.json when it starts\n"
    path = offline.home / "peers.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds tokens
    from_stdin = offline.sesh("peer", "add", "gamma", "wss://gamma.example:443", "--token", "-", stdin=TOKEN + "\n")
    assert from_stdin.code == 0 and from_stdin.out == "added peer gamma (wss://gamma.example:443)\n"
    listed = offline.sesh("peer", "list", "--json")
    assert listed.json() == [
        {"name": "beta", "address": "ws://127.0.0.1:7433", "connected": False, "since": None, "lastContact": None,
         "lastError": None},
        {"name": "gamma", "address": "wss://gamma.example:443", "connected": False, "since": None,
         "lastContact": None, "lastError": None},
    ]
    assert TOKEN not in listed.out + offline.sesh("peer", "list").out
    gone = offline.sesh("peer", "remove", "beta")
    assert (gone.code, gone.out) == (0, "removed peer beta (ws://127.0.0.1:7433)\n")
    missing = offline.sesh("peer", "remove", "beta")
    assert (missing.code, missing.err) == (1, f"sesh: no peer named 'beta' in {path} (see `sesh peer list`)\n")


def test_a_broken_peers_file_is_named_with_its_line(offline: Daemon) -> None:
    path = offline.home / "peers.json"
    path.write_text('{"peers": [\n  {"name": "beta",}\n]}\n')
    run = offline.sesh("peer", "list")
    assert run.code == 1
    assert run.err == (
        f"sesh: {path}: line 2 column 19: Expecting property name enclosed in double quotes "
        "(fix the JSON at that line, or move peers.json away and re-add peers with `sesh peer add`)\n"
    )
    path.write_text('{"peers": [{"name": "beta", "address": "ftp://x:1", "token": "t"}]}')
    run = offline.sesh("peer", "add", "gamma", "ws://h:1", "--token", TOKEN)
    assert run.code == 1
    assert run.err == f"sesh: {path}: peer entry 1: bad peer address 'ftp://x:1' (write ws://HOST:PORT or wss://HOST:PORT)\n"
    with running(offline):  # the daemon starts anyway and says what is wrong
        checks = {c["check"]: c for c in offline.sesh("doctor", "--json").json()}
        assert checks["peers"]["status"] == "fail"
        assert checks["peers"]["detail"] == f"{path}: peer entry 1: bad peer address 'ftp://x:1'"


def test_a_running_daemon_links_and_unlinks_without_a_restart() -> None:
    a, b = mesh_daemon("alpha"), mesh_daemon("beta")
    with running(a, b):
        assert a.sesh("peer", "add", "beta", b.url, "--token", TOKEN).code == 0
        assert b.sesh("peer", "add", "alpha", a.url, "--token", TOKEN).code == 0
        wait_linked(a, "beta")
        listed = a.sesh("peer", "list", "--json").json()
        assert listed[0]["connected"] is True and listed[0]["since"] and listed[0]["lastContact"]
        table = a.sesh("peer", "list").out.splitlines()
        assert table[0].split() == ["NAME", "ADDRESS", "STATE", "SINCE", "LAST", "CONTACT", "LAST", "ERROR"]
        assert table[1].split()[:3] == ["beta", b.url, "connected"]
        assert a.sesh("peer", "remove", "beta").code == 0
        assert a.call("status")["peers"] == []
        eventually(lambda: not b.call("status")["peers"][0]["connected"], 10, what="beta to see the link go")
