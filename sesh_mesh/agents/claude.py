"""Claude Code (2.1.329): paths, launch argv, pane signals, process recognition and the live
session registry."""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sesh_mesh.agents import stream_events
from sesh_mesh.agents.base import (
    CLEAR_INPUT_KEYS,
    AgentKind,
    DiscoveredConversation,
    HeadlessCompact,
    PaneProbe,
    SandboxMode,
)
from sesh_mesh.agents.claude_transcript import ClaudeTranscript
from sesh_mesh.agents.ids import is_uuid
from sesh_mesh.agents.launch import COMPACT_COMMAND
from sesh_mesh.agents.pane import RULE_RE, any_contains, any_match, dialog_prompt, nonblank_tail, pane_is_dead
from sesh_mesh.agents.procs import basename, has_flag, option_value
from sesh_mesh.agents.transcript import (
    TranscriptState,
    as_int,
    as_str,
    context_pct_of,
    summarize_transcript,
)

# --- pane patterns (all of claude's screen knowledge lives here) ---

BUSY_MARKERS = ("esc to interrupt",)
"""Footer (2.1.329) or spinner line (older versions) while a turn runs."""

SPINNER_RE = re.compile(r"^\s*[✻✢✳✶✽✺·*]\s+\S+…")
"""`✢ Grooving… (4s · ↓ 3 tokens)`; the finished `✻ Sautéed for 7s · done` has no ellipsis."""

READY_MARKERS = ("shift+tab to cycle", "? for shortcuts")
"""Footer hints of the input box (the first in a non-default permission mode, the second otherwise)."""

INPUT_RE = re.compile(r"^\s*\u276f(?!\s*\d+\.\s)")
"""The input line: U+276F then a space (an NBSP when empty). U+276F followed by `1. Yes` is a
dialog option, not the input."""

DIALOG_MARKERS = (
    "Do you want to proceed?",
    "Do you want to make this edit",
    "Do you want to create",
    "Do you want to allow",
    "Yes, I trust this folder",
    "Do you trust the files in this folder?",
    "Is this a project you created or one you trust?",
    "Do you want to work in this folder?",
    "Do you want to use this API key?",
    "Yes, I accept",  # the bypass-permissions warning
    "Choose the text style",
    "Select login method",
    "Use Claude Code's terminal setup?",
    "Press Enter to continue",
)
"""Trust, permission and onboarding prompts; they replace the input box until answered."""

EXIT_MARKERS = ("Resume this session with:",)

PANE_TAIL_LINES = 25
"""Dialogs, spinner, input box and footer all sit in the bottom of the screen."""

# --- the rest of claude's specifics ---

CLAUDE_CONTEXT_WINDOW = 200_000
CLAUDE_1M_CONTEXT_WINDOW = 1_000_000
"""Models selected with the `[1m]` suffix run with the 1M-token window."""

REGISTRY_STATUSES = frozenset({"busy", "idle", "waiting", "shell"})
"""`status` values seen across versions of sessions/<pid>.json; others are kept but flagged unknown."""


def claude_hooks(report_bin: str) -> str:
    """`--settings` JSON with hooks that report turn state (UserPromptSubmit/Stop/Notification)."""

    def hook(state: str) -> list[dict[str, object]]:
        # claude waits for a hook to exit before it goes on (UserPromptSubmit before the model
        # request): the report, a Python process (~100 ms), runs in the background with its
        # output away from the hook's pipes, so the hook itself is one short shell. --at carries
        # the event time, since reports may then reach the daemon out of order.
        report = f'{shlex.quote(report_bin)} report {state} --at "$(date +%s%3N)"'
        command = f"{{ {report} </dev/null >/dev/null 2>&1 & }}"
        return [{"hooks": [{"type": "command", "command": command}]}]

    return json.dumps(
        {"hooks": {"UserPromptSubmit": hook("busy"), "Stop": hook("idle"), "Notification": hook("needs-input")}}
    )


