"""Agent control verbs: new, send, await, abort, compact, pane-keys, stop, delegate, report."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from sesh_mesh import ids
from sesh_mesh.cli import render
from sesh_mesh.cli.context import Context
from sesh_mesh.cli.inventory import check_agent, resolve_cwd
from sesh_mesh.durations import parse_duration
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.store import mutations


def _timeout(ctx: Context) -> float | None:
    raw = getattr(ctx.args, "timeout", None)
    return None if raw is None else parse_duration(raw)


def _message(text: str) -> str:
    if not text.strip():
        raise UsageError("message is empty", "give the text to send")
    return text


def _print_reply(ctx: Context, result: dict[str, Any]) -> None:
    if ctx.json:
        render.print_json({k: result.get(k) for k in ("uuid", "reply", "usage", "durationMs")})
    elif result.get("reply") is not None:
        sys.stdout.write(str(result["reply"]).rstrip("\n") + "\n")


def cmd_new(ctx: Context) -> int:
    a = ctx.args
    check_agent(a.agent)
    if a.agent is None:
        raise UsageError("--agent is required", "use --agent claude, codex or pi")
    session_id = ids.check_uuid(a.session_id) if a.session_id else None
    cwd = resolve_cwd(a.cwd)
    tags = [mutations.check_tag(t) for t in a.tag]
    name = mutations.check_name(a.name) if a.name is not None else None
    timeout = _timeout(ctx)
    if a.headless and not (a.msg and a.msg.strip()):
        raise UsageError("--headless needs --msg with the first message", 'sesh new --headless --msg "…"')
    if a.msg is not None:
        _message(a.msg)
    if a.target is not None and len(a.target.split(":")) not in (2, 3):
        raise UsageError(f"bad --target {a.target!r}", "write socket:session, e.g. default:work")
    passthrough = list(a.agent_args or [])
    if passthrough[:1] == ["--"]:
        passthrough = passthrough[1:]
    args = {
        "agent": a.agent, "name": name, "tags": tags, "cwd": cwd, "model": a.model, "target": a.target,
        "msg": a.msg, "headless": a.headless, "dryRun": a.dry_run, "noLaunch": a.no_launch,
        "sessionId": session_id, "sandbox": a.sandbox, "agentArgs": passthrough, "timeout": timeout,
        "machine": ctx.machine,
    }  # fmt: skip
    result = ctx.call("new", args)
    if a.dry_run:
        if ctx.json:
            render.print_json({k: result[k] for k in ("argv", "env", "cwd", "tmux")})
        else:
            sys.stdout.write(f"machine: {result['machine']}\nuuid: {result['uuid']}\ncwd: {result['cwd']}\n"
                             f"tmux: {json.dumps(result['tmux'])}\nargv: {' '.join(result['argv'])}\n")
        return 0
    if ctx.json:
        render.print_json(result)
    elif a.msg:
        sys.stdout.write(str(result.get("reply") or "").rstrip("\n") + "\n")
    else:
        where = "headless" if result.get("headless") else ("registered" if a.no_launch else "started")
        sys.stdout.write(f"{where} {result['uuid']} ({result['agent']} on {result['machine']})\n")
    return 0


def cmd_send(ctx: Context) -> int:
    message = _message(ctx.args.message)
    uuid = ids.check_prefix(ctx.args.uuid)
    timeout = _timeout(ctx)
    result = ctx.call("send", {"uuid": uuid, "message": message, "timeout": timeout, "noWait": ctx.args.no_wait})
    _print_reply(ctx, result)
    return 0


def cmd_await(ctx: Context) -> int:
    timeout = _timeout(ctx)
    uuid = ids.check_prefix(ctx.current_session(ctx.args.uuid))
    result = ctx.call("await", {"uuid": uuid, "timeout": timeout})
    if ctx.json:
        render.print_json(result)
    else:
        sys.stdout.write(f"{result['turnStatus']}\n")
    return 0


def _simple(ctx: Context, op: str, extra: dict[str, Any] | None = None) -> int:
    uuid = ids.check_prefix(ctx.current_session(getattr(ctx.args, "uuid", None)))
    result = ctx.call(op, {"uuid": uuid, **(extra or {})})
    if ctx.json:
        render.print_json(result)
    else:
        summary = {"abort": "abort sent", "compact": "compaction requested", "pane-keys": "keys sent",
                   "stop": "stopped"}[op]
        sys.stdout.write(f"{summary}: {uuid}\n")
    return 0


def cmd_abort(ctx: Context) -> int:
    return _simple(ctx, "abort")


def cmd_compact(ctx: Context) -> int:
    return _simple(ctx, "compact")


def cmd_stop(ctx: Context) -> int:
    return _simple(ctx, "stop")


def cmd_pane_keys(ctx: Context) -> int:
    return _simple(ctx, "pane-keys", {"keys": ctx.args.keys})


def cmd_delegate(ctx: Context) -> int:
    a = ctx.args
    check_agent(a.agent)
    task = _message(a.task)
    cwd = resolve_cwd(a.cwd)
    timeout = _timeout(ctx)
    name = mutations.check_name(a.name) if a.name is not None else None
    args = {"agent": a.agent, "cwd": cwd, "msg": task, "headless": True, "model": a.model, "sandbox": a.sandbox,
            "name": name or "delegate", "tags": ["delegate"], "timeout": timeout, "machine": ctx.machine}
    result = ctx.call("new", args)
    if not a.keep:
        try:
            ctx.call("mutate", {"uuid": result["uuid"], "op": "delete", "args": {}, "key": ids.new_uuid()})
        except SeshError as exc:
            sys.stderr.write(f"sesh: the task finished but its session was not deleted: {exc.what}\n")
    _print_reply(ctx, {**result, "durationMs": result.get("durationMs")})
    return 0


def cmd_report(ctx: Context) -> int:
    """Called by agent hooks in panes sesh launched; quiet, and never fails the agent."""
    uuid = os.environ.get("SESH_SESSION_ID")
    if not uuid:
        return 0
    try:
        ctx.client(auto_start=False).call("report", {"uuid": uuid, "state": ctx.args.state, "at": ctx.args.at})
    except SeshError:
        return 0
    return 0
