"""How to run each agent: argv and environment for a pane launch, a pane resume, a headless
turn and a headless resume, with model, sandbox and turn reporters. Pure: builds plans only.

Everything is a per-launch flag; sesh never edits the user's agent config files.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sesh_mesh.errors import SeshError

QUIT_COMMAND = {"claude": "/exit", "codex": "/quit", "pi": "/quit"}
COMPACT_COMMAND = "/compact"
READ_ONLY_PI_TOOLS = "read,grep,find,ls"


@dataclass(frozen=True)
class Plan:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""
    transcript: str | None = None
    """Where the transcript will be when sesh can know it in advance (claude, pi)."""


def pi_reporter_path() -> Path:
    return Path(str(resources.files("sesh_mesh.agents.reporters").joinpath("pi_reporter.js")))


def claude_hooks(report_bin: str) -> str:
    """`--settings` JSON with hooks that report turn state (UserPromptSubmit/Stop/Notification)."""

    def hook(state: str) -> list[dict[str, object]]:
        # --at carries the event time: hook processes may reach the daemon out of order.
        command = f'{shlex.quote(report_bin)} report {state} --at "$(date +%s%3N)"'
        return [{"hooks": [{"type": "command", "command": command}]}]

    return json.dumps(
        {"hooks": {"UserPromptSubmit": hook("busy"), "Stop": hook("idle"), "Notification": hook("needs-input")}}
    )


def _codex_common(sandbox: bool, model: str | None, report_bin: str | None, headless: bool) -> list[str]:
    args = ["-c", "features.daemon_auto_start=false"]
    if headless:
        mode = "read-only" if sandbox else "workspace-write"
        args += ["-c", f'sandbox_mode="{mode}"', "-c", 'approval_policy="never"']
    elif sandbox:
        args += ["-c", 'sandbox_mode="read-only"']
    if model:
        args += ["-m", model]
    if report_bin:
        args += ["-c", "notify=" + json.dumps([report_bin, "report", "idle"])]
    return args


def interactive(
    agent: str,
    binary: str,
    *,
    session_id: str | None,
    resume_id: str | None,
    model: str | None,
    sandbox: bool,
    report_bin: str | None,
    pi_session_file: str | None,
    passthrough: Sequence[str] = (),
) -> list[str]:
    """argv for the agent's TUI in a pane: a new conversation, or `resume_id` resumed."""
    if agent == "claude":
        argv = [binary]
        argv += ["--resume", resume_id] if resume_id else ["--session-id", str(session_id)]
        if model:
            argv += ["--model", model]
        if sandbox:
            argv += ["--permission-mode", "plan"]
        if report_bin:
            argv += ["--settings", claude_hooks(report_bin)]
        return [*argv, *passthrough]
    if agent == "codex":
        argv = [binary, "resume", resume_id] if resume_id else [binary]
        return [*argv, *_codex_common(sandbox, model, report_bin, headless=False), *passthrough]
    if agent == "pi":
        if not pi_session_file:
            raise SeshError("pi needs a session file to launch", "this is a sesh bug: report it")
        argv = [binary, "--session", pi_session_file]
        if model:
            argv += ["--model", model]
        if sandbox:
            argv += ["--tools", READ_ONLY_PI_TOOLS]
        if report_bin:
            argv += ["-e", str(pi_reporter_path())]
        return [*argv, *passthrough]
    raise SeshError(f"unknown agent {agent!r}", "use claude, codex or pi")


def headless(
    agent: str,
    binary: str,
    message: str,
    *,
    session_id: str | None,
    resume_id: str | None,
    model: str | None,
    sandbox: bool,
    pi_session_file: str | None,
    passthrough: Sequence[str] = (),
) -> list[str]:
    """argv for one headless turn with machine-readable output (new, or resuming `resume_id`)."""
    if agent == "claude":
        argv = [binary, "-p", "--output-format", "json"]
        argv += ["--resume", resume_id] if resume_id else ["--session-id", str(session_id)]
        argv += ["--permission-mode", "plan" if sandbox else "acceptEdits"]
        if model:
            argv += ["--model", model]
        return [*argv, *passthrough, "--", message]
    if agent == "codex":
        common = _codex_common(sandbox, model, None, headless=True)
        if resume_id:
            return [binary, "exec", "resume", "--json", "--skip-git-repo-check", *common, *passthrough, resume_id,
                    "--", message]
        return [binary, "exec", "--json", "--skip-git-repo-check", *common, *passthrough, "--", message]
    if agent == "pi":
        if not pi_session_file:
            raise SeshError("pi needs a session file for a headless turn", "this is a sesh bug: report it")
        argv = [binary, "-p", "--mode", "json", "--session", pi_session_file]
        if model:
            argv += ["--model", model]
        if sandbox:
            argv += ["--tools", READ_ONLY_PI_TOOLS]
        return [*argv, *passthrough, message]
    raise SeshError(f"unknown agent {agent!r}", "use claude, codex or pi")


def choose_model(agent: str, flag: str | None, models: dict[str, str]) -> str | None:
    """The first that is set: --model, then [models].<agent>, then [models].default."""
    return flag or models.get(agent) or models.get("default") or None
