"""SESH_HOME is private, peer tokens are strong, and `daemon stop --force` kills only a daemon."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sesh_mesh.daemon.peers import check_token
from sesh_mesh.errors import UsageError
from tests.harness import Daemon, base_env, run_sesh, short_home


@pytest.fixture
def loose_home() -> Iterator[Path]:
    """A SESH_HOME that already exists as 0755, as `mkdir` leaves it."""
    home = short_home()
    home.chmod(0o755)
    yield home
    run_sesh(["daemon", "stop", "--force"], base_env(home, "modes"))
    shutil.rmtree(home, ignore_errors=True)


def _readable_by_nobody(path: Path) -> bool:
    probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", str(path)],
                           capture_output=True, check=False)
    return probe.returncode == 0


def test_store_wal_index_and_log_are_private_even_in_a_loose_home(loose_home: Path) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("NOT AVAILABLE: reading as another user needs root and setpriv")
    daemon = Daemon("modes", home=loose_home)
    daemon.start()
    try:
        daemon.call("register", {"agent": "claude", "sessionId": "00000000-0000-4000-8000-000000000001",
                                 "cwd": "/tmp", "name": "private", "tags": []})
        files = [loose_home / name for name in ("store.sqlite", "store.sqlite-wal", "search.sqlite", "daemon.log")]
        files = [path for path in files if path.exists()]
        assert {p.name for p in files} >= {"store.sqlite", "store.sqlite-wal", "daemon.log"}
        assert loose_home.stat().st_mode & 0o777 == 0o700
        for path in files:
            assert path.stat().st_mode & 0o077 == 0, f"{path.name} is {path.stat().st_mode & 0o777:o}"
            assert not _readable_by_nobody(path), f"another user can read {path.name}"
    finally:
        daemon.stop()


def test_doctor_reports_loose_modes(loose_home: Path) -> None:
    env = base_env(loose_home, "modes")
    (loose_home / "config.toml").write_text('machine = "modes"\n')
    (loose_home / "config.toml").chmod(0o644)
    doctor = run_sesh(["doctor", "--json"], env)
    checks = {c["check"]: c for c in json.loads(doctor.out)}
    assert checks["file-modes"]["status"] == "warn"
    assert "config.toml (644)" in checks["file-modes"]["detail"] and "(755)" in checks["file-modes"]["detail"]


def test_a_home_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("NOT AVAILABLE: making a directory another user's needs root")
    home = short_home()
    try:
        os.chown(home, 65534, 65534)
        run = run_sesh(["daemon", "run"], base_env(home, "modes"), timeout=20)
        assert run.code == 1
        assert run.err == (f"sesh: SESH_HOME {home} belongs to uid 65534, not to this user (uid 0) "
                           "(point SESH_HOME at a directory of your own)\n")
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("token", ["the-right-token-0123", "0123456789abcdef0123456789abcde", "ab" * 20,
                                   "a" * 64, "0123456789abcdef" * 2])
def test_weak_tokens_are_refused_naming_sesh_peer_token(token: str) -> None:
    with pytest.raises(UsageError) as refused:
        check_token(token)
    assert refused.value.line() == (
        "sesh: the peer token is too weak: under 128 bits of randomness (at least 22 base64url or 32 hex "
        "characters, not a repeated pattern) (make one with `sesh peer token` and use it on both machines)")


def test_sesh_peer_token_prints_a_strong_token_that_peer_add_takes(tmp_path: Path) -> None:
    home = short_home()
    try:
        env = base_env(home, "alpha")
        made = run_sesh(["peer", "token"], env)
        assert made.code == 0 and made.err == ""
        token = made.out.strip()
        assert len(token) == 43 and check_token(token) == token
        added = run_sesh(["peer", "add", "beta", "ws://127.0.0.1:7433", "--token", "-"], env, stdin=token + "\n")
        assert added.code == 0, added.err
        weak = run_sesh(["peer", "add", "gamma", "ws://127.0.0.1:7434", "--token", "short-token"], env)
        assert weak.code == 2 and "make one with `sesh peer token`" in weak.err
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_stop_force_never_kills_a_process_that_reused_a_stale_pid() -> None:
    home = short_home()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (home / "daemon.lock").write_text(str(sleeper.pid))  # a daemon died; its pid was reused
        run = run_sesh(["daemon", "stop", "--force"], base_env(home, "stale"))
        assert run.code == 1
        assert run.err == (f"sesh: no daemon holds {home / 'daemon.lock'}; the pid {sleeper.pid} in daemon.lock "
                           "is stale and was left alone (nothing to kill)\n")
        assert sleeper.poll() is None, "stop --force killed an unrelated process"
    finally:
        sleeper.kill()
        sleeper.wait()
        shutil.rmtree(home, ignore_errors=True)
