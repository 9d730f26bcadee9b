"""Agent reads: agents, pane, tmux-setup, pane-resolve, pane-capture, tail, transcript, discover."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from sesh_mesh.cli import render
from sesh_mesh.cli.checks import check_agent, check_count
from sesh_mesh.cli.context import Context

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands


def register(commands: Commands) -> None:
    p = commands.add("tail", "last transcript entries of a session", ["sesh tail a808 -n 20", "sesh tail a808 -f"],
                     cmd_tail)
    p.add_argument("uuid", nargs="?")
    p.add_argument("-n", type=int, default=20)
    p.add_argument("-f", "--follow", action="store_true")
    p = commands.add("transcript", "the full transcript of a session", ["sesh transcript a808 --json"],
                     cmd_transcript)
    p.add_argument("uuid", nargs="?")
    p = commands.add("pane", "which session owns a tmux pane (for status bars; exit 3 unknown, 4 no daemon)",
                     ["sesh pane", "sesh pane --pane %3 --json"], cmd_pane)
    p.add_argument("--pane", metavar="%ID")
    p.add_argument("--socket-path", metavar="P")
    p = commands.add("tmux-setup", "the status-right lines that show the daemon's tmux options (no process per "
                     "redraw); --apply sets them on the tmux server",
                     ["sesh tmux-setup", "sesh tmux-setup --apply", "sesh tmux-setup --apply --socket-path P"],
                     cmd_tmux_setup)
    p.add_argument("--apply", action="store_true", help="set them with tmux set-option -g (else only print them)")
    p.add_argument("--socket-path", metavar="P", help="the tmux server (default: $TMUX's, else the default)")
    p = commands.add("pane-resolve", "uuid of the agent live in a pane, registered or not (exit 3 no agent "
                     "there, 4 its conversation cannot be resolved yet)",
                     ["sesh pane-resolve --pane %3 --socket-path /tmp/tmux-0/default",
                      "sesh pane-resolve --pane %3 --socket-path /tmp/tmux-0/default --json"], cmd_pane_resolve)
    p.add_argument("--pane", metavar="%ID", required=True)
    p.add_argument("--socket-path", metavar="P", required=True)
    commands.add("agents", "every agent live in a tmux pane on this machine", ["sesh agents --json"], cmd_agents)
    p = commands.add("discover", "agent conversations on disk not yet registered", ["sesh discover --register"],
                     cmd_discover)
    p.add_argument("--agent")
    p.add_argument("--register", action="store_true")
    p = commands.add("pane-capture", "the last N lines of the session's pane now, scrollback included",
                     ["sesh pane-capture a808", "sesh pane-capture a808 -n 200", "sesh pane-capture a808 -n 0"],
                     cmd_pane_capture)
    p.add_argument("uuid", nargs="?")
    p.add_argument("-n", type=int, default=50, metavar="N",
                   help="the last N lines, scrollback included (default 50; 0: only the visible screen)")


def _tmux_socket_arg(value: str | None) -> str:
    from sesh_mesh.agents.tmux import socket_from_name, socket_from_tmux_env

    if value:
        return socket_from_name(value)
    from_env = socket_from_tmux_env(os.environ.get("TMUX"))
    if from_env:
        return from_env
    return socket_from_name("default")


def cmd_agents(ctx: Context) -> int:
    found = ctx.call_on_machine("agents")
    if ctx.json:
        render.print_json(found)
        return 0
    if not found:
        sys.stderr.write("no agent is live in any scanned tmux pane (see SESH_TMUX_SOCKETS)\n")
        return 0
    rows = [
        [
            str(a["agent"]),
            (a.get("uuid") or a.get("agentSessionId") or "?")[:8],
            "yes" if a["registered"] else "no",
            str(a.get("turnStatus") or "unknown"),
            f"{a['tmux']['session']}:{a['tmux']['window']} {a['tmux']['pane']}",
            str(a.get("pid")),
            str(a.get("cwd") or ""),
        ]
        for a in found
    ]
    render.print_table(rows, ["AGENT", "ID", "REGISTERED", "STATUS", "TMUX", "PID", "CWD"])
    return 0


def cmd_pane_resolve(ctx: Context) -> int:
    socket = _tmux_socket_arg(ctx.args.socket_path)
    found = ctx.call_on_machine("pane-resolve", {"pane": ctx.args.pane, "socket": socket})
    if ctx.json:
        render.print_json(found)
    else:
        sys.stdout.write(found["uuid"] + "\n")
    return 0


STATUS_OPTIONS = {
    "status-right-length": "80",
    "status-right": "#{?@sesh_line,#{@sesh_line} ,}#{@sesh_summary}",
}
"""What `sesh tmux-setup` sets: the pane's `@sesh_line` (when a session owns the pane) and the
mesh-wide `@sesh_summary`, both kept by the daemon (docs/tmux-status.md)."""


def cmd_tmux_setup(ctx: Context) -> int:
    import shlex

    socket = _tmux_socket_arg(ctx.args.socket_path)
    if ctx.args.apply:
        import asyncio

        from sesh_mesh.agents.tmux import TmuxError, run_chain
        from sesh_mesh.errors import SeshError

        try:
            commands = [["set-option", "-g", name, value] for name, value in STATUS_OPTIONS.items()]
            asyncio.run(run_chain(socket, commands))
        except TmuxError as exc:
            raise SeshError(str(exc), "start tmux, or name its server with --socket-path") from None
    if ctx.json:
        render.print_json({"options": STATUS_OPTIONS, "applied": bool(ctx.args.apply), "socket": socket})
        return 0
    out = ["# sesh: the daemon keeps @sesh_line on each session's pane and @sesh_summary on the server,",
           "# so this status line starts no process. Outside tmux formats: sesh pane --pane %ID --socket-path P"]
    out += [f"set -g {name} {shlex.quote(value)}" for name, value in STATUS_OPTIONS.items()]
    if ctx.args.apply:
        out.append(f"# applied to the tmux server on {socket}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def cmd_pane(ctx: Context) -> int:
    """The slow-path twin of the launcher's fast path (bin/sesh); same output and exit codes."""
    from sesh_mesh.client import Client

    pane = ctx.args.pane or os.environ.get("TMUX_PANE")
    if not pane:
        return 3
    socket = _tmux_socket_arg(ctx.args.socket_path)
    try:
        sock = Client(ctx.socket, ctx.home, auto_start=False, timeout=2.0).connect()
    except Exception:  # noqa: BLE001 - a status bar: exit 4 and print nothing at all when the daemon is down
        return 4
    try:
        request = {"op": "pane", "pane": pane, "socket": socket, "json": ctx.json}
        sock.sendall(json.dumps(request).encode() + b"\n")
        reply = sock.makefile("rb").readline().decode()
    except OSError:
        return 4
    finally:
        sock.close()
    if not reply.startswith("0"):
        return 3
    sys.stdout.write(reply[1:])
    return 0


