"""`sesh` entry point: assemble the command groups, parse, run the command's handler, and turn
every SeshError into one stderr line + exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sesh_mesh.cli import (
    agents_cmds,
    control_cmds,
    daemon_cmds,
    inventory,
    peer_cmds,
    pick_cmds,
    transcript_cmds,
)
from sesh_mesh.cli.context import make_context
from sesh_mesh.cli.parser import Parser, root_parser
from sesh_mesh.errors import ExitCode, SeshError

GROUPS = (inventory, daemon_cmds, control_cmds, agents_cmds, peer_cmds, pick_cmds, transcript_cmds)
"""Every command group, in the order `sesh --help` lists their commands."""


def build_parser() -> Parser:
    root, commands = root_parser()
    for group in GROUPS:
        group.register(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    try:
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
        return 0
