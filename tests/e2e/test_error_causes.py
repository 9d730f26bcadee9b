"""Errors name their cause: a listen address in use, a full disk. One `sesh:` line, never a
traceback or a secondary error that hides the first."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Daemon, uid


@contextlib.contextmanager
def tiny_tmpfs(size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted on a fresh directory; root only, unmounted afterwards."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a tiny tmpfs (a full disk cannot be faked otherwise)")
    where = Path(tempfile.mkdtemp(prefix="shfull", dir="/tmp"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        where.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def fill(path: Path) -> None:
    """Write zeros to `path` until the file system is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)


def test_a_full_disk_says_disk_full_and_loses_nothing(tmp_path: Path) -> None:
    with tiny_tmpfs("2m") as mount:
        daemon = Daemon("alpha", home=mount / "h")
        daemon.home.mkdir()
        daemon.start()
        try:
            for n in range(1, 4):
                assert daemon.sesh("register", uid(n), "--agent", "claude", "--cwd", str(tmp_path)).code == 0
            fill(mount / "filler")
            failures = []
            for n in range(10, 40):  # until SQLite needs a new page
                run = daemon.sesh("register", uid(n), "--agent", "claude", "--name", "x" * 200, "--cwd",
                                  str(tmp_path))
                if run.code != 0:
                    failures.append(run)
                    break
            assert failures, "the full disk never refused a write"
            err = failures[0].err
            assert err.startswith("sesh: disk full"), err
            assert "nothing was changed" in err, err
            assert "rollback" not in err and "Traceback" not in err, err
            (mount / "filler").unlink()
            held = {r["uuid"] for r in daemon.call("list")}
            assert {uid(1), uid(2), uid(3)} <= held
            assert uid(n) not in held
            assert daemon.sesh("register", uid(n), "--agent", "claude", "--cwd", str(tmp_path)).code == 0
        finally:
            daemon.stop()


def test_a_busy_listen_address_is_one_line_naming_the_address_and_the_cause(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        daemon = Daemon("alpha", home=home)
        try:
            run = daemon.sesh("daemon", "start", "--listen", address, timeout=30)
        finally:
            daemon.sesh("daemon", "stop", timeout=30)
    assert run.code != 0
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sesh: "), run.err
    assert address in lines[0] and "address already in use" in lines[0], run.err
    assert "ExceptionGroup" not in run.err and "Traceback" not in run.err and "│" not in run.err
