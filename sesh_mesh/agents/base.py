"""Common types shared by the agent adapters, and the AgentAdapter Protocol they implement."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sesh_mesh.agent_names import AgentKind as AgentKind  # noqa: PLC0414 (the explicit re-export mypy strict needs)
from sesh_mesh.agents.pane import DialogPrompt
from sesh_mesh.errors import UsageError

if TYPE_CHECKING:
    from sesh_mesh.agents.transcript import TranscriptState

HeadlessCompact = Literal["turn", "rpc"]
"""How a session with no pane compacts: a headless `/compact` turn, or the agent's RPC mode."""
TurnStatus = Literal["busy", "idle", "unknown"]
EntryRole = Literal["user", "assistant", "tool", "system"]
EntryType = Literal["text", "tool_call", "tool_result", "turn_end", "compaction", "command", "error"]
TurnOutcome = Literal["completed", "aborted", "failed"]
"""How a turn ended: its reply came; it was interrupted; it ended in an error (model, agent).
"""
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
"""What a launched agent may change: nothing, its workspace, or anything. The adapters map each
to their CLI's flags and refuse one their agent cannot honour; None is the agent's own default."""

SANDBOX_MODES: tuple[SandboxMode, ...] = ("read-only", "workspace-write", "danger-full-access")

CLEAR_INPUT_KEYS: tuple[tuple[str, ...], ...] = (("Down",) * 4 + ("C-e", "C-u", "BSpace") * 4,
                                                ("C-e", "C-u", "BSpace") * 4)
"""Down to the draft's last line; then end of line, delete to its start, join the line above:
eight lines of draft (and the shell mode a leading `!` turned on) are gone, and on an empty input
each key does nothing. The same readline keys work in claude's, codex's and pi's input editors.
Sent as a few small bursts: claude takes a burst of some 30 keys at once as a paste and ignores it."""


def sandbox_mode(value: object) -> SandboxMode | None:
    """A record's or a request's `sandbox`: a mode, None, or the boolean older records carry
    (true was read-only). A UsageError names the modes for anything else."""
    if value is None or value is False:
        return None
    if value is True:
        return "read-only"
    for mode in SANDBOX_MODES:
        if value == mode:
            return mode
    raise UsageError(f"unknown sandbox mode {value!r}", "use one of " + ", ".join(SANDBOX_MODES))


@dataclass(frozen=True)
class TranscriptEntry:
    """One normalized transcript event, as `sesh tail` / `sesh transcript` print it."""

    ts: str | None
    role: EntryRole
    type: EntryType
    text: str
    tool: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"ts": self.ts, "role": self.role, "type": self.type, "text": self.text, "tool": self.tool}


@dataclass(frozen=True)
class Usage:
    """Token usage of the latest model response; `context_tokens` is what sits in the context window."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    context_tokens: int


@dataclass(frozen=True)
class PaneProbe:
    """What a capture-pane says. `busy` is None when the pane shows no recognisable agent UI."""

    busy: bool | None
    needs_input: bool
    ready: bool
    prompt: DialogPrompt | None = None
    """What the waiting dialog asks, when `needs_input` and the adapter can read it."""


@dataclass
class Turn:
    """One turn as its transcript tells it: where it started, what started it, how it ended.

    A turn is known by its position (`offset`, the byte where the record that opened it starts)
    and its prompt, so `send` can tell the turn its own message started from any other."""

    number: int
    """1 for the first turn this parser saw start."""
    offset: int
    prompt: str | None
    """The user text that opened it (None until seen: codex opens the turn, then records it)."""
    outcome: TurnOutcome | None = None
    """None while the turn runs."""
    reply: str | None = None
    error: str | None = None
    """The agent's own error text, when it reported one."""
    started_s: float | None = None
    """When the record that opened it says it was written (wall clock, seconds), if it says."""
    responses: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Each model response of the turn, by an id of the response: (input, output) tokens. Keyed,
    because an agent may write one response's usage more than once (claude: once per block)."""

    def usage(self) -> tuple[int, int, int] | None:
        """(input, output) tokens summed over the turn's responses, and how many; None if none seen."""
        if not self.responses:
            return None
        return (sum(i for i, _ in self.responses.values()), sum(o for _, o in self.responses.values()),
                len(self.responses))


@dataclass(frozen=True)
class TranscriptSnapshot:
    """An immutable copy of a TranscriptState's accumulated facts (everything but the entries)."""

    agent: AgentKind
    agent_session_id: str | None
    cwd: str | None
    model: str | None
    first_prompt: str | None
    last_activity: str | None
    turn_status: TurnStatus
    turns_completed: int
    turns_aborted: int
    turns_failed: int
    last_turn_outcome: TurnOutcome | None
    usage: Usage | None
    context_window: int | None
    last_reply: str | None
    offset: int
    entry_count: int
    records: int
    bad_lines: int
    unknown_records: int


@dataclass(frozen=True)
class DiscoveredConversation:
    """A conversation found on disk by `sesh discover` (the daemon adds `live`)."""

    agent: AgentKind
    agent_session_id: str
    cwd: str | None
    file_path: Path
    first_prompt: str | None
    last_activity: str | None

    def to_json(self) -> dict[str, str | None]:
        return {
            "agent": self.agent,
            "agentSessionId": self.agent_session_id,
            "cwd": self.cwd,
            "filePath": str(self.file_path),
            "firstPrompt": self.first_prompt,
            "lastActivity": self.last_activity,
        }