def cmd_pane_capture(ctx: Context) -> int:
    uuid = ctx.session(ctx.args.uuid)
    n = check_count(ctx.args.n, "sesh pane-capture a808 -n 40")
    text = ctx.call("pane-capture", {"uuid": uuid, "n": n})
    if ctx.json:
        render.print_json({"text": text})
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


def cmd_tail(ctx: Context) -> int:
    uuid = ctx.session(ctx.args.uuid)
    n = check_count(ctx.args.n, "sesh tail a808 -n 20")
    for kind, item in ctx.client().stream("tail", {"uuid": uuid, "n": n, "follow": ctx.args.follow}):
        if kind != "item":
            continue
        _print_entry(ctx, item)
    return 0


def _print_entry(ctx: Context, item: dict[str, Any]) -> None:
    if ctx.json:
        shaped = {k: item.get(k) for k in ("ts", "role", "type", "text", "tool")}
        sys.stdout.write(json.dumps(shaped, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(str(item.get("rendered") or item.get("text") or "") + "\n")
    sys.stdout.flush()


def cmd_transcript(ctx: Context) -> int:
    uuid = ctx.session(ctx.args.uuid)
    result = ctx.call("transcript", {"uuid": uuid})
    for entry, rendered in zip(result["entries"], result["rendered"], strict=True):
        _print_entry(ctx, {**entry, "rendered": rendered})
    return 0


def cmd_discover(ctx: Context) -> int:
    agent = check_agent(ctx.args.agent)
    found = ctx.call_on_machine("discover", {"agent": agent, "register": ctx.args.register})
    if ctx.json:
        render.print_json([{k: v for k, v in item.items() if k != "agentDataDir"} for item in found])
        return 0
    if not found:
        sys.stderr.write("no unregistered agent conversations found on this machine\n")
        return 0
    rows = [
        [
            str(item["agent"]),
            str(item["agentSessionId"])[:8],
            "live" if item.get("live") else "",
            str(item.get("lastActivity") or "")[:19],
            str(item.get("cwd") or ""),
            (str(item.get("firstPrompt") or "")[:40]),
            ("registered " + str(item["uuid"])[:8]) if item.get("registered") else "",
        ]
        for item in found
    ]
    render.print_table(rows, ["AGENT", "ID", "LIVE", "LAST ACTIVITY", "CWD", "FIRST PROMPT", ""])
    return 0

