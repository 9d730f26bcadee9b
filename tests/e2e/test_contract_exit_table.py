"""The exit-code contract, pinned against SKILL.md: the global table, a usage error for every
command the guide lists, and each command-specific code the guide states, run for real.

Each row names the SKILL.md sentence that promises the code, so a change to either the guide
or the behaviour fails here until both agree.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from sesh_mesh.cli.main import build_parser
from sesh_mesh.errors import ExitCode
from tests.harness import REPO, Daemon, base_env, run_sesh, short_home, uid

SKILL = (REPO / "skills" / "sesh-cli" / "SKILL.md").read_text(encoding="utf-8")
FLAT = " ".join(SKILL.split())
"""SKILL.md with its line breaks folded, so a promise may wrap anywhere."""


def leaf_commands() -> list[list[str]]:
    """Every command path of the argparse tree (`["daemon", "start"]`, `["list"]`, …)."""
    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            found.append(path)
            return
        for name, child in subs[0].choices.items():
            walk(child, [*path, name])

    walk(build_parser(), [])
    return [path for path in found if path]


def test_the_global_exit_table_is_the_code_table() -> None:
    sentence = re.search(r"Exit codes: (.*?)\. Exit 0 means", FLAT)
    assert sentence, "SKILL.md lost its exit-code sentence"
    documented = {int(n) for n in re.findall(r"(?:^|; )(\d+) ", sentence.group(1))}
    assert documented == {int(code) for code in ExitCode}, sentence.group(1)


def test_every_listed_command_is_in_the_guide_and_refuses_an_unknown_flag_with_exit_2() -> None:
    env = base_env(short_home(), "alpha")
    commands = leaf_commands()
    assert len(commands) > 40, commands
    for path in commands:
        assert f"sesh {' '.join(path)}" in SKILL, f"SKILL.md does not list sesh {' '.join(path)}"
        done = run_sesh([*path, "--no-such-flag-xyz"], env, timeout=20)
        assert done.code == 2, (path, done)
        assert done.err.count("\n") == 1 and done.err.startswith("sesh: "), (path, done.err)
        assert done.out == "", path


ROWS = [
    # (argv, expected exit, the SKILL.md words that promise it)
    (["info", "ffffffff"], 1, "1 other failure (unknown or ambiguous prefix"),
    (["rename", "ffffffff", "x"], 1, "1 other failure (unknown or ambiguous prefix"),
    (["send", uid(1), "   "], 2, "blank message: `sesh: message is empty (give the text to send)`, exit 2"),
    (["send", "--timeout", "soon", uid(1), "hi"], 2, "bad duration"),
    (["tag", uid(1), "bad tag"], 2, "2 usage error"),
    (["tui", "--cursor", "ffffffff"], 2, "a uuid that names no session is exit 2"),
    (["pick", "--select", "ffffffff"], 3, "3 nothing to pick or no match"),
    (["pane", "--pane", "%999", "--socket-path", "/tmp/sesh-no-such-tmux"], 3,
     "exit 3 and no output when no registered session owns the pane"),
    (["restore", "--from", "/nonexistent/backup.sqlite"], 1, "`sesh: no such backup file F (…)`, exit 1"),
    (["lst"], 2, "An unknown command is exit 2"),
]


@pytest.mark.parametrize(("argv", "code", "promise"), ROWS, ids=[" ".join(r[0]) for r in ROWS])
def test_each_documented_code_is_what_the_command_returns(
    daemon: Daemon, argv: list[str], code: int, promise: str
) -> None:
    assert promise in FLAT, f"SKILL.md no longer says: {promise}"
    done = daemon.sesh(*argv, timeout=30)
    assert done.code == code, done
    if code != 0 and argv[0] != "pane":
        assert done.err.startswith("sesh: ") and done.err.count("\n") == 1, done.err
    if argv[0] == "pane":
        assert done.out == "" and done.err == ""


def test_import_of_nothing_is_exit_1(daemon: Daemon, tmp_path: Path) -> None:
    assert "exit 1 when nothing was imported" in FLAT
    empty = tmp_path / "sessions.json"
    empty.write_text("[]", encoding="utf-8")
    done = daemon.sesh("import", str(empty))
    assert done.code == 1 and done.err.startswith("sesh: nothing imported from "), done


def test_pane_with_the_daemon_down_is_exit_4_and_silent() -> None:
    assert "exit 4 and no output when the daemon is down" in FLAT
    env = base_env(short_home(), "alpha")
    done = run_sesh(["pane", "--pane", "%1", "--socket-path", "/tmp/sesh-no-such-tmux"], env, timeout=20)
    assert (done.code, done.out, done.err) == (4, "", "")


def test_a_command_with_the_daemon_down_is_exit_4() -> None:
    assert "4 daemon unreachable or cannot start" in FLAT
    env = base_env(short_home(), "alpha")
    done = run_sesh(["daemon", "status"], env, timeout=20)
    assert done.code == 4 and done.err.startswith("sesh: the sesh daemon is not running"), done
