"""Exit 0 only when the daemon's reply says it was done.

A daemon that dies mid-request, half a reply, a garbage reply: exit 4 with one `sesh:` line that
says the request may not have been applied, never a traceback and never a quiet 0. A closed
stdout (`sesh list | head -1`) is a quiet success. Under kill -9 with concurrent writers, every
write the CLI acknowledged with exit 0 is in the store afterwards.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import REPO, Daemon, base_env, run_sesh, short_home, uid
from tests.polling import scaled

Answer = Callable[[socket.socket], None]


def _close(conn: socket.socket) -> None:
    conn.close()


def _half(conn: socket.socket) -> None:
    conn.sendall(b'{"ok": true, "resu')
    conn.close()


def _garbage(conn: socket.socket) -> None:
    conn.sendall(b"this is not json\n")


def _list(conn: socket.socket) -> None:
    conn.sendall(b"[1, 2, 3]\n")


def _neither(conn: socket.socket) -> None:
    conn.sendall(b'{"hello": "there"}\n')


def _reset(conn: socket.socket) -> None:
    # SO_LINGER 0: close sends a reset instead of an orderly end of stream.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


@contextlib.contextmanager
def broken_daemon(home: Path, answer: Answer) -> Iterator[None]:
    """A socket at $SESH_HOME/daemon.sock that reads one request line and answers badly."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(home / "daemon.sock"))
    server.listen(4)
    server.settimeout(20)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            conn.makefile("rb").readline()
            answer(conn)
            with contextlib.suppress(OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.close()
        thread.join(5)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (_close, "the daemon closed the connection before answering"),
        (_half, "the daemon's reply was cut off"),
        (_garbage, "the daemon's reply is not JSON"),
        (_list, "the daemon's reply is not a JSON object"),
        (_neither, "the daemon's reply is neither a result nor an error"),
        (_reset, "the daemon"),  # a Unix socket has no reset: it reads as an early close
    ],
)
def test_a_write_without_a_confirming_reply_exits_4_and_says_so(answer: Answer, why: str) -> None:
    home = short_home()
    env = base_env(home, "alpha")
    with broken_daemon(home, answer):
        done = run_sesh(["rename", uid(1), "new-name"], env, timeout=30)
    assert done.code == 4, done
    assert done.out == ""
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sesh: "), done.err
    assert why in lines[0] and "may or may not have been applied" in lines[0], done.err
    assert "Traceback" not in done.err


def test_a_closed_stdout_is_a_quiet_success(daemon: Daemon) -> None:
    entries = [{"uuid": uid(n), "agent": "claude", "machine": daemon.machine, "cwd": "/tmp", "name": f"s{n}"}
               for n in range(1, 801)]
    legacy = daemon.home / "legacy.json"
    legacy.write_text(json.dumps(entries), encoding="utf-8")
    assert daemon.sesh("import", str(legacy)).code == 0
    # 800 records as JSON are far more than a pipe holds: `head` closes it while sesh writes.
    done = subprocess.run(
        f"{sys.executable} -m sesh_mesh list --json | head -c 10 >/dev/null; echo \"status=${{PIPESTATUS[0]}}\"",
        shell=True, executable="/bin/bash", env=daemon.env, capture_output=True, text=True, timeout=60,
        check=False, cwd=REPO,
    )
    assert done.stdout.strip() == "status=0", done
    assert done.stderr == "", done.stderr


@pytest.mark.parametrize("run", range(3))
def test_every_acknowledged_write_survives_kill_9_under_concurrent_writers(daemon: Daemon, run: int) -> None:
    writers = 60
    procs = []
    for n in range(writers):
        agent_id = f"00000000-0000-4000-9000-{run:04d}{n:08d}"
        procs.append((agent_id, subprocess.Popen(
            [sys.executable, "-m", "sesh_mesh", "register", "--agent", "claude", "--cwd", "/tmp", agent_id],
            env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )))
        if n == writers // 2:
            daemon.kill9()  # mid-stream: some writers are in flight; later ones start a new daemon
    outcomes = [(agent_id, proc.wait(60), proc.communicate()) for agent_id, proc in procs]
    try:
        for _, code, (_, err) in outcomes:
            assert "Traceback" not in err, err
            assert code in (0, 1, 4), (code, err)  # 1: a daemon start raced another one
        listed = daemon.sesh("list", "--json")
        assert listed.code == 0, listed
        held = {record.get("agentSessionId") for record in listed.json()}
    finally:
        daemon.sesh("daemon", "stop")
    acknowledged = [agent_id for agent_id, code, _ in outcomes if code == 0]
    assert acknowledged, "no write was acknowledged at all: the test proves nothing"
    missing = [agent_id for agent_id in acknowledged if agent_id not in held]
    assert not missing, f"acknowledged (exit 0) but not in the store after kill -9: {missing}"


def _sesh_bytes(args: list[bytes], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable.encode(), b"-m", b"sesh_mesh", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, errors="replace", timeout=30, check=False)


def test_non_utf8_argument_is_one_usage_line(daemon: Daemon) -> None:
    done = _sesh_bytes([b"rename", uid(1).encode(), b"caf\xff"], daemon.env)
    assert done.returncode == 2, done
    assert done.stderr.startswith("sesh: argument 'caf\\udcff' is not valid UTF-8"), done.stderr
    assert done.stderr.count("\n") == 1


def test_non_utf8_cwd_and_environment_do_not_break_requests(daemon: Daemon, tmp_path: Path) -> None:
    odd_dir = (bytes(tmp_path) + b"/caf\xff").decode("utf-8", "surrogateescape")
    Path(odd_dir).mkdir()
    env = {**daemon.env, "ANTHROPIC_ODD": b"\xff".decode("utf-8", "surrogateescape")}
    done = subprocess.run([sys.executable, "-m", "sesh_mesh", "list", "--json"], env=env, cwd=odd_dir,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done
    assert json.loads(done.stdout) == []


def test_an_unusable_sesh_home_is_one_line_not_a_wait() -> None:
    env = base_env(short_home(), "alpha")
    env["SESH_HOME"] = "/proc/sesh-cannot-live-here"  # not creatable, even for root
    done = run_sesh(["list"], env, timeout=10)
    assert done.code == 1, done
    assert done.err.startswith("sesh: cannot use SESH_HOME /proc/sesh-cannot-live-here: "), done.err
    assert done.err.count("\n") == 1 and "Traceback" not in done.err


def test_stopping_with_an_idle_client_connected_logs_no_error(daemon: Daemon) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle:
        idle.connect(str(daemon.socket))
        assert daemon.process is not None
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(scaled(10)) == 0
    log = (daemon.home / "daemon.log").read_text(encoding="utf-8", errors="replace")
    assert " ERROR " not in log, log[-2000:]
