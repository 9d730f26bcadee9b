"""The argparse tree: every command, flag and example. SKILL.md is checked against it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

Handler = Callable[..., int]

EPILOG_COMMON = "global flags (before or after the command): --json, --socket PATH, --machine NAME"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        from sesh_mesh.errors import UsageError

        raise UsageError(message, f"see `{self.prog} --help`")


def global_flags(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS if suppress else False,
                        help="machine-readable output (one JSON document; streams print NDJSON)")
    parser.add_argument("--socket", metavar="PATH", default=default,
                        help="daemon socket (default $SESH_HOME/daemon.sock)")
    parser.add_argument("--machine", metavar="NAME", default=default,
                        help="filter by machine (list/find/tags) or run/spawn on that machine")


def build_parser(handlers: dict[str, Handler]) -> Parser:
    root = Parser(
        prog="sesh",
        description="sesh: every coding-agent session (claude, codex, pi) on every machine, from tmux.",
        epilog="examples:\n  sesh list\n  sesh info a808 --json\n  sesh daemon status\n\n" + EPILOG_COMMON,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    global_flags(root, suppress=False)
    root.add_argument("--version", action="store_true", help="print the version and exit")
    subs = root.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(name: str, help_text: str, examples: list[str], aliases: list[str] | None = None) -> Parser:
        sub: Parser = subs.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog="examples:\n" + "\n".join("  " + e for e in examples) + "\n\n" + EPILOG_COMMON,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            aliases=aliases or [],
        )
        global_flags(sub, suppress=True)
        sub.set_defaults(handler=handlers.get(name, handlers["__missing__"]), command_name=name)
        return sub

    # ---- reads
    p = command("list", "list active sessions on every machine", [
        "sesh list", "sesh list --agent claude --tag work", "sesh list --columns uuid,name,status",
        "sesh list --archived --json"])
    p.add_argument("--archived", "--include-archived", action="store_true", dest="archived",
                   help="include archived sessions")
    p.add_argument("--agent", help="only this agent (claude, codex, pi)")
    p.add_argument("--tag", help="only sessions with this tag")
    p.add_argument("--columns", help="print TSV with these columns, no header")

    p = command("find", "every session (archived too) whose uuid or agent id starts with a prefix",
                ["sesh find a808", "sesh find a808 --json"])
    p.add_argument("prefix")

    p = command("info", "the full record of a session (deleted ones too)", ["sesh info a808", "sesh info --json"])
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")

    p = command("state", "turn status and live extras of a session", ["sesh state a808", "sesh state --json"])
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")

    command("tags", "every tag in use across the mesh, with counts", ["sesh tags", "sesh tags --json"])

    # ---- inventory mutations
    p = command("register", "record an already-running agent conversation",
                ["sesh register 0b6c1d2e-9f7a-4c1b-8d2e-1f2a3b4c5d6e --agent claude --name auth --tag work"])
    p.add_argument("session_id", metavar="session-id", help="the agent's own conversation id (a uuid)")
    p.add_argument("--agent", required=True, help="claude, codex or pi")
    p.add_argument("--name", help="display name")
    p.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    p.add_argument("--cwd", help="working directory (default $PWD)")

    p = command("rename", "rename a session (turns autoRename off unless --keep-auto)",
                ["sesh rename a808 auth-refactor", "sesh rename a808 auth --keep-auto"])
    p.add_argument("uuid")
    p.add_argument("name")
    p.add_argument("--keep-auto", action="store_true", help="keep automatic renaming on")

    for verb, text in (("tag", "add tags to a session"), ("untag", "remove tags from a session")):
        p = command(verb, text, [f"sesh {verb} a808 work urgent"])
        p.add_argument("uuid")
        p.add_argument("tags", nargs="+", metavar="tag")

    p = command("retag", "rename tags on a session", ["sesh retag a808 wip=review"])
    p.add_argument("uuid")
    p.add_argument("pairs", nargs="+", metavar="old=new")

    for verb, text in (("archive", "archive a session (hidden from list)"), ("unarchive", "bring a session back")):
        p = command(verb, text, [f"sesh {verb} a808"])
        p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")

    p = command("autoname-toggle", "turn automatic renaming on or off", [
        "sesh autoname-toggle a808", "sesh autoname-toggle a808 --off"])
    p.add_argument("uuid", nargs="?")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--on", action="store_const", const=True, dest="value")
    group.add_argument("--off", action="store_const", const=False, dest="value")

    p = command("delete", "delete a session (a tombstone that propagates); never inferred", [
        "sesh delete a808", "sesh delete a808 --force"])
    p.add_argument("uuid")
    p.add_argument("--force", action="store_true", help="delete an orphan whose owner machine is unreachable or gone")
    p.add_argument("--purge", action="store_true", help="also remove the transcript")

    p = command("import", "one-shot, idempotent import of a legacy sessions.json", [
        "sesh import", "sesh import ~/old/sessions.json"])
    p.add_argument("file", nargs="?", help="default: $SESH_HOME/sessions.json")

    # ---- setup and health
    p = command("init", "write a commented config.toml naming this machine", [
        "sesh init --machine laptop", "sesh init --machine laptop --force"])
    p.add_argument("--force", action="store_true", help="overwrite an existing config.toml")

    command("doctor", "check machine name, SESH_HOME, daemon, store, config, tmux, agents, peers",
            ["sesh doctor", "sesh doctor --json"])

    daemon = command("daemon", "run and manage the per-machine daemon", [
        "sesh daemon start", "sesh daemon status --json", "sesh daemon stop --force"])
    dsubs = daemon.add_subparsers(dest="daemon_command", metavar="ACTION", parser_class=Parser, required=True)
    for action, text in (
        ("run", "run the daemon in the foreground (for supervisors and tests)"),
        ("start", "start the daemon in the background; returns when its socket answers"),
        ("stop", "stop the daemon gracefully"),
        ("restart", "stop, then start (picks up a new install)"),
        ("ensure", "start the daemon unless it already runs (idempotent)"),
        ("status", "machine, pid, uptime, sessions, schema, epoch, peers"),
    ):
        dp = dsubs.add_parser(action, help=text, description=text)
        global_flags(dp, suppress=True)
        if action == "stop":
            dp.add_argument("--force", action="store_true", help="kill a wedged daemon (SIGKILL)")
        if action in ("run", "start", "restart", "ensure"):
            dp.add_argument("--listen", metavar="HOST:PORT", help="accept peer links on this address")

    _later_commands(command)
    return root


def _later_commands(command: Callable[..., Parser]) -> None:
    from sesh_mesh.cli.parser_control import control_commands

    control_commands(command)
    """Commands of the SPEC whose handlers land with later work; each fails loudly until then."""
    p = command("tail", "last transcript entries of a session", ["sesh tail a808 -n 20", "sesh tail a808 -f"])
    p.add_argument("uuid", nargs="?")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("-f", "--follow", action="store_true")
    p = command("transcript", "the full transcript of a session", ["sesh transcript a808 --json"])
    p.add_argument("uuid", nargs="?")
    p = command("pane", "which session owns a tmux pane (for status bars; exit 3 unknown, 4 no daemon)",
                ["sesh pane", "sesh pane --pane %3 --json"])
    p.add_argument("--pane", metavar="%ID")
    p.add_argument("--socket-path", metavar="P")
    p = command("pane-resolve", "uuid of the agent live in a pane, registered or not",
                ["sesh pane-resolve --pane %3 --socket-path /tmp/tmux-0/default"])
    p.add_argument("--pane", metavar="%ID", required=True)
    p.add_argument("--socket-path", metavar="P", required=True)
    command("agents", "every agent live in a tmux pane on this machine", ["sesh agents --json"])
    p = command("discover", "agent conversations on disk not yet registered", ["sesh discover --register"])
    p.add_argument("--agent")
    p.add_argument("--register", action="store_true")
    p = command("pane-capture", "the session's pane text now", ["sesh pane-capture a808 -n 40"])
    p.add_argument("uuid", nargs="?")
    p.add_argument("-n", type=int, default=0)
    p = command("peer", "manage peer links in $SESH_HOME/peers.json: add NAME ADDRESS --token T, remove NAME, list", [
        'sesh peer add server ws://100.64.0.2:7433 --token "$T"',
        'printf %s "$T" | sesh peer add server wss://srv:7433 --token -',
        "sesh peer remove server", "sesh peer list --json"])
    p.add_argument("action", choices=["add", "remove", "list"], help="add NAME ADDRESS | remove NAME | list")
    p.add_argument("rest", nargs="*", metavar="ARG", help="add: the peer's machine name and ws://HOST:PORT (or wss://)")
    p.add_argument("--token", metavar="T", help="shared secret, the same on both machines ('-' reads it from stdin)")
    for name, text, examples in (
        ("tui", "the session manager: every session, live; Enter prints the selection (--enter: enters it)",
         ["sesh tui", "sesh tui --enter", "sesh tui --cursor a808 --format json"]),
        ("pick", "pick a session and print it (exit 0 picked, 130 cancelled, 3 nothing to pick or no match)",
         ['sel=$(sesh pick --format kv)', "sesh pick --select a808 --format json", "sesh pick --enter"]),
    ):
        p = command(name, text, examples)
        p.add_argument("--format", choices=["kv", "json", "nul"], default="kv",
                       help="kv: key=value lines; nul: the values NUL-terminated; json: one object (default kv)")
        p.add_argument("--action", metavar="VERB", help="the action to print instead of goto (live) / resume")
        p.add_argument("--cursor", metavar="UUID", help="start with the cursor on this session (uuid or prefix)")
        p.add_argument("--select", metavar="UUID", help="pick this session without showing the UI")
        p.add_argument("--enter", action="store_true", help="perform the action (goto/resume) instead of printing")
    p = command("resume", "enter a session (goto if live, relaunch otherwise); no uuid: pick one",
                ["sesh resume a808", "sesh resume"])
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: choose in the picker)")
    p.add_argument("--target")
    from sesh_mesh.cli import transcript_args

    transcript_args.add_commands(command)
