"""Event verbs: `sesh events` (the mesh's event stream) and `sesh notify` (per-session on/off)."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

from sesh_mesh.cli.checks import check_count
from sesh_mesh.cli.context import Context
from sesh_mesh.errors import UsageError
from sesh_mesh.event_config import KINDS

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""Replies and dialog text come from models and panes: no terminal control reaches the screen."""


def register(commands: Commands) -> None:
    p = commands.add("events", "session and peer events of the whole mesh (turns, dialogs, exits, peers)", [
        "sesh events", "sesh events -f", "sesh events -f --kind needs-input --kind turn-ended",
        "sesh events -f --json --machine laptop", "sesh events -n 100 --json",
        "SESH_EVENT_LOG=~/events.jsonl sesh daemon restart   # every event appended as a JSON line"], cmd_events)
    p.add_argument("-n", type=int, default=20, help="past events to print first (default 20; 0: none)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new events until interrupted")
    p.add_argument("--kind", action="append", default=[], metavar="KIND",
                   help=f"only this kind (repeatable): {', '.join(KINDS)}")

    commands.add("hooks", "the [[hooks]] of config.toml and how each fared since the daemon started", [
        "sesh hooks", "sesh hooks --json"], cmd_hooks)

    p = commands.add("notify", "turn [notify] notifications for one session on or off (on this machine)", [
        "sesh notify a808 --off", "sesh notify a808 --on", "sesh notify a808"], cmd_notify)
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--on", action="store_const", const=True, dest="value", help="notify for this session")
    group.add_argument("--off", action="store_const", const=False, dest="value", help="stay quiet about it")


def _clean(text: Any) -> str:
    return CONTROL_RE.sub(" ", str(text))


def describe(event: dict[str, Any]) -> str:
    """One human line: time, kind, who, and what it says."""
    kind = str(event.get("kind"))
    if kind == "dropped":
        return f"-- {event.get('dropped')} events dropped (this reader was too slow) --"
    detail = event.get("detail") or {}
    if kind.startswith("peer-"):
        who = f"peer {event.get('machine')}"
        said = detail.get("error") or ""
    else:
        name = event.get("name") or str(event.get("uuid") or "")[:8]
        who = f"{name} ({event.get('agent')}@{event.get('machine')})"
        said = {"turn-ended": detail.get("reply"), "needs-input": detail.get("question")}.get(kind) or ""
    line = f"{event.get('time')}  {kind:<18} {who}"
    return _clean(f"{line}  {said}" if said else line)


def cmd_events(ctx: Context) -> int:
    n = check_count(ctx.args.n, "sesh events -n 20")
    unknown = [kind for kind in ctx.args.kind if kind not in KINDS]
    if unknown:
        raise UsageError(f"unknown event kind {unknown[0]!r}", f"use one of: {', '.join(KINDS)}")
    args = {"n": n, "follow": ctx.args.follow, "machine": ctx.machine, "kinds": ctx.args.kind or None}
    for kind, item in ctx.client().stream("events", args):
        if kind != "item":
            continue
        sys.stdout.write((json.dumps(item, ensure_ascii=False) if ctx.json else describe(item)) + "\n")
        sys.stdout.flush()
    return 0


def cmd_hooks(ctx: Context) -> int:
    hooks = ctx.call("hooks")
    if ctx.json:
        sys.stdout.write(json.dumps(hooks, ensure_ascii=False) + "\n")
        return 0
    if not hooks:
        sys.stderr.write("sesh: note: config.toml has no [[hooks]] (see sesh init's template)\n")
    for hook in hooks:
        what = hook["url"] or " ".join(hook["command"] or [])
        line = (f"{hook['index']}. on {','.join(hook['on'])}: {what}  runs {hook['runs']}, failures "
                f"{hook['failures']}, dropped {hook['dropped']}")
        if hook["lastError"]:
            line += f"  last error: {hook['lastError']}"
        sys.stdout.write(_clean(line) + "\n")
    return 0


def cmd_notify(ctx: Context) -> int:
    result = ctx.call("notify", {"uuid": ctx.session(ctx.args.uuid), "on": ctx.args.value})
    if ctx.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        label = result.get("name") or result["uuid"]
        sys.stdout.write(f"{_clean(label)}: notifications {'on' if result['notify'] else 'off'} on this machine\n")
    if not result.get("configured"):
        sys.stderr.write("sesh: note: config.toml has no [notify] table, so nothing notifies yet "
                         "(add [notify]; see sesh init's template)\n")
    return 0
