"""`sesh` entry point: parse, dispatch, and turn every SeshError into one stderr line + exit code."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from sesh_mesh.cli import daemon_cmds, inventory
from sesh_mesh.cli.context import Context, make_context
from sesh_mesh.cli.parser import Handler, build_parser
from sesh_mesh.errors import ExitCode, NotImplementedYet, SeshError


def _missing(ctx: Context) -> int:
    raise NotImplementedYet(f"sesh {ctx.args.command_name}", "this command lands with a later milestone")


HANDLERS: dict[str, Handler] = {
    "__missing__": _missing,
    "list": inventory.cmd_list,
    "find": inventory.cmd_find,
    "info": inventory.cmd_info,
    "state": inventory.cmd_state,
    "tags": inventory.cmd_tags,
    "register": inventory.cmd_register,
    "rename": inventory.cmd_rename,
    "tag": inventory.cmd_tag,
    "untag": inventory.cmd_untag,
    "retag": inventory.cmd_retag,
    "archive": inventory.cmd_archive,
    "unarchive": inventory.cmd_unarchive,
    "autoname-toggle": inventory.cmd_autoname_toggle,
    "delete": inventory.cmd_delete,
    "import": inventory.cmd_import,
    "init": daemon_cmds.cmd_init,
    "doctor": daemon_cmds.cmd_doctor,
    "daemon": daemon_cmds.cmd_daemon,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser(HANDLERS)
        args = parser.parse_args(argv)
        if args.version:
            from sesh_mesh import __version__

            sys.stdout.write(f"sesh {__version__}\n")
            return 0
        if not getattr(args, "command", None):
            parser.print_help()
            return int(ExitCode.USAGE)
        return int(args.handler(make_context(args)))
    except SeshError as exc:
        sys.stderr.write(exc.line() + "\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.CANCELLED)
    except BrokenPipeError:
        return 0
