"""Agent reads: agents, pane, pane-resolve, pane-capture, tail, transcript, discover."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from sesh_mesh import ids
from sesh_mesh.cli import render
from sesh_mesh.cli.context import Context
from sesh_mesh.errors import UsageError


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
    uuid = ids.check_prefix(ctx.current_session(ctx.args.uuid))
    if ctx.args.n < 0:
        raise UsageError("-n must be 0 or more", "e.g. sesh pane-capture a808 -n 40")
    text = ctx.call("pane-capture", {"uuid": uuid, "n": ctx.args.n})
    if ctx.json:
        render.print_json({"text": text})
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


def cmd_tail(ctx: Context) -> int:
    uuid = ids.check_prefix(ctx.current_session(ctx.args.uuid))
    if ctx.args.n < 0:
        raise UsageError("-n must be 0 or more", "e.g. sesh tail a808 -n 20")
    client = ctx.client()
    for kind, item in client.stream("tail", {"uuid": uuid, "n": ctx.args.n, "follow": ctx.args.follow}):
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
    uuid = ids.check_prefix(ctx.current_session(ctx.args.uuid))
    result = ctx.call("transcript", {"uuid": uuid})
    for entry, rendered in zip(result["entries"], result["rendered"], strict=True):
        _print_entry(ctx, {**entry, "rendered": rendered})
    return 0


def cmd_discover(ctx: Context) -> int:
    agent = ctx.args.agent
    if agent is not None and agent not in ("claude", "codex", "pi"):
        raise UsageError(f"unknown agent {agent!r}", "use claude, codex or pi")
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

