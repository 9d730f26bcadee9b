"""Codex CLI (0.169.0): paths, pane signals and process recognition."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from sesh_mesh.agents.base import AgentKind, DiscoveredConversation, PaneProbe
from sesh_mesh.agents.codex_transcript import CodexTranscript
from sesh_mesh.agents.ids import is_uuid, last_uuid_in, uuid7_time
from sesh_mesh.agents.pane import any_contains, any_match, nonblank_tail, pane_is_dead
from sesh_mesh.agents.procs import basename, positionals
from sesh_mesh.agents.transcript import TranscriptState, context_pct_of, summarize_transcript

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


def _codex_args(comm: str, argv: Sequence[str]) -> list[str] | None:
    """The arguments after the codex program, or None when the process is not codex."""
    if comm == "codex" or (argv and basename(argv[0]) == "codex"):
        return list(argv[1:])
    if comm in JS_LAUNCHERS and len(argv) > 1:
        script = argv[1]
        if basename(script) in ("codex", "codex.js") or "@openai/codex/" in script:
            return list(argv[2:])
    return None


class CodexAdapter:
    kind: ClassVar[AgentKind] = "codex"
    binary_name: ClassVar[str] = "codex"

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
        return PaneProbe(busy=busy, needs_input=needs_input, ready=footer)

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


ADAPTER = CodexAdapter()
