"""SKILL.md moves with the CLI: every command and every long flag of the argparse tree is in it."""

from __future__ import annotations

import argparse
from pathlib import Path

from sesh_mesh.cli.main import build_parser

SKILL = Path(__file__).resolve().parents[2] / "skills" / "sesh-cli" / "SKILL.md"


def _walk(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, list[str]]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                flags = [s for a in sub._actions for s in a.option_strings if s.startswith("--")]
                found.append((f"{prefix} {name}".strip(), flags))
                found += _walk(sub, f"{prefix} {name}")
    return found


def test_every_command_and_flag_is_documented() -> None:
    text = SKILL.read_text()
    missing = []
    for command, flags in _walk(build_parser(), ""):
        if f"sesh {command}" not in text and f"`{command.split()[-1]}`" not in text:
            missing.append(command)
        missing += [f"{command} {flag}" for flag in flags if flag not in text and flag != "--help"]
    assert not missing, f"SKILL.md lacks: {missing}"


def test_help_has_examples_for_every_command() -> None:
    for command, _ in _walk(build_parser(), ""):
        if " " in command:
            continue
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
        assert "examples:" in (sub.epilog or ""), command
