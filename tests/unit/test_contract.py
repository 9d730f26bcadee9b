"""The original sesh-cli contract, pinned: the glyph table, the picker's emit default, and the
JSON shapes SKILL.md documents for `pane --json` and `info --json` (read out of SKILL.md, so the
test fails when the guide and the code disagree). Scripts written for the original rely on these.

Pane-resolve's and pick's JSON shapes and exit codes are pinned by their own tests
(`test_contract_pane_resolve_*`, `test_contract_pick_*`), kept apart from these."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, cast

import pytest

from sesh_mesh.cli.main import build_parser
from sesh_mesh.daemon.agent_ops import AgentOps
from sesh_mesh.glyphs import glyph
from tests.harness import Daemon

SKILL = (Path(__file__).resolve().parents[2] / "skills" / "sesh-cli" / "SKILL.md").read_text()
UUID = "0b6c1d2e-9f7a-4c1b-8d2e-1f2a3b4c5d61"
SOCKET = "/tmp/tmux-1000/default"
LOCATION = {"socket": SOCKET, "session": "work", "window": "@1", "pane": "%1"}

# (live, turnStatus, needsInput) -> glyph, as in the original: ● live and idle (waiting for you),
# ◐ busy (a headless turn is busy without a pane), ○ not live; `!` when the agent waits on a prompt.
GLYPH_TABLE = [
    (True, "idle", False, "●"),
    (True, "idle", True, "●!"),
    (True, "busy", False, "◐"),
    (True, "busy", True, "◐!"),
    (True, "unknown", False, "●"),
    (True, "unknown", True, "●!"),
    (False, "idle", False, "○"),
    (False, "idle", True, "○!"),
    (False, "busy", False, "◐"),
    (False, "busy", True, "◐!"),
    (False, "unknown", False, "○"),
    (False, "unknown", True, "○!"),
]


def _record(**state: Any) -> dict[str, Any]:
    return {"uuid": UUID, "agentSessionId": UUID, "name": "auth-refactor", "agent": "claude", "machine": "alpha",
            "cwd": "/srv/app", "tmux": LOCATION, "archived": False, "tags": ["work"], **state}  # fmt: skip


def _status_line(record: dict[str, Any], *, as_json: bool = False) -> bytes:
    """The daemon's `sesh pane` answer for a pane owned by `record`, from its in-memory tables."""
    ops = AgentOps.__new__(AgentOps)
    ops.watcher = cast(Any, argparse.Namespace(pane_owner={(SOCKET, "%1"): UUID}))
    ops.sessions = cast(Any, {UUID: record})
    return ops.raw_pane({"op": "pane", "socket": SOCKET, "pane": "%1", "json": as_json})


def _documented_fields(text: str) -> list[str]:
    """The backticked field names of a documented shape: `{a, b, c}` or `a`, `b` … prose."""
    braces = re.fullmatch(r"\s*`\{([^}]*)\}`\s*", text)
    if braces:
        return [name.strip() for name in braces.group(1).split(",")]
    return [name for name in re.findall(r"`([^`]*)`", text) if re.fullmatch(r"[A-Za-z]+", name)]


# ---- glyphs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("live", "status", "needs_input", "expected"), GLYPH_TABLE)
def test_contract_glyph_table(live: bool, status: str, needs_input: bool, expected: str) -> None:
    record = _record(live=live, turnStatus=status, needsInput=needs_input)
    assert glyph(record) == expected
    assert _status_line(record) == f"0{expected} auth-refactor · claude\n".encode()


def test_contract_glyphs_as_skill_documents_them() -> None:
    line = next(line for line in SKILL.splitlines() if line.startswith("Glyphs:"))
    assert "`●` live and idle" in line and "`◐` busy" in line and "`○` not live" in line, line


# ---- the picker's emit default ----------------------------------------------------------------


@pytest.mark.parametrize("command", ["pick", "tui"])
def test_contract_pick_and_tui_emit_json_by_default(command: str) -> None:
    assert build_parser().parse_args([command]).format == "json"
    assert "`--format json|kv|nul` (default json" in SKILL


# ---- JSON shapes SKILL.md documents ----------------------------------------------------------


def test_contract_pane_json_shape_is_what_skill_documents() -> None:
    documented = re.search(r"`sesh pane` is built for.*?`--json` prints\s+(`\{[^}]*\}`)", SKILL, re.DOTALL)
    assert documented, "SKILL.md no longer documents `sesh pane --json`"
    fields = _documented_fields(documented.group(1))
    record = _record(live=True, turnStatus="idle", needsInput=False, summary="s", contextPct=12)
    answer = _status_line(record, as_json=True)
    assert answer[:1] == b"0" and answer.endswith(b"\n")
    shaped = json.loads(answer[1:])
    assert list(shaped) == fields
    assert shaped["tmux"] == LOCATION and shaped["uuid"] == UUID and shaped["live"] is True


def test_contract_info_json_shape_is_what_skill_documents(daemon: Daemon, tmp_path: Path) -> None:
    documented = re.search(r"The record \(`info --json`\):(.*?)\(the machine that wrote this version\)",
                           SKILL, re.DOTALL)  # fmt: skip
    assert documented, "SKILL.md no longer lists the record's fields after 'The record (`info --json`):'"
    fields = _documented_fields(documented.group(1))
    run = daemon.sesh("register", UUID, "--agent", "claude", "--name", "auth", "--tag", "work", "--cwd", str(tmp_path))
    assert run.code == 0, run.err
    shown = daemon.sesh("info", UUID[:6], "--json")
    assert shown.code == 0, shown.err
    record = json.loads(shown.out)
    assert sorted(record) == sorted(fields), (
        f"undocumented: {sorted(set(record) - set(fields))}; documented but absent: {sorted(set(fields) - set(record))}"
    )
    assert list(record)[: len(fields) - 1] == fields[:-1], "the wire order SKILL.md lists (origin comes last)"


# ---- syntax: help and unknown commands ---------------------------------------------------------


def test_contract_help_starts_with_first_steps_then_groups(capsys: pytest.CaptureFixture[str]) -> None:
    from sesh_mesh.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    steps = shown.index("first steps:")
    init, doctor, tui, new = (shown.index(f"  sesh {step}") for step in ("init", "doctor", "tui", "new"))
    assert steps < init < doctor < tui < new
    first_group = shown.index("read and organise sessions:\n  list ")
    assert new < first_group < shown.index("picker and manager:\n  tui ") < shown.index("options:")
    assert "COMMAND\n" not in shown, "commands are listed group by group, not in one flat list"


@pytest.mark.parametrize(("argv", "line"), [
    (["lst"], "sesh: unknown command 'lst' (did you mean `sesh list`? see `sesh --help`)\n"),
    (["daemon", "strat"], ("sesh: unknown command 'daemon strat' (did you mean `sesh daemon start`? "
                           "see `sesh daemon --help`)\n")),
    (["zzzzqq"], "sesh: unknown command 'zzzzqq' (see `sesh --help`)\n"),
])  # fmt: skip
def test_contract_unknown_command_names_the_nearest(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sesh_mesh.cli.main import main

    assert main(argv) == 2
    assert capsys.readouterr() == ("", line)
