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

FIRST_STEPS = """first steps:
  sesh init --machine laptop   name this machine (writes $SESH_HOME/config.toml)
  sesh doctor                  check the setup: ok/warn/fail per check, each with its fix
  sesh tui                     every session on every machine; Enter prints it, --enter enters it
  sesh new --agent claude      start an agent in a new tmux window, registered from birth"""
"""What `sesh --help` shows first, before the command groups (as the original sesh does)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        from sesh_mesh.errors import UsageError

        raise UsageError(message, f"see `{self.prog} --help`")

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """An unknown command is one `sesh:` line naming the nearest command, exit 2."""
        if isinstance(action, argparse._SubParsersAction) and value not in action.choices:
            import difflib

            from sesh_mesh.errors import UsageError

            command = f"{self.prog} {value}".split(" ", 1)[1]
            nearest = difflib.get_close_matches(str(value), list(action.choices), n=1)
            hint = f"did you mean `{self.prog} {nearest[0]}`? " if nearest else ""
            raise UsageError(f"unknown command {command!r}", f"{hint}see `{self.prog} --help`")
        super()._check_value(action, value)


class RootParser(Parser):
    """`sesh` itself: its help shows the first steps, then the commands group by group."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sections: list[tuple[str, list[str]]] = []
        """(title, command names) in the order `sesh --help` lists them."""

    def format_help(self) -> str:
        formatter = self._get_formatter()
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups)
        formatter.add_text(self.description)
        formatter.add_text(FIRST_STEPS)
        commands = {
            pseudo.dest: pseudo
            for action in self._actions
            if isinstance(action, argparse._SubParsersAction)
            for pseudo in action._get_subactions()
        }
        sections = [*self.sections, ("other commands", list(commands))]
        for title, names in sections:
            shown = [commands.pop(name) for name in names if name in commands]
            if shown:
                formatter.start_section(title)
                formatter.add_arguments(shown)
                formatter.end_section()
        for group in self._action_groups:
            flags = [a for a in group._group_actions if not isinstance(a, argparse._SubParsersAction)]
            if flags:
                formatter.start_section(group.title)
                formatter.add_arguments(flags)
                formatter.end_section()
        formatter.add_text(self.epilog)
        return formatter.format_help()


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


def root_parser() -> tuple[RootParser, Commands]:
    """The `sesh` parser without commands, and the adder the groups register theirs with."""
    root = RootParser(
        prog="sesh",
        description="sesh: every coding-agent session (claude, codex, pi) on every machine, from tmux.",
        epilog="examples:\n  sesh list\n  sesh info a808 --json\n  sesh daemon status\n\n" + EPILOG_COMMON,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global_flags(root, suppress=False)
    root.add_argument("--version", action="store_true", help="print the version and exit")
    return root, Commands(root.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser), root.sections)


class Commands:
    """Adds commands to one level of the tree (`sesh …`, or the actions of `sesh daemon …`)."""

    def __init__(
        self, subparsers: argparse._SubParsersAction[Parser], sections: list[tuple[str, list[str]]] | None = None
    ) -> None:
        self._subparsers = subparsers
        self._sections = [] if sections is None else sections

    def section(self, title: str) -> None:
        """The commands added from now on are listed under `title` in `sesh --help`."""
        self._sections.append((title, []))

    def add(self, name: str, help_text: str, examples: list[str], func: Handler | None) -> Parser:
        """A command with its examples in the epilog; `func=None` only for a command whose
        actions (see `actions`) carry the handlers."""
        if self._sections:
            self._sections[-1][1].append(name)
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
