"""The scripted contract pinned against SKILL.md: pane-resolve's JSON shape and exit codes, pick's
JSON shape, and pane-capture's last N lines — with a real daemon and fake agents in a real tmux.

The documented fields are parsed out of SKILL.md, so the guide and the code cannot drift apart.
A fake agent is a shell script named `claude`: the kernel names the process after the script, which
is all the daemon's pane scan needs to recognise claude (its conversation id comes from argv).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.errors import DaemonUnreachable, NotFound, Unresolved, from_wire
from tests.harness import Daemon, Run, short_home
from tests.polling import eventually
from tests.tmux_helpers import PrivateTmux

SKILL = Path(__file__).resolve().parents[2] / "skills" / "sesh-cli" / "SKILL.md"
SID = "c0ffee00-0000-4000-8000-000000000001"

FAKE_CLAUDE = """#!/bin/sh
i=1
while [ "$i" -le 200 ]; do echo "numbered line $i"; i=$((i + 1)); done
while :; do sleep 1; done
"""

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


# ---- what SKILL.md says ------------------------------------------------------------------------


def skill_paragraph(anchor: str) -> str:
    """The bullet or paragraph of SKILL.md that holds `anchor`, on one line."""
    text = SKILL.read_text()
    start = text.index(anchor)
    begin = max(text.rfind("\n- ", 0, start), text.rfind("\n\n", 0, start)) + 1
    ends = [i for i in (text.find("\n- ", start), text.find("\n\n", start)) if i != -1]
    return " ".join(text[begin:min(ends)].split())


def parse_shape(text: str) -> dict[str, Any]:
    """`{a, b, t: {x, y}, c}` → {"a": None, "b": None, "t": {"x": None, "y": None}, "c": None}, in order."""
    position = 0

    def obj() -> dict[str, Any]:
        nonlocal position
        assert text[position] == "{", text
        position += 1
        shape: dict[str, Any] = {}
        while text[position] != "}":
            match = re.compile(r"\s*([A-Za-z_]+)\s*(:\s*)?").match(text, position)
            assert match, f"cannot read a field at {text[position:]!r}"
            position = match.end()
            shape[match.group(1)] = obj() if match.group(2) else None
            position = re.compile(r"\s*,?\s*").match(text, position).end()  # type: ignore[union-attr]
        position += 1
        return shape

    return obj()


def keys_of(value: dict[str, Any], shape: dict[str, Any]) -> dict[str, Any]:
    """`value`'s keys in `shape`'s form: nested dicts where the shape nests."""
    return {key: keys_of(value[key], shape[key]) if isinstance(shape.get(key), dict) else None for key in value}


def documented_pane_resolve() -> tuple[dict[str, Any], dict[int, str]]:
    paragraph = skill_paragraph("`sesh pane-resolve` prints")
    shape = re.search(r"`--json`: `(\{.*?\})`", paragraph)
    assert shape, paragraph
    exits = re.search(r"Exit (0 [^.]*)\.", paragraph)
    assert exits, paragraph
    codes = {int(code): meaning.strip() for code, meaning in re.findall(r"(\d+) ([^;]+)", exits.group(1))}
    return parse_shape(shape.group(1)), codes


def documented_pick_json() -> dict[str, Any]:
    paragraph = skill_paragraph("`sesh pick` (and plain `sesh tui`)")
    order = re.search(r"in the order ([a-z_, ]+?);", paragraph)
    assert order, paragraph
    flat = [key.strip() for key in order.group(1).split(",")]
    derived: dict[str, Any] = {}
    for key in flat:
        if key.startswith("tmux_"):
            derived.setdefault("tmux", {})[key.removeprefix("tmux_")] = None
        else:
            derived[key] = None
    stated = re.search(r"one object `(\{.*?\})`", paragraph)
    if stated:
        assert list(parse_shape(stated.group(1)).items()) == list(derived.items()), "json and kv orders disagree"
    return derived


def test_unresolved_keeps_exit_4_across_the_wire_and_is_not_daemon_down() -> None:
    error = from_wire(Unresolved("the claude agent in pane %1 has no conversation id yet").to_wire())
    assert isinstance(error, Unresolved) and not isinstance(error, DaemonUnreachable)
    assert error.exit_code == 4 and from_wire(NotFound("x").to_wire()).exit_code == 3


def test_the_shape_parser_reads_nested_objects() -> None:
    assert parse_shape("{a, tmux: {socket, pane}, b}") == {"a": None, "tmux": {"socket": None, "pane": None},
                                                           "b": None}


# ---- the bed: one daemon scanning one private tmux server -----------------------------------------


@dataclass
class Bed:
    daemon: Daemon
    tmux: PrivateTmux
    root: Path
    fake: Path

    @property
    def socket(self) -> str:
        assert self.tmux.socket_path is not None
        return str(self.tmux.socket_path)

    def window(self, *command: str) -> str:
        return self.tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-t", "test", "-c", str(self.root),
                             "--", *command).strip()

    def resolve(self, pane: str, *flags: str) -> Run:
        return self.daemon.sesh("pane-resolve", "--pane", pane, "--socket-path", self.socket, *flags)


@pytest.fixture
def bed() -> Iterator[Bed]:
    root = short_home("ct")
    fake = root / "bin" / "claude"
    fake.parent.mkdir()
    fake.write_text(FAKE_CLAUDE)
    fake.chmod(0o755)
    claude_dir = root / "claude-config"
    claude_dir.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "CLAUDE_CONFIG_DIR": str(claude_dir)}
    tmux = PrivateTmux()
    try:
        tmux.new_session(["sh"], env, root)
        assert tmux.socket_path is not None
        daemon = Daemon("alpha", extra_env={"SESH_TMUX_SOCKETS": str(tmux.socket_path),
                                            "CLAUDE_CONFIG_DIR": str(claude_dir)}).start()
        try:
            yield Bed(daemon, tmux, root, fake)
        finally:
            daemon.stop()
            shutil.rmtree(daemon.home, ignore_errors=True)
    finally:
        tmux.kill_server()
        shutil.rmtree(root, ignore_errors=True)


# ---- pane-resolve --------------------------------------------------------------------------------


def test_pane_resolve_json_shape_and_exit_codes_match_skill_md(bed: Bed) -> None:
    shape, codes = documented_pane_resolve()
    assert set(codes) == {0, 3, 4}, codes
    assert "no agent" in codes[3] and "cannot be resolved" in codes[4], codes
    shell = bed.tmux.run("list-panes", "-t", "test:0", "-F", "#{pane_id}").split()[0]
    unnamed = bed.window(str(bed.fake))
    named = bed.window(str(bed.fake), "--session-id", SID)

    def resolved() -> Run | None:
        run = bed.resolve(named, "--json")
        return run if run.code == 0 else None

    found = eventually(resolved, timeout=20, what="pane-resolve to find the fake claude").json()
    assert keys_of(found, shape) == shape, f"SKILL.md documents {shape}, pane-resolve prints {found}"
    assert found["uuid"] == SID and found["agent"] == "claude" and found["registered"] is False
    assert (found["machine"], found["cwd"], found["agentSessionId"]) == ("alpha", str(bed.root), SID)
    assert found["tmux"]["pane"] == named and found["tmux"]["socket"] == bed.socket
    plain = bed.resolve(named)
    assert (plain.code, plain.out) == (0, SID + "\n")

    no_agent = bed.resolve(shell)
    assert (no_agent.code, no_agent.out) == (3, ""), no_agent.err
    assert no_agent.err.startswith(f"sesh: no agent is live in pane {shell}")
    unresolved = bed.resolve(unnamed, "--json")
    assert (unresolved.code, unresolved.out) == (4, ""), unresolved.err
    assert unresolved.err == (f"sesh: the claude agent in pane {unnamed} has no conversation id yet "
                              "(send it a first message, then retry)\n")

    assert bed.daemon.sesh("register", SID, "--agent", "claude", "--cwd", str(bed.root)).code == 0

    def registered() -> dict[str, Any] | None:
        shown = bed.resolve(named, "--json").json()
        return shown if shown["registered"] else None

    owned = eventually(registered, timeout=20, what="pane-resolve to see the registered session")
    assert keys_of(owned, shape) == shape and owned["uuid"] == SID


# ---- pick --select --format json -----------------------------------------------------------------


def test_pick_json_shape_matches_skill_md(bed: Bed) -> None:
    shape = documented_pick_json()
    assert bed.daemon.sesh("register", SID, "--agent", "claude", "--name", "picked", "--cwd", str(bed.root)).code == 0
    run = bed.daemon.sesh("pick", "--select", SID[:8], "--format", "json")
    assert run.code == 0, run.err
    picked = run.json()
    assert list(keys_of(picked, shape).items()) == list(shape.items()), f"SKILL.md {shape}, pick {picked}"
    assert (picked["uuid"], picked["name"], picked["action"]) == (SID, "picked", "resume")


# ---- pane-capture -n -----------------------------------------------------------------------------


def test_pane_capture_prints_the_last_n_lines_scrollback_included(bed: Bed) -> None:
    pane = bed.window(str(bed.fake), "--session-id", SID)
    assert bed.daemon.sesh("register", SID, "--agent", "claude", "--cwd", str(bed.root)).code == 0
    eventually(lambda: bed.daemon.call("info", {"uuid": SID}).get("live"), timeout=20, what="the session live")
    bed.tmux.wait_for_text(pane, "numbered line 200")
    visible = bed.tmux.capture(pane).rstrip("\n").splitlines()
    assert "numbered line 120" not in visible, "the test needs lines scrolled off the visible screen"
    last = bed.daemon.sesh("pane-capture", SID, "-n", "120")
    assert last.code == 0, last.err
    assert last.out.splitlines() == [f"numbered line {i}" for i in range(81, 201)]
    default = bed.daemon.sesh("pane-capture", SID[:8])
    assert default.out.splitlines() == [f"numbered line {i}" for i in range(151, 201)]
    screen = bed.daemon.sesh("pane-capture", SID, "-n", "0")
    assert screen.out.rstrip("\n").splitlines() == visible
