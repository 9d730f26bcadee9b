"""Codex CLI (0.169.0): paths, launch argv, pane signals and process recognition."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
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
from sesh_mesh.agents.codex_transcript import CodexTranscript
from sesh_mesh.agents.ids import is_uuid, last_uuid_in, uuid7_time
from sesh_mesh.agents.launch import COMPACT_COMMAND
from sesh_mesh.agents.pane import any_contains, any_match, dialog_prompt, nonblank_tail, pane_is_dead
from sesh_mesh.agents.procs import basename, positionals
from sesh_mesh.agents.transcript import TranscriptState, context_pct_of, summarize_transcript
from sesh_mesh.errors import SeshError

# --- pane patterns (all of codex's screen knowledge lives here) ---

TITLE_SPINNER_RE = re.compile(r"^\s*[\u2801-\u28ff]")
"""The pane title gets a braille spinner prefix (`⠦ Fake title | proj`) for the whole turn. It is
the only busy signal while text streams: the `Working` line disappears then."""

BUSY_MARKERS = ("esc to interrupt",)
WORKING_RE = re.compile(r"^\s*[•◦]\s+Working\b")
"""`• Working (1s • esc to interrupt)` above the composer until the first text delta."""

READY_MARKERS = ("for shortcuts",)
"""Footer `← for agents · ? for shortcuts` under the composer."""

DIALOG_MARKERS = (
    "Trust this folder?",
    "Trust and continue",
    "Do you trust the contents of this directory?",
    "Would you like to run the following command?",
    "Would you like to make the following edits?",
    "Would you like to grant these permissions?",
    "Press enter to confirm or esc to cancel",
    "Sign in with ChatGPT",
)
"""Folder trust, approval and login screens; they replace the composer and its footer."""

EXIT_MARKERS = ("To continue this session, run:", "Disconnected from this task")

PANE_TAIL_LINES = 25

# --- the rest of codex's specifics ---

CODEX_DEFAULT_CONTEXT_WINDOW = 258_400
"""What 0.169.0 reports as `model_context_window` with fallback model metadata: 95% of a 272k
window. Rollouts carry the real value per turn; this only covers a rollout that has none yet."""

VALUE_OPTIONS = frozenset(
    {
        "-m", "--model", "-c", "--config", "-s", "--sandbox", "-a", "--ask-for-approval",
        "-C", "--cd", "-p", "--profile", "-i", "--image", "--add-dir", "--color",
        "-o", "--output-last-message", "--output-schema", "--local-provider", "--enable", "--disable",
    }
)  # fmt: skip
"""Options whose value is a separate argument, so it is not mistaken for a subcommand."""

NOT_A_SESSION = frozenset({"app-server", "mcp-server"})
"""Subcommands that run codex as a server for other clients (the TUI's background daemon among
them), not as a conversation in this pane."""

JS_LAUNCHERS = frozenset({"node", "nodejs", "bun"})

_ROLLOUT_DAY_RE = re.compile(r"rollout-(\d{4})-(\d{2})-(\d{2})T")
_TIMESTAMP_DAY_RE = re.compile(rb'"timestamp"\s*:\s*"(\d{4})-(\d{2})-(\d{2})T')


def _codex_args(comm: str, argv: Sequence[str]) -> list[str] | None:
    """The arguments after the codex program, or None when the process is not codex."""
    if comm == "codex" or (argv and basename(argv[0]) == "codex"):
        return list(argv[1:])
    if comm in JS_LAUNCHERS and len(argv) > 1:
        script = argv[1]
        if basename(script) in ("codex", "codex.js") or "@openai/codex/" in script:
            return list(argv[2:])
    return None


def _common_args(sandbox: SandboxMode | None, model: str | None, report_bin: str | None,
                 headless: bool) -> list[str]:
    """codex's own sandbox modes are sesh's; a headless turn without one may write its workspace,
    and never waits on an approval no one can give."""
    args = ["-c", "features.daemon_auto_start=false"]
    if headless:
        args += ["-c", f'sandbox_mode="{sandbox or "workspace-write"}"', "-c", 'approval_policy="never"']
    elif sandbox:
        args += ["-c", f'sandbox_mode="{sandbox}"']
    if model:
        args += ["-m", model]
    if report_bin:
        args += ["-c", "notify=" + json.dumps([report_bin, "report", "idle"])]
    return args


class CodexAdapter:
    kind: ClassVar[AgentKind] = "codex"
    binary_name: ClassVar[str] = "codex"
    quit_command: ClassVar[str] = "/quit"
    compact_command: ClassVar[str] = COMPACT_COMMAND
    clear_input_keys: ClassVar[tuple[tuple[str, ...], ...]] = CLEAR_INPUT_KEYS
    command_chars: ClassVar[str] = "/!"
    untypable_chars: ClassVar[str] = ""
    takes_session_id: ClassVar[bool] = False
    resumes_from_file: ClassVar[bool] = False
    has_session_registry: ClassVar[bool] = False
    headless_message_on_stdin: ClassVar[bool] = False

    def data_dir(self, env: Mapping[str, str]) -> Path:
        override = env.get("CODEX_HOME")
        if override:
            return Path(override).expanduser()
        return Path(env.get("HOME") or Path.home()) / ".codex"

    def transcript_path_for(self, data_dir: Path, cwd: str, agent_session_id: str) -> Path | None:
        """Search sessions/ for the rollout named after the id, first in the days around the
        UUIDv7's own timestamp (the rollout dir is the session's start day), then everywhere."""
        sessions = data_dir / "sessions"
        pattern = f"rollout-*{agent_session_id}.jsonl"
        born = uuid7_time(agent_session_id)
        if born is not None:
            for delta in (0, -1, 1):
                day = born + timedelta(days=delta)
                for found in (sessions / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}").glob(pattern):
                    return found
        for found in sessions.rglob(pattern):
            return found
        return None

    def iter_transcripts(self, data_dir: Path) -> Iterator[Path]:
        yield from sorted((data_dir / "sessions").rglob("rollout-*.jsonl"))

    def new_transcript_state(self, *, keep_entries: bool = True) -> TranscriptState:
        return CodexTranscript(keep_entries=keep_entries)

    def context_pct(self, state: TranscriptState) -> int | None:
        return context_pct_of(state, state.context_window or CODEX_DEFAULT_CONTEXT_WINDOW)

    def input_is_empty(self, text: str) -> bool:
        return False  # not read: the clearing keys cost ~70 ms, and a send here meets its goal with them

    def probe_pane(self, text: str, title: str = "") -> PaneProbe:
        tail = nonblank_tail(text, PANE_TAIL_LINES)
        if pane_is_dead(tail) or any_contains(tail, EXIT_MARKERS):
            return PaneProbe(busy=None, needs_input=False, ready=False)
        bottom = tail[-6:]
        footer = any_contains(bottom[-3:], READY_MARKERS)
        needs_input = not footer and any_contains(tail, DIALOG_MARKERS)
        busy_seen = (
            TITLE_SPINNER_RE.match(title) is not None
            or any_contains(bottom, BUSY_MARKERS)
            or any_match(bottom, WORKING_RE)
        )
        busy = True if busy_seen else (False if footer else None)
        prompt = dialog_prompt(tail, DIALOG_MARKERS) if needs_input else None
        return PaneProbe(busy=busy, needs_input=needs_input, ready=footer, prompt=prompt)

    def match_process(self, comm: str, argv: Sequence[str]) -> bool:
        args = _codex_args(comm, argv)
        if args is None:
            return False
        words = positionals(args, VALUE_OPTIONS)
        return not (words and words[0] in NOT_A_SESSION)

    def session_id_from_argv(self, argv: Sequence[str]) -> str | None:
        """`codex resume <id>` and `codex exec resume <id>`; `fork` mints a new id, `--last` names none."""
        args = _codex_args(basename(argv[0]) if argv else "", argv)
        if args is None:
            return None
        words = positionals(args, VALUE_OPTIONS)
        if words[:1] == ["exec"]:
            words = words[1:]
        if words[:1] != ["resume"] or len(words) < 2:
            return None
        return words[1] if is_uuid(words[1]) else None

    def read_summary(self, path: Path) -> DiscoveredConversation | None:
        return summarize_transcript(path, lambda: CodexTranscript(keep_entries=False), last_uuid_in(path.name))

    def native_relpath(self, cwd: str, file_name: str, content: bytes = b"") -> Path:
        """sessions/YYYY/MM/DD/ of the rollout's start day: from its name, else its first timestamp."""
        day = _ROLLOUT_DAY_RE.search(file_name)
        parts = day.groups() if day else None
        if parts is None:
            stamp = _TIMESTAMP_DAY_RE.search(content[: 64 * 1024])
            parts = tuple(p.decode() for p in stamp.groups()) if stamp else ("1970", "01", "01")
        return Path("sessions", *parts) / file_name

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
        argv = [binary, "resume", resume_id] if resume_id else [binary]
        return [*argv, *_common_args(sandbox, model, report_bin, headless=False), *passthrough]

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
        common = _common_args(sandbox, model, None, headless=True)
        if resume_id:
            return [binary, "exec", "resume", "--json", "--skip-git-repo-check", *common, *passthrough, resume_id,
                    "--", message]  # fmt: skip
        return [binary, "exec", "--json", "--skip-git-repo-check", *common, *passthrough, "--", message]

    def conversation_id_from_output(self, item: Mapping[str, Any]) -> str | None:
        if item.get("type") == "thread.started" and item.get("thread_id"):
            return str(item["thread_id"])
        return None

    def stream_deltas(self, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        return stream_events.codex_deltas(item)

    def headless_compact(self) -> HeadlessCompact:
        raise SeshError("not implemented: headless compaction for codex (codex exec has no /compact)",
                        "resume the session in a pane and compact there")

    def namer_argv(self, binary: str, model: str | None, prompt_text: str) -> list[str]:
        return [binary, "exec", "--skip-git-repo-check", "--ephemeral", "-s", "read-only",
                *(["-m", model] if model else []), prompt_text]  # fmt: skip

    def pane_context_window(self, pane_text: str) -> int | None:
        return None


ADAPTER = CodexAdapter()
