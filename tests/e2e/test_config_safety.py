"""Config that cannot take the daemon down (issue 11 item 14): `init` puts `machine` where an
uncommented example cannot capture it, a `machine` that fell into a table is named as such,
`daemon restart` checks before it stops anything, and a running daemon's commands report a
broken or restart-only config change once each."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sesh_mesh.config import load_config
from tests.harness import base_env, run_sesh, short_home
from tests.polling import eventually
from tests.transcripts.helpers import machines


@pytest.fixture
def home() -> Iterator[Path]:
    made = short_home()
    yield made
    run_sesh(["daemon", "stop", "--force"], base_env(made, None))
    shutil.rmtree(made, ignore_errors=True)


def uncomment(text: str, table: str) -> str:
    """The init template with one commented example block turned on, as a user would."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"# [{table}]"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip("#\n ")), len(lines))
    return "".join(lines[:start] + [re.sub(r"^# ?", "", line) for line in lines[start:end]] + lines[end:])


def test_init_puts_machine_above_every_example(home: Path) -> None:
    env = base_env(home, None)
    assert run_sesh(["init", "--machine", "laptop"], env).code == 0
    text = (home / "config.toml").read_text()
    first = next(line for line in text.splitlines() if line and not line.startswith("#"))
    assert first == 'machine = "laptop"', "machine must come before the commented tables"
    for table in ("mesh", "autoname", "discover"):
        assert f"# [{table}]" in text, f"init lacks a commented [{table}] example"
        (home / "config.toml").write_text(uncomment(text, table))
        config = load_config(home)
        assert config.machine == "laptop" and table in config.raw, f"uncommenting [{table}] moved machine"


def test_machine_inside_a_table_is_named(home: Path) -> None:
    (home / "config.toml").write_text('[discover]\nauto = false\nmachine = "laptop"\n')
    run = run_sesh(["list"], base_env(home, None))
    assert run.code == 2, run
    assert run.err == (f"sesh: {home}/config.toml: machine = 'laptop' is inside the [discover] table, so this "
                       f"machine has no name (move the machine line above the first [table] line of "
                       f"{home}/config.toml)\n")


def test_restart_checks_first_and_commands_report_once(home: Path) -> None:
    env = base_env(home, None)
    config = home / "config.toml"
    config.write_text('machine = "laptop"\n')
    started = run_sesh(["daemon", "start", "--json"], env)
    assert started.code == 0, started
    pid = started.json()["pid"]
    config.write_text('machine = "laptop"\n[mesh\nlisten = "127.0.0.1:1"\n')
    restart = run_sesh(["daemon", "restart"], env)
    assert restart.code == 2 and "nothing was restarted: the running daemon" in restart.err, restart
    assert f"{config}: " in restart.err and "line 2" in restart.err
    listed = run_sesh(["list", "--json"], env)
    assert listed.code == 0 and listed.json() == [], "a broken edit must not stop the running daemon's answers"
    warnings = [line for line in listed.err.splitlines() if line.startswith("sesh: warning: ")]
    assert len(warnings) == 1 and "keeps the config it started with" in warnings[0], listed.err
    assert run_sesh(["daemon", "status", "--json"], env).json()["pid"] == pid, "the old daemon was stopped"
    # Fixed, but [mesh] changed: that applies only at start, and every command says so.
    config.write_text('machine = "laptop"\n[mesh]\nlisten = "127.0.0.1:1"\n')
    tags = run_sesh(["tags"], env)
    assert tags.code == 0 and tags.err.count("sesh: warning: ") == 1, tags.err
    assert "changed [mesh] since the daemon started" in tags.err and "sesh daemon restart" in tags.err
    config.write_text('machine = "laptop"\n')
    quiet = run_sesh(["tags"], env)
    assert quiet.code == 0 and "warning" not in quiet.err, "nothing to say once the file matches the running daemon"


def test_discover_auto_turns_on_live() -> None:
    with machines("alpha", extra_env={"SESH_TEST_DISCOVER_AUTO_S": "0.5"}) as (alpha,):
        sid, _ = alpha.session([("hello", "ECHO: hello")], register=False)
        assert sid not in alpha.daemon.records(), "adopted with [discover] auto off"
        (alpha.daemon.home / "config.toml").write_text("[discover]\nauto = true\n")
        eventually(lambda: sid in alpha.daemon.records(), timeout=15, what="the edit to turn auto-discovery on")
        listed = alpha.daemon.sesh("list")
        assert "warning" not in listed.err, "[discover] applies live: no restart notice"
