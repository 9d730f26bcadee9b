"""The pieces every command group builds its part of the argparse tree from.

A group module declares each of its commands with `Commands.add`, which gives the command its
help layout, the global flags and its handler; `cli.main` assembles the groups into one tree.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sesh_mesh.cli.context import Context

Handler = Callable[["Context"], int]
"""What a command runs: the parsed arguments in a Context in, the exit code out."""

EPILOG_COMMON = "global flags (before or after the command): --json, --socket PATH, --machine NAME"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        from sesh_mesh.errors import UsageError

        raise UsageError(message, f"see `{self.prog} --help`")


def global_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """--json, --socket and --machine; `suppress` on subcommands, so a flag given before the
    command is not reset by the subcommand's default."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="machine-readable output (one JSON document; streams print NDJSON)")
    parser.add_argument("--socket", metavar="PATH", default=default,
                        help="daemon socket (default $SESH_HOME/daemon.sock)")
    parser.add_argument("--machine", metavar="NAME", default=default,
                        help="filter by machine (list/find/tags) or run/spawn on that machine")


def root_parser() -> tuple[Parser, Commands]:
    """The `sesh` parser without commands, and the adder the groups register theirs with."""
    root = Parser(
        prog="sesh",
        description="sesh: every coding-agent session (claude, codex, pi) on every machine, from tmux.",
        epilog="examples:\n  sesh list\n  sesh info a808 --json\n  sesh daemon status\n\n" + EPILOG_COMMON,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global_flags(root, suppress=False)
    root.add_argument("--version", action="store_true", help="print the version and exit")
    return root, Commands(root.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser))


class Commands:
    """Adds commands to one level of the tree (`sesh …`, or the actions of `sesh daemon …`)."""

    def __init__(self, subparsers: argparse._SubParsersAction[Parser]) -> None:
        self._subparsers = subparsers

    def add(self, name: str, help_text: str, examples: list[str], func: Handler | None) -> Parser:
        """A command with its examples in the epilog; `func=None` only for a command whose
        actions (see `actions`) carry the handlers."""
        sub: Parser = self._subparsers.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog="examples:\n" + "\n".join("  " + e for e in examples) + "\n\n" + EPILOG_COMMON,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        global_flags(sub, suppress=True)
        if func is not None:
            sub.set_defaults(func=func)
        return sub

    @staticmethod
    def actions(parent: Parser, dest: str) -> Actions:
        """The required ACTION level under `parent` (`sesh daemon start`)."""
        return Actions(parent.add_subparsers(dest=dest, metavar="ACTION", parser_class=Parser, required=True))


class Actions:
    """Adds the actions of one command: a one-line help each, the global flags and a handler."""

    def __init__(self, subparsers: argparse._SubParsersAction[Parser]) -> None:
        self._subparsers = subparsers

    def add(self, name: str, help_text: str, func: Handler) -> Parser:
        action: Parser = self._subparsers.add_parser(name, help=help_text, description=help_text)
        global_flags(action, suppress=True)
        action.set_defaults(func=func)
        return action
