"""pi coding agent (0.73.1): paths, launch argv, pane signals and process recognition."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from importlib import resources
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
from sesh_mesh.agents.ids import iso_z, last_uuid_in, uuid7
from sesh_mesh.agents.launch import COMPACT_COMMAND
from sesh_mesh.agents.pane import any_match, nonblank_tail, pane_is_dead
from sesh_mesh.agents.pi_transcript import PiTranscript
from sesh_mesh.agents.procs import basename, option_value
from sesh_mesh.agents.transcript import TranscriptState, context_pct_of, summarize_transcript
from sesh_mesh.errors import SeshError, UsageError

# --- pane patterns (all of pi's screen knowledge lives here) ---

WORKING_RE = re.compile(r"^\s*[\u2801-\u28ff]\s+\S.*\.\.\.\s*$")
"""`⠇ Working...` above the editor for the whole turn, waiting and streaming alike."""

FOOTER_RE = re.compile(r"(?:\d+(?:\.\d+)?|\?)%/(\d+(?:\.\d+)?)([kM])\b")
"""Footer token stats `↑1.4k ↓10 1.1%/128k (auto)`: context use over the model's window."""

PANE_TAIL_LINES = 15
"""pi 0.73.1 shows no trust, permission or onboarding dialogs, so needs_input is never set."""

# --- the rest of pi's specifics ---

PI_DEFAULT_CONTEXT_WINDOW = 128_000
"""The window pi's footer showed for a model unknown to its registry (`/128k`)."""

PI_MODEL_WINDOWS = (("claude-", 200_000),)
"""Model-name prefixes whose window is known without pi's models.json."""

READ_ONLY_PI_TOOLS = "read,grep,find,ls"
"""`--tools` of a sandboxed pi: its read-only built-ins."""


def _tool_args(sandbox: SandboxMode | None) -> list[str]:
    """pi has no sandbox, only a choice of tools: read-only is its read-only built-ins, full access
    its default tools, and a write confined to the workspace is beyond it."""
    if sandbox == "workspace-write":
        raise UsageError("pi cannot honour --sandbox workspace-write: its tools read and write anywhere",
                         "use --sandbox read-only, or --sandbox danger-full-access (pi's default tools)")
    return ["--tools", READ_ONLY_PI_TOOLS] if sandbox == "read-only" else []


def pi_reporter_path() -> Path:
    """The pi extension (`-e`) that reports turn state to sesh."""
    return Path(str(resources.files("sesh_mesh.agents.reporters").joinpath("pi_reporter.js")))


def pi_session_dir(data_dir: Path, cwd: str) -> Path:
    """pi's per-cwd session dir: one leading separator dropped, then `/`, `\\` and `:` become '-'."""
    trimmed = cwd[1:] if cwd[:1] in ("/", "\\") else cwd
    return data_dir / "sessions" / ("--" + re.sub(r"[/\\:]", "-", trimmed) + "--")


def new_pi_session_path(data_dir: Path, cwd: str, now: datetime, session_uuid: str | None = None) -> Path:
    """A fresh session file path in pi's own naming, for `pi --session <path>`.

    pi creates the file there (at the first completed assistant message) but generates the id in
    the header itself, so the uuid in this name is not the agentSessionId: read it from the file.
    """
    stamp = iso_z(now).replace(":", "-").replace(".", "-")
    return pi_session_dir(data_dir, cwd) / f"{stamp}_{session_uuid or uuid7(now)}.jsonl"


def footer_context_window(text: str) -> int | None:
    """The context window pi's footer shows (`1.1%/128k` → 128000), if the pane has one."""
    for line in reversed(nonblank_tail(text, 4)):
        match = FOOTER_RE.search(line)
        if match:
            scale = 1_000 if match.group(2) == "k" else 1_000_000
            return round(float(match.group(1)) * scale)
    return None


