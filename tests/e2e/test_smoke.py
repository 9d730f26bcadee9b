from __future__ import annotations

from tests.harness import Daemon

UUID = "0b6c1d2e-9f7a-4c1b-8d2e-1f2a3b4c5d6e"


def test_register_then_list(daemon: Daemon) -> None:
    run = daemon.sesh("register", UUID, "--agent", "claude", "--name", "auth", "--cwd", "/tmp")
    assert run.code == 0, run.err
    listed = daemon.sesh("list", "--json").json()
    assert [r["uuid"] for r in listed] == [UUID]
    assert listed[0]["machine"] == "alpha"