class AgentAdapter(Protocol):
    """Everything sesh knows about one agent CLI. Implementations hold no state and do no tmux I/O."""

    @property
    def kind(self) -> AgentKind: ...

    @property
    def binary_name(self) -> str: ...

    @property
    def quit_command(self) -> str:
        """What typed into the pane (then Enter) makes the agent quit."""
        ...

    @property
    def compact_command(self) -> str:
        """What typed into the pane (then Enter) compacts the conversation."""
        ...

    @property
    def clear_input_keys(self) -> Sequence[Sequence[str]]:
        """Bursts of tmux keys (one send-keys each) that empty the TUI's input line, whatever draft
        (several lines, a shell-mode `!`) sits there, without sending it and without quitting
        (never C-c: on an empty input claude asks to quit and codex quits)."""
        ...

    @property
    def command_chars(self) -> str:
        """First characters that turn typed input into the TUI's own command or mode (`/cmd`,
        `!shell`) instead of a message to the model; sesh types a space before such a message,
        which the TUI trims, so the model gets the text as written."""
        ...

    @property
    def untypable_chars(self) -> str:
        """First characters that make typed input a command even behind a leading space (pi runs
        ` !cmd` in its shell): such a message cannot be typed into the pane as text."""
        ...

    @property
    def takes_session_id(self) -> bool:
        """A new conversation takes sesh's uuid as its own id (so agentSessionId is known at once)."""
        ...

    @property
    def resumes_from_file(self) -> bool:
        """The conversation is named by its transcript file, which sesh picks at launch and passes
        on every resume (pi's --session), rather than by a conversation id."""
        ...

    @property
    def headless_message_on_stdin(self) -> bool:
        """`headless_argv` leaves the message out; it goes on the turn's stdin instead, because the
        CLI has no `--` and would read a message starting with `-` or `@` as a flag or a file (pi)."""
        ...

    @property
    def has_session_registry(self) -> bool:
        """The agent keeps a registry of its running sessions (`read_registry`), the best authority
        on turn state."""
        ...

    def data_dir(self, env: Mapping[str, str]) -> Path:
        """The agent's config/data dir from its env override, else the default under HOME."""
        ...

    def transcript_path_for(self, data_dir: Path, cwd: str, agent_session_id: str) -> Path | None:
        """Where the conversation's transcript is (or, for claude, will be); None when not found."""
        ...

    def iter_transcripts(self, data_dir: Path) -> Iterator[Path]:
        """Every main-conversation transcript file under data_dir, for discovery."""
        ...

    def new_transcript_state(self, *, keep_entries: bool = True) -> TranscriptState:
        """A fresh incremental parser positioned at byte offset 0."""
        ...

    def context_pct(self, state: TranscriptState) -> int | None:
        """Percent of the model's context window in use, or None when usage is unknown."""
        ...

    def probe_pane(self, text: str, title: str = "") -> PaneProbe:
        """Busy / needs-input / ready from a capture-pane text and the pane title (the floor authority)."""
        ...

    def input_is_empty(self, text: str) -> bool:
        """The capture shows the input line, and it holds no draft: typing may skip the clearing
        keys (`clear_input_keys`, some 70 ms). False whenever unsure: the keys are then sent."""
        ...

    def match_process(self, comm: str, argv: Sequence[str]) -> bool:
        """Whether a process (comm as in /proc/<pid>/comm, full argv) is this agent's interactive CLI."""
        ...

    def session_id_from_argv(self, argv: Sequence[str]) -> str | None:
        """The conversation id (pi: the --session value, a path or id) the argv names, if any."""
        ...

    def read_summary(self, path: Path) -> DiscoveredConversation | None:
        """Id, cwd, first prompt and last activity of a transcript file; None if unreadable or id-less."""
        ...

    def native_relpath(self, cwd: str, file_name: str, content: bytes = b"") -> Path:
        """Where, relative to its data dir, the agent looks for the transcript `file_name` of a
        conversation in `cwd` (`content` is the transcript, for agents that file by date)."""
        ...

    def new_session_file(self, data_dir: Path, cwd: str, now: datetime) -> Path | None:
        """The transcript file sesh picks for a new conversation, when `resumes_from_file`."""
        ...

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
        """argv for the agent's TUI in a pane: a new conversation, or `resume_id` (or
        `session_file`, when `resumes_from_file`) resumed, with turn reporters wired to `report_bin`.
        A `sandbox` mode the agent cannot honour is a UsageError naming the modes it can."""
        ...

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
        """argv for one headless turn with JSON-lines output (new, or resuming). With `sandbox`
        None a headless turn may edit files in its cwd (no one is there to approve an edit)."""
        ...

    def conversation_id_from_output(self, item: Mapping[str, Any]) -> str | None:
        """The conversation id one JSON line of `headless_argv`'s output announces, if it does."""
        ...

    def stream_deltas(self, item: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One JSON line of `headless_argv`'s output as neutral deltas (agents/stream_events.py)."""
        ...

    def headless_compact(self) -> HeadlessCompact:
        """How the agent compacts without a pane; a SeshError naming the gap when it cannot."""
        ...

    def namer_argv(self, binary: str, model: str | None, prompt_text: str) -> list[str]:
        """A headless, tool-less turn that saves no conversation (discovery must not adopt it)."""
        ...

    def pane_context_window(self, pane_text: str) -> int | None:
        """The context window the pane itself shows (pi's footer), over what the transcript implies."""
        ...
