"""`sesh` entry point: assemble the command groups, parse, run the command's handler, and turn
every SeshError into one stderr line + exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from sesh_mesh.cli import (
    agents_cmds,
    control_cmds,
    daemon_cmds,
    event_cmds,
    inventory,
    peer_cmds,
    pick_cmds,
    transcript_cmds,
)
from sesh_mesh.cli.context import make_context
from sesh_mesh.cli.parser import Parser, root_parser
from sesh_mesh.errors import ExitCode, SeshError, UsageError

GROUPS = (inventory, daemon_cmds, control_cmds, agents_cmds, peer_cmds, pick_cmds, transcript_cmds, event_cmds)
"""Every command group, in the order `sesh --help` lists their commands."""

GROUP_TITLES = {
    inventory: "read and organise sessions",
    daemon_cmds: "setup and the daemon",
    control_cmds: "talk to agents and spawn them",
    agents_cmds: "agents, panes and transcripts",
    peer_cmds: "mesh",
    pick_cmds: "picker and manager",
    transcript_cmds: "transcripts (backup, restore, copy, autoname, search)",
    event_cmds: "events, hooks and notifications",
}
"""The heading of each group's commands in `sesh --help`."""


def build_parser() -> Parser:
    root, commands = root_parser()
    for group in GROUPS:
        commands.section(GROUP_TITLES.get(group, group.__name__.rsplit(".", 1)[-1]))
        group.register(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    try:
        _check_utf8(sys.argv[1:] if argv is None else argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.version:
            from sesh_mesh import __version__

            sys.stdout.write(f"sesh {__version__}\n")
            return 0
        handler = getattr(args, "func", None)
        if handler is None:
            parser.print_help()
            return int(ExitCode.USAGE)
        return int(handler(make_context(args)))
    except SeshError as exc:
        sys.stderr.write(exc.line() + "\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.CANCELLED)
    except BrokenPipeError:
        # Only our own stdout can raise this here (a lost daemon connection is an InDoubt
        # SeshError, exit 4): `sesh list | head -1` closed it, which is a quiet success.
        # Point stdout at /dev/null so the interpreter's final flush cannot complain.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _check_utf8(argv: Sequence[str]) -> None:
    """Arguments travel to the daemon as JSON text: bytes that are not UTF-8 are refused here."""
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"argument {arg!r} is not valid UTF-8", "pass names, messages and paths as UTF-8") \
                from None