READ_ONLY_ARGS = ("--permission-mode", "dontAsk", "--disallowedTools=Bash,Edit,Write,NotebookEdit")
"""claude has no read-only mode: dontAsk denies every tool not already allowed, and the tools that
change files are taken away outright, so no allow rule of the user's settings can let one through.
(`plan` is no answer headless: in `-p` it ends the turn with exit 1 at the first tool call.)"""

PERMISSION_ARGS: dict[str, tuple[str, ...]] = {
    "read-only": READ_ONLY_ARGS,
    "workspace-write": ("--permission-mode", "acceptEdits"),
    "danger-full-access": ("--permission-mode", "bypassPermissions"),
}


def _permission_args(sandbox: SandboxMode | None) -> list[str]:
    return list(PERMISSION_ARGS[sandbox]) if sandbox else []


def project_dir_name(cwd: str) -> str:
    """Claude's per-project transcript dir: every non-alphanumeric character of cwd becomes '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


@dataclass(frozen=True)
class ClaudeRegistryEntry:
    """One `sessions/<pid>.json` file: claude's own record of a running interactive session."""

    pid: int
    session_id: str | None
    cwd: str | None
    status: str | None
    status_updated_at: int | None
    proc_start: str | None
    kind: str | None
    name: str | None
    tmux: str | None
    legacy: bool
    path: Path

    @property
    def status_known(self) -> bool:
        return self.status in REGISTRY_STATUSES


_REGISTRY_NAME_RE = re.compile(r"^(?:pid-)?(\d+)\.json$")


def _registry_entry(path: Path) -> ClaudeRegistryEntry | None:
    match = _REGISTRY_NAME_RE.match(path.name)
    if match is None:
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):  # vanished between listing and reading, or half-written
        return None
    if not isinstance(data, dict):
        return None
    pid = as_int(data.get("pid")) or int(match.group(1))
    if pid != int(match.group(1)):
        return None  # a file whose content names another process is not this pid's record
    updated = data.get("statusUpdatedAt")
    proc_start = data.get("procStart")
    return ClaudeRegistryEntry(
        pid=pid,
        session_id=as_str(data.get("sessionId")),
        cwd=as_str(data.get("cwd")),
        status=as_str(data.get("status")),
        status_updated_at=as_int(updated) or None,
        proc_start=str(proc_start) if isinstance(proc_start, str | int) and proc_start != "" else None,
        kind=as_str(data.get("kind")),
        name=as_str(data.get("name")),
        tmux=as_str(data.get("tmux")),
        legacy=path.name.startswith("pid-"),
        path=path,
    )


