"""argparse for the agent-control commands: new, send, await, abort, compact, pane-keys, stop,
delegate, report."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

TIMEOUT_HELP = "seconds, or a number with s/m/h (0: no limit)"


def control_commands(command: Callable[..., Any]) -> None:
    p = command("new", "spawn an agent in a new tmux window (or headless) and register it from birth", [
        "sesh new --agent claude --name auth --tag work",
        'sesh new --agent codex --target default:work --msg "run the tests"',
        'sesh new --agent pi --headless --msg "summarise README.md"',
        "sesh new --agent claude --dry-run --json",
        "sesh new --agent claude --machine server -- --verbose"])
    p.add_argument("--agent", required=True, help="claude, codex or pi")
    p.add_argument("--name", help="display name")
    p.add_argument("--tag", action="append", default=[], help="tag (repeatable)")
    p.add_argument("--cwd", help="working directory (realpath; relative to $PWD; default $PWD)")
    p.add_argument("--model", help="model (default [models].<agent>, then [models].default)")
    p.add_argument("--target", metavar="SOCKET:SESSION", help="tmux server and session (created if absent)")
    p.add_argument("--msg", help="first message; waits for the turn and prints the reply")
    p.add_argument("--headless", action="store_true", help="no pane: run the first turn (--msg) headless")
    p.add_argument("--dry-run", action="store_true", help="print the plan (argv, env, cwd, tmux); register nothing")
    p.add_argument("--no-launch", action="store_true", help="register only")
    p.add_argument("--session-id", metavar="UUID", help="pre-assign the sesh uuid (claude's own id too)")
    p.add_argument("--sandbox", action="store_true", help="read-only: claude plan mode, codex -s read-only, pi "
                   "read tools only")
    p.add_argument("--timeout", help="bound on the wait for the --msg reply: " + TIMEOUT_HELP)
    p.add_argument("agent_args", nargs=argparse.REMAINDER, help="after --: passed to the agent")

    p = command("send", "deliver a message and print the agent's reply (pane if live, else headless)", [
        'reply=$(sesh send a808 "run the tests and summarise")', 'sesh send a808 "stop" --no-wait',
        'sesh send a808 "long task" --timeout 10m --json'])
    p.add_argument("uuid", help="uuid or unique prefix")
    p.add_argument("message")
    p.add_argument("--timeout", help="bound on the wait for the reply: " + TIMEOUT_HELP)
    p.add_argument("--no-wait", action="store_true", help="deliver only; do not wait for the reply")

    p = command("await", "block until the current turn completes; print the status", [
        "sesh await a808", "sesh await a808 --timeout 5m"])
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")
    p.add_argument("--timeout", help=TIMEOUT_HELP)

    for name, text in (("abort", "interrupt the current turn (Escape in the pane; kills a headless turn)"),
                       ("compact", "trigger the agent's context compaction"),
                       ("stop", "quit the agent with its own quit command (killed after a grace); the record stays")):
        p = command(name, text, [f"sesh {name} a808"])
        p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: the current session)")

    p = command("pane-keys", "send raw tmux key names to the session's pane (answer a dialog)", [
        "sesh pane-keys a808 Enter", "sesh pane-keys a808 Down Enter"])
    p.add_argument("uuid")
    p.add_argument("keys", nargs="+", metavar="key")

    p = command("delegate", "one-shot worker: spawn headless, run the task, print the reply, delete the session", [
        'sesh delegate --agent codex "summarise README.md"', 'sesh delegate --agent claude --keep "write x.txt"'])
    p.add_argument("--agent", required=True, help="claude, codex or pi")
    p.add_argument("task")
    p.add_argument("--keep", action="store_true", help="keep the session afterwards")
    p.add_argument("--name", help="display name (with --keep)")
    p.add_argument("--model", help="model")
    p.add_argument("--sandbox", action="store_true", help="read-only tools")
    p.add_argument("--cwd", help="working directory (default $PWD)")
    p.add_argument("--timeout", help=TIMEOUT_HELP)

    p = command("report", "turn reporter hook: tell the daemon a session's state (used by agent hooks)", [
        "sesh report busy", "sesh report idle"])
    p.add_argument("state", choices=["busy", "idle", "needs-input"])
    p.add_argument("--at", metavar="MS", type=int, help="when it happened (epoch milliseconds); orders late reports")
    p.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