def _header_id(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            state = PiTranscript(keep_entries=False)
            state.feed(handle.readline(64 * 1024))
    except OSError:
        return None
    return state.agent_session_id


class PiAdapter:
    kind: ClassVar[AgentKind] = "pi"
    binary_name: ClassVar[str] = "pi"
    quit_command: ClassVar[str] = "/quit"
    compact_command: ClassVar[str] = COMPACT_COMMAND
    clear_input_keys: ClassVar[tuple[tuple[str, ...], ...]] = CLEAR_INPUT_KEYS
    command_chars: ClassVar[str] = "/"
    untypable_chars: ClassVar[str] = "!"
    takes_session_id: ClassVar[bool] = False
    resumes_from_file: ClassVar[bool] = True
    has_session_registry: ClassVar[bool] = False
    headless_message_on_stdin: ClassVar[bool] = True

    def data_dir(self, env: Mapping[str, str]) -> Path:
        override = env.get("PI_CODING_AGENT_DIR")
        if override:
            return Path(override).expanduser()
        return Path(env.get("HOME") or Path.home()) / ".pi" / "agent"

    def transcript_path_for(self, data_dir: Path, cwd: str, agent_session_id: str) -> Path | None:
        """The file named after the id (cwd's dir first, then every dir); failing that, a file in
        cwd's dir whose header carries the id (files made with `--session <path>` are named freely)."""
        own_dir = pi_session_dir(data_dir, cwd)
        for found in own_dir.glob(f"*_{agent_session_id}.jsonl"):
            return found
        for found in (data_dir / "sessions").glob(f"*/*_{agent_session_id}.jsonl"):
            return found
        for candidate in sorted(own_dir.glob("*.jsonl")):
            if _header_id(candidate) == agent_session_id:
                return candidate
        return None

    def iter_transcripts(self, data_dir: Path) -> Iterator[Path]:
        yield from sorted((data_dir / "sessions").glob("*/*.jsonl"))

    def new_transcript_state(self, *, keep_entries: bool = True) -> TranscriptState:
        return PiTranscript(keep_entries=keep_entries)

    def context_window(self, model: str | None) -> int:
        for prefix, window in PI_MODEL_WINDOWS:
            if model and model.startswith(prefix):
                return window
        return PI_DEFAULT_CONTEXT_WINDOW

    def context_pct(self, state: TranscriptState) -> int | None:
        return context_pct_of(state, state.context_window or self.context_window(state.model))

    def input_is_empty(self, text: str) -> bool:
        return False  # not read: the clearing keys cost ~70 ms, and a send here meets its goal with them

    def probe_pane(self, text: str, title: str = "") -> PaneProbe:
        tail = nonblank_tail(text, PANE_TAIL_LINES)
        if pane_is_dead(tail):
            return PaneProbe(busy=None, needs_input=False, ready=False)
        ready = any_match(tail[-3:], FOOTER_RE)
        if any_match(tail[-8:], WORKING_RE):
            return PaneProbe(busy=True, needs_input=False, ready=ready)
        return PaneProbe(busy=False if ready else None, needs_input=False, ready=ready)

    def match_process(self, comm: str, argv: Sequence[str]) -> bool:
        # pi rewrites its process title to `pi`, so comm and argv[0] are all that is left of it
        return comm == "pi" or (bool(argv) and basename(argv[0]) == "pi")

    def session_id_from_argv(self, argv: Sequence[str]) -> str | None:
        """The `--session` value, a session file path or an id (prefix); ps shows no argv for pi,
        so this only helps with command lines sesh built itself."""
        return option_value(argv[1:], ("--session",))

    def read_summary(self, path: Path) -> DiscoveredConversation | None:
        return summarize_transcript(path, lambda: PiTranscript(keep_entries=False), last_uuid_in(path.name))

    def native_relpath(self, cwd: str, file_name: str, content: bytes = b"") -> Path:
        return pi_session_dir(Path(), cwd) / file_name

    def new_session_file(self, data_dir: Path, cwd: str, now: datetime) -> Path | None:
        return new_pi_session_path(data_dir, cwd, now)

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
        """A new conversation and a resumed one alike run on `session_file` (pi's --session)."""
        if not session_file:
            raise SeshError("pi needs a session file to launch", "this is a sesh bug: report it")
        argv = [binary, "--session", session_file]
        if model:
            argv += ["--model", model]
        argv += _tool_args(sandbox)
        if report_bin:
            argv += ["-e", str(pi_reporter_path())]
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
        if not session_file:
            raise SeshError("pi needs a session file for a headless turn", "this is a sesh bug: report it")
        argv = [binary, "-p", "--mode", "json", "--session", session_file]
        if model:
            argv += ["--model", model]
        argv += _tool_args(sandbox)
        # pi takes no `--`: a message argument starting with `-` is an unknown option and one
        # starting with `@` a file to attach, so the message goes on stdin (pi strips its ends).
        return [*argv, *passthrough]

    def conversation_id_from_output(self, item: Mapping[str, Any]) -> str | None:
        if item.get("type") == "session" and item.get("id"):
            return str(item["id"])
        return None

    def stream_deltas(self, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        return stream_events.pi_deltas(item)

    def headless_compact(self) -> HeadlessCompact:
        return "rpc"

    def namer_argv(self, binary: str, model: str | None, prompt_text: str) -> list[str]:
        return [binary, "-p", "--no-session", "--no-tools", *(["--model", model] if model else []), prompt_text]

    def pane_context_window(self, pane_text: str) -> int | None:
        return footer_context_window(pane_text)


ADAPTER = PiAdapter()