class RegistryCache:
    """`read_registry` that re-parses only files whose mtime or size changed since last time."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[tuple[int, int], ClaudeRegistryEntry | None]] = {}

    def read(self, data_dir: Path) -> dict[int, ClaudeRegistryEntry]:
        entries: dict[int, ClaudeRegistryEntry] = {}
        seen: set[Path] = set()
        try:
            listing = sorted(os.scandir(data_dir / "sessions"), key=lambda e: e.name)
        except OSError:
            listing = []
        for item in listing:
            if not item.name.endswith(".json"):
                continue
            path = Path(item.path)
            seen.add(path)
            try:
                stat = item.stat()
            except OSError:
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._files.get(path)
            if cached is None or cached[0] != stamp:
                cached = (stamp, _registry_entry(path))
                self._files[path] = cached
            entry = cached[1]
            if entry is None:
                continue
            current = entries.get(entry.pid)
            if current is None or (current.legacy and not entry.legacy):
                entries[entry.pid] = entry
        prefix = data_dir / "sessions"
        for stale in [p for p in self._files if p.parent == prefix and p not in seen]:
            del self._files[stale]
        return entries


def read_registry(data_dir: Path) -> dict[int, ClaudeRegistryEntry]:
    """Parse `<data_dir>/sessions/{<pid>,pid-<pid>}.json`; unreadable or foreign files are skipped.

    When both generations exist for one pid, the current `<pid>.json` wins.
    """
    entries: dict[int, ClaudeRegistryEntry] = {}
    try:
        paths = sorted((data_dir / "sessions").glob("*.json"))
    except OSError:
        return entries
    for path in paths:
        entry = _registry_entry(path)
        if entry is None:
            continue
        current = entries.get(entry.pid)
        if current is None or (current.legacy and not entry.legacy):
            entries[entry.pid] = entry
    return entries


class ClaudeAdapter:
    kind: ClassVar[AgentKind] = "claude"
    binary_name: ClassVar[str] = "claude"
    quit_command: ClassVar[str] = "/exit"
    compact_command: ClassVar[str] = COMPACT_COMMAND
    clear_input_keys: ClassVar[tuple[tuple[str, ...], ...]] = CLEAR_INPUT_KEYS
    command_chars: ClassVar[str] = "/!"
    untypable_chars: ClassVar[str] = ""
    takes_session_id: ClassVar[bool] = True
    resumes_from_file: ClassVar[bool] = False
    has_session_registry: ClassVar[bool] = True
    headless_message_on_stdin: ClassVar[bool] = False

    def data_dir(self, env: Mapping[str, str]) -> Path:
        override = env.get("CLAUDE_CONFIG_DIR")
        if override:
            return Path(override).expanduser()
        return Path(env.get("HOME") or Path.home()) / ".claude"

    def transcript_path_for(self, data_dir: Path, cwd: str, agent_session_id: str) -> Path | None:
        """The deterministic path (the file appears at the first message); an existing file elsewhere
        under projects/ wins, because long cwds get a shortened, hashed directory name."""
        expected = data_dir / "projects" / project_dir_name(cwd) / f"{agent_session_id}.jsonl"
        if expected.exists():
            return expected
        for found in (data_dir / "projects").glob(f"*/{agent_session_id}.jsonl"):
            return found
        return expected

    def iter_transcripts(self, data_dir: Path) -> Iterator[Path]:
        # Only `<uuid>.jsonl` one level down: subagent transcripts are `agent-*.jsonl` or live in
        # `<uuid>/subagents/`, and are not conversations of their own.
        for path in sorted((data_dir / "projects").glob("*/*.jsonl")):
            if is_uuid(path.stem):
                yield path

    def new_transcript_state(self, *, keep_entries: bool = True) -> TranscriptState:
        return ClaudeTranscript(keep_entries=keep_entries)

    def context_window(self, model: str | None) -> int:
        if model and "[1m]" in model.lower():
            return CLAUDE_1M_CONTEXT_WINDOW
        return CLAUDE_CONTEXT_WINDOW

    def context_pct(self, state: TranscriptState) -> int | None:
        return context_pct_of(state, state.context_window or self.context_window(state.model))

    def probe_pane(self, text: str, title: str = "") -> PaneProbe:
        tail = nonblank_tail(text, PANE_TAIL_LINES)
        if pane_is_dead(tail) or any_contains(tail[-4:], EXIT_MARKERS):
            return PaneProbe(busy=None, needs_input=False, ready=False)
        bottom = tail[-8:]
        input_box = any(
            INPUT_RE.match(line) and index > 0 and RULE_RE.match(bottom[index - 1]) for index, line in enumerate(bottom)
        )
        ready = input_box or any_contains(bottom[-3:], READY_MARKERS)
        needs_input = not input_box and any_contains(tail, DIALOG_MARKERS)
        busy_seen = any_contains(bottom, BUSY_MARKERS) or any_match(bottom, SPINNER_RE)
        busy = True if busy_seen else (False if ready else None)
        prompt = dialog_prompt(tail, DIALOG_MARKERS) if needs_input else None
        return PaneProbe(busy=busy, needs_input=needs_input, ready=ready and not needs_input, prompt=prompt)

    def input_is_empty(self, text: str) -> bool:
        # One input line between the two rules, holding nothing after the prompt glyph (claude
        # pads it with a no-break space): a draft, a second draft line, shell mode (`!`) or the
        # placeholder hint all show as text there.
        bottom = nonblank_tail(text, PANE_TAIL_LINES)
        for index in range(len(bottom) - 2, 0, -1):
            if INPUT_RE.match(bottom[index]):
                return (bool(RULE_RE.match(bottom[index - 1])) and bool(RULE_RE.match(bottom[index + 1]))
                        and not bottom[index].strip()[1:].strip())
        return False

    def match_process(self, comm: str, argv: Sequence[str]) -> bool:
        if comm == "claude":
            return True
        # npm installs before the native binary ran `node …/@anthropic-ai/claude-code/cli.js`
        return comm in ("node", "bun") and any(
            arg.endswith("claude-code/cli.js") or basename(arg) == "claude" for arg in argv[1:2]
        )

    def session_id_from_argv(self, argv: Sequence[str]) -> str | None:
        args = argv[1:]
        assigned = option_value(args, ("--session-id",))
        if assigned and is_uuid(assigned):
            return assigned
        if has_flag(args, ("--fork-session",)):
            return None  # a fork gets a fresh id that is not on the command line
        resumed = option_value(args, ("--resume", "-r"))
        # --resume without a uuid opens the picker (the value is a search term)
        return resumed if resumed and is_uuid(resumed) else None

    def read_summary(self, path: Path) -> DiscoveredConversation | None:
        return summarize_transcript(
            path, lambda: ClaudeTranscript(keep_entries=False), path.stem if is_uuid(path.stem) else None
        )

    def read_registry(self, data_dir: Path) -> dict[int, ClaudeRegistryEntry]:
        return read_registry(data_dir)

    def native_relpath(self, cwd: str, file_name: str, content: bytes = b"") -> Path:
        return Path("projects") / project_dir_name(cwd) / file_name

    def new_session_file(self, data_dir: Path, cwd: str, now: datetime) -> Path | None:
        return None

    def interactive_argv(
        self,
        binary: str,
        *,
        session_id: str | None,
        resume_id: str | None,
        model: str | None,
        sandbox: SandboxMode | None,
        report_bin: str | None,
        session_file: str | None,
        passthrough: Sequence[str] = (),
    ) -> list[str]:
        argv = [binary]
        argv += ["--resume", resume_id] if resume_id else ["--session-id", str(session_id)]
        if model:
            argv += ["--model", model]
        argv += _permission_args(sandbox)
        if report_bin:
            argv += ["--settings", claude_hooks(report_bin)]
        return [*argv, *passthrough]

    def headless_argv(
        self,
        binary: str,
        message: str,
        *,
        session_id: str | None,
        resume_id: str | None,
        model: str | None,
        sandbox: SandboxMode | None,
        session_file: str | None,
        passthrough: Sequence[str] = (),
    ) -> list[str]:
        # stream-json (it needs --verbose) with partial messages: the model's deltas as they
        # arrive, which the HTTP door streams (agents/stream_events.py).
        argv = [binary, "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages"]
        argv += ["--resume", resume_id] if resume_id else ["--session-id", str(session_id)]
        argv += _permission_args(sandbox or "workspace-write")
        if model:
            argv += ["--model", model]
        return [*argv, *passthrough, "--", message]

    def conversation_id_from_output(self, item: Mapping[str, Any]) -> str | None:
        return str(item["session_id"]) if item.get("session_id") else None

    def stream_deltas(self, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        return stream_events.claude_deltas(item)

    def headless_compact(self) -> HeadlessCompact:
        return "turn"

    def namer_argv(self, binary: str, model: str | None, prompt_text: str) -> list[str]:
        return [binary, "-p", "--no-session-persistence", "--output-format", "text",
                *(["--model", model] if model else []), prompt_text]  # fmt: skip

    def pane_context_window(self, pane_text: str) -> int | None:
        return None


ADAPTER = ClaudeAdapter()
