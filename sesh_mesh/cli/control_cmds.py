"""Agent control verbs: new, send, await, abort, compact, pane-keys, stop, delegate, report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from sesh_mesh import errors, ids
from sesh_mesh.agents.base import SANDBOX_MODES
from sesh_mesh.cli import render
from sesh_mesh.cli.checks import check_agent, check_message, resolve_cwd, timeout, working_dir_or_none
from sesh_mesh.cli.context import Context
from sesh_mesh.cli.message_input import delivery_of, intermixed, read_message
from sesh_mesh.errors import SeshError
from sesh_mesh.store import mutations

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands

TIMEOUT_HELP = "seconds, or a number with s/m/h (0: no limit)"
SEND_EXITS = """delivery (--json "delivery"; the exit code says the same):
  0  delivered: the turn started and this turn's reply is printed
  5  delivered-unconfirmed: typed into the pane, but no turn start was seen
  6  delivered, and the turn failed (model or agent error, agent exited, aborted): its error on stderr
  124 delivered, no reply within --timeout (or: the agent stayed busy, not delivered)
  1, 2, 4  not-delivered (refused, usage error, daemon unreachable); 4 after the request was sent: unknown

"""
SANDBOX_HELP = ("what the agent may change: read-only (claude dontAsk without its edit and shell tools, codex -s "
                "read-only, pi read tools only), workspace-write (claude acceptEdits, codex -s workspace-write; pi "
                "cannot), danger-full-access (claude bypassPermissions, codex -s danger-full-access, pi all tools)")


def register(commands: Commands) -> None:
    p = commands.add("new", "spawn an agent in a new tmux window (or headless) and register it from birth", [
        "sesh new --agent claude --name auth --tag work",
        'sesh new --agent codex --target default:work --msg "run the tests"',
        'sesh new --agent pi --headless --msg "summarise README.md"',
        "sesh new --agent claude --dry-run --json",
        "sesh new --agent claude --machine server -- --verbose"], cmd_new)
    p.add_argument("--agent", required=True, help="claude, codex or pi")
    p.add_argument("--name", help="display name")
    p.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    p.add_argument("--cwd", help="working directory (realpath; relative to $PWD; default $PWD). With --machine M: "
                   "a path on M (~ is M's home); default this $PWD when M has it, else M's home")
    p.add_argument("--model", help="model (default [models].<agent>, then [models].default)")
    p.add_argument("--target", metavar="SOCKET:SESSION", help="tmux server and session (created if absent)")
    p.add_argument("--msg", help="first message (`-`: read stdin); waits for the turn and prints the reply")
    p.add_argument("--file", metavar="PATH", help="read the first message from PATH (like --msg)")
    p.add_argument("--headless", action="store_true", help="no pane: run the first turn (--msg) headless")
    p.add_argument("--dry-run", action="store_true", help="print the plan (argv, env, cwd, tmux); register nothing")
    p.add_argument("--no-launch", action="store_true", help="register only (not with --msg)")
    p.add_argument("--session-id", metavar="UUID", help="pre-assign the sesh uuid (claude's own id too)")
    p.add_argument("--sandbox", metavar="MODE", choices=SANDBOX_MODES, help=SANDBOX_HELP + " (default: the agent's "
                   "own; a headless turn may edit its cwd)")
    p.add_argument("--timeout", help="bound on the wait for the --msg reply: " + TIMEOUT_HELP)
    p.add_argument("agent_args", nargs=argparse.REMAINDER, help="after --: passed to the agent")

    p = commands.add("send", "deliver a message and print the agent's reply (pane if live, else headless)", [
        'reply=$(sesh send a808 "run the tests and summarise")', 'sesh send a808 "stop" --no-wait',
        'sesh send a808 "long task" --timeout 10m --json', "sesh send a808 - < prompt.md",
        "sesh send a808 --json -- '-v is a flag'", 'sesh send a808 --interrupt "stop, do this instead"'], cmd_send)
    p.add_argument("uuid", help="uuid or unique prefix")
    p.add_argument("message", nargs="?", help="the text, verbatim (`-`: read stdin; a text starting with - goes "
                   "after --: UUID -- TEXT)")
    p.add_argument("--file", metavar="PATH", help="read the message from PATH instead")
    p.add_argument("--timeout", help="bound on the wait for the reply: " + TIMEOUT_HELP)
    p.add_argument("--no-wait", action="store_true", help="deliver only; do not wait for the reply")
    p.add_argument("--interrupt", action="store_true", help="stop the agent's running turn and send now (default: "
                   "a busy agent is waited for until idle, then typed to)")
    p.epilog = SEND_EXITS + (p.epilog or "")
    intermixed(p)

    p = commands.add("await", "block until the current turn completes; print the status", [
        "sesh await a808", "sesh await a808 --timeout 5m"], cmd_await)
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")
    p.add_argument("--timeout", help=TIMEOUT_HELP)

    for name, text, func in (
        ("abort", "interrupt the current turn (Escape in the pane; kills a headless turn)", cmd_abort),
        ("compact", "trigger the agent's context compaction", cmd_compact),
        ("stop", "quit the agent with its own quit command (killed after a grace); the record stays", cmd_stop),
    ):
        p = commands.add(name, text, [f"sesh {name} a808"], func)
        p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")
        if name == "compact":
            p.add_argument("--timeout", help="bound on a headless compaction (default 10m): " + TIMEOUT_HELP)

    p = commands.add("pane-keys", "send raw tmux key names to the session's pane (answer a dialog)", [
        "sesh pane-keys a808 Enter", "sesh pane-keys a808 Down Enter"], cmd_pane_keys)
    p.add_argument("uuid")
    p.add_argument("keys", nargs="+", metavar="key")

    p = commands.add("delegate", "one-shot worker: spawn headless, run the task, print the reply, delete the session", [
        'sesh delegate --agent codex "summarise README.md"',
        'sesh delegate --agent claude --write --keep "write x.txt"'], cmd_delegate)
    p.add_argument("--agent", required=True, help="claude, codex or pi")
    p.add_argument("task")
    p.add_argument("--keep", action="store_true", help="keep the session afterwards")
    p.add_argument("--name", help="display name (with --keep)")
    p.add_argument("--model", help="model")
    allowed = p.add_mutually_exclusive_group()
    allowed.add_argument("--sandbox", metavar="MODE", choices=SANDBOX_MODES, default="read-only",
                         help=SANDBOX_HELP + " (default read-only: answer, don't mutate)")
    allowed.add_argument("--write", action="store_true", help="let the worker edit files (the agent's own "
                         "headless mode: claude acceptEdits, codex workspace-write, pi's default tools)")
    p.add_argument("--cwd", help="working directory (default $PWD)")
    p.add_argument("--timeout", help=TIMEOUT_HELP)

    p = commands.add("report", "turn reporter hook: tell the daemon a session's state (used by agent hooks)", [
        "sesh report busy", "sesh report idle"], cmd_report)
    p.add_argument("state", choices=["busy", "idle", "needs-input"])
    p.add_argument("--at", metavar="MS", type=int, help="when it happened (epoch milliseconds); orders late reports")
    p.add_argument("extra", nargs="*", help=argparse.SUPPRESS)


def _print_reply(ctx: Context, result: dict[str, Any]) -> None:
    if ctx.json:
        render.print_json({k: result.get(k) for k in ("uuid", "reply", "usage", "durationMs", "delivery", "via")})
    elif result.get("reply") is not None:
        sys.stdout.write(str(result["reply"]).rstrip("\n") + "\n")


def cmd_new(ctx: Context) -> int:
    a = ctx.args
    check_agent(a.agent)
    session_id = ids.check_uuid(a.session_id) if a.session_id else None
    if a.msg is not None and a.no_launch:
        raise errors.UsageError("--msg needs a launched agent, and --no-launch only registers",
                                "drop --no-launch, or register now and `sesh send` the message later")
    cwd_args = new_cwd_args(a.cwd, ctx.machine)
    tags = [mutations.check_tag(t) for t in a.tag]  # `new` in the daemon takes tags and name as given
    name = mutations.check_name(a.name) if a.name is not None else None
    wait_s = timeout(a.timeout)
    msg = read_message(a.msg, a.file, "--msg") if a.msg is not None or a.file is not None else None
    if a.headless and msg is None:
        raise errors.headless_without_msg()
    passthrough = list(a.agent_args or [])
    if passthrough[:1] == ["--"]:
        passthrough = passthrough[1:]
    args = {
        "agent": a.agent, "name": name, "tags": tags, **cwd_args, "model": a.model, "target": a.target,
        "msg": msg, "headless": a.headless, "dryRun": a.dry_run, "noLaunch": a.no_launch,
        "sessionId": session_id, "sandbox": a.sandbox, "agentArgs": passthrough, "timeout": wait_s,
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
        # The reply is stdout (`reply=$(sesh new … --msg …)`); the session to talk to next is here.
        sys.stderr.write(f"new session {result['uuid']} ({result['agent']} on {result['machine']}, "
                         f"in {result.get('cwd')})\n")
        sys.stdout.write(str(result.get("reply") or "").rstrip("\n") + "\n")
    else:
        where = "headless" if result.get("headless") else ("registered" if a.no_launch else "started")
        sys.stdout.write(f"{where} {result['uuid']} ({result['agent']} on {result['machine']}, "
                         f"in {result.get('cwd')})\n")
    return 0


def new_cwd_args(given: str | None, machine: str | None) -> dict[str, str | None]:
    """`cwd` for `new` and `delegate`. Here: --cwd (default $PWD), checked here. On --machine M,
    this machine's paths mean nothing: an absolute --cwd is checked on M, and without one $PWD is
    only a hint (M uses it when M has it, else M's home)."""
    if machine is None:
        return {"cwd": resolve_cwd(given), "cwdHint": None}
    if given is None:
        return {"cwd": None, "cwdHint": working_dir_or_none()}
    if not given.strip():
        resolve_cwd(given)  # the empty --cwd error
    if given.startswith(("/", "~")):
        return {"cwd": given, "cwdHint": None}  # `~` is M's home: expanded there
    return {"cwd": resolve_cwd(given), "cwdHint": None}  # relative: to $PWD, which must then exist here


def cmd_send(ctx: Context) -> int:
    a = ctx.args
    uuid = ids.check_prefix(a.uuid)
    message = read_message(a.message, a.file)
    wait_s = timeout(a.timeout)
    started = time.monotonic()
    try:
        result = ctx.call("send", {"uuid": uuid, "message": message, "timeout": wait_s, "noWait": a.no_wait,
                                   "interrupt": a.interrupt})
    except SeshError as exc:
        if ctx.json:  # a script reading --json learns how far it got, then the error line and code follow
            render.print_json({"uuid": None, "reply": None, "usage": None,
                               "durationMs": int((time.monotonic() - started) * 1000), "delivery": delivery_of(exc),
                               "via": None, "error": exc.what})
        raise
    _print_reply(ctx, result)
    return 0


def cmd_await(ctx: Context) -> int:
    wait_s = timeout(ctx.args.timeout)
    uuid = ctx.session(ctx.args.uuid)
    result = ctx.call("await", {"uuid": uuid, "timeout": wait_s})
    if ctx.json:
        render.print_json(result)
    else:
        sys.stdout.write(f"{result['turnStatus']}\n")
    return 0


def _simple(ctx: Context, op: str, extra: dict[str, Any] | None = None) -> int:
    uuid = ctx.session(ctx.args.uuid)
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
    return _simple(ctx, "compact", {"timeout": timeout(ctx.args.timeout)})


def cmd_stop(ctx: Context) -> int:
    return _simple(ctx, "stop")


def cmd_pane_keys(ctx: Context) -> int:
    return _simple(ctx, "pane-keys", {"keys": ctx.args.keys})


def cmd_delegate(ctx: Context) -> int:
    a = ctx.args
    check_agent(a.agent)
    task = check_message(a.task)
    cwd_args = new_cwd_args(a.cwd, ctx.machine)
    wait_s = timeout(a.timeout)
    name = mutations.check_name(a.name) if a.name is not None else None
    args = {"agent": a.agent, **cwd_args, "msg": task, "headless": True, "model": a.model,
            "sandbox": None if a.write else a.sandbox,
            "name": name, "tags": ["delegate"], "timeout": wait_s, "machine": ctx.machine,
            "ephemeral": not a.keep}  # the daemon deletes the worker however its turn ended
    result = ctx.call("new", args)
    if result.get("notDeleted"):
        sys.stderr.write(f"sesh: the task finished but its session was not deleted: {result['notDeleted']}\n")
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
