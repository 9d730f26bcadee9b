"""`sesh` entry point: parse, dispatch, and turn every SeshError into one stderr line + exit code."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

from sesh_mesh.cli.context import Context, make_context
from sesh_mesh.cli.parser import Handler, build_parser
from sesh_mesh.errors import ExitCode, NotImplementedYet, SeshError


def _missing(ctx: Context) -> int:
    raise NotImplementedYet(f"sesh {ctx.args.command_name}", "this command lands with a later milestone")


def lazy(target: str) -> Handler:
    """A handler named "module:function", imported only when its command runs (keeps startup lean)."""
    module_name, _, function_name = target.partition(":")

    def run(ctx: Context) -> Any:
        module = importlib.import_module(f"sesh_mesh.cli.{module_name}")
        return getattr(module, function_name)(ctx)

    return run


HANDLERS: dict[str, Handler] = {
    "__missing__": _missing,
    "list": lazy("inventory:cmd_list"),
    "find": lazy("inventory:cmd_find"),
    "info": lazy("inventory:cmd_info"),
    "state": lazy("inventory:cmd_state"),
    "tags": lazy("inventory:cmd_tags"),
    "register": lazy("inventory:cmd_register"),
    "rename": lazy("inventory:cmd_rename"),
    "tag": lazy("inventory:cmd_tag"),
    "untag": lazy("inventory:cmd_untag"),
    "retag": lazy("inventory:cmd_retag"),
    "archive": lazy("inventory:cmd_archive"),
    "unarchive": lazy("inventory:cmd_unarchive"),
    "autoname-toggle": lazy("inventory:cmd_autoname_toggle"),
    "delete": lazy("inventory:cmd_delete"),
    "import": lazy("inventory:cmd_import"),
    "init": lazy("daemon_cmds:cmd_init"),
    "doctor": lazy("daemon_cmds:cmd_doctor"),
    "daemon": lazy("daemon_cmds:cmd_daemon"),
    "peer": lazy("peer_cmds:cmd_peer"),
    "agents": lazy("agents_cmds:cmd_agents"),
    "pane": lazy("agents_cmds:cmd_pane"),
    "pane-resolve": lazy("agents_cmds:cmd_pane_resolve"),
    "pane-capture": lazy("agents_cmds:cmd_pane_capture"),
    "tail": lazy("agents_cmds:cmd_tail"),
    "transcript": lazy("agents_cmds:cmd_transcript"),
    "discover": lazy("agents_cmds:cmd_discover"),
    "new": lazy("control_cmds:cmd_new"),
    "send": lazy("control_cmds:cmd_send"),
    "await": lazy("control_cmds:cmd_await"),
    "abort": lazy("control_cmds:cmd_abort"),
    "compact": lazy("control_cmds:cmd_compact"),
    "stop": lazy("control_cmds:cmd_stop"),
    "pane-keys": lazy("control_cmds:cmd_pane_keys"),
    "delegate": lazy("control_cmds:cmd_delegate"),
    "report": lazy("control_cmds:cmd_report"),
    "tui": lazy("pick_cmds:cmd_tui"),
    "pick": lazy("pick_cmds:cmd_pick"),
    "resume": lazy("pick_cmds:cmd_resume"),
    "backup": lazy("transcript_cmds:cmd_backup"),
    "restore": lazy("transcript_cmds:cmd_restore"),
    "copy": lazy("transcript_cmds:cmd_copy"),
    "autoname": lazy("transcript_cmds:cmd_autoname"),
    "search": lazy("transcript_cmds:cmd_search"),
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
