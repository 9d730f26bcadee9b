"""Every command of the argparse tree runs a handler of its own group: a command declared without
one fails here, not at the user's prompt."""

from __future__ import annotations

import argparse

from sesh_mesh.cli.main import GROUPS, build_parser


def _leaves(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(path, parser)]
    return [leaf for sub in subs for name, child in sub.choices.items() for leaf in _leaves(child, f"{path} {name}")]


def test_every_command_has_a_handler_from_its_group() -> None:
    leaves = _leaves(build_parser(), "sesh")
    assert len(leaves) > 40
    group_names = {group.__name__ for group in GROUPS}
    for path, parser in leaves:
        handler = parser.get_default("func")
        assert callable(handler), f"{path} has no handler"
        assert handler.__module__ in group_names, f"{path} runs {handler.__module__}.{handler.__name__}"


def test_dispatch_needs_no_handler_table() -> None:
    parsed = build_parser().parse_args(["daemon", "status", "--json"])
    assert (parsed.func.__name__, parsed.json) == ("daemon_status", True)
