"""Common types shared by the agent adapters, and the AgentAdapter Protocol they implement."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from sesh_mesh.agents.transcript import TranscriptState

AgentKind = Literal["claude", "codex", "pi"]
TurnStatus = Literal["busy", "idle", "unknown"]
EntryRole = Literal["user", "assistant", "tool", "system"]
EntryType = Literal["text", "tool_call", "tool_result", "turn_end", "compaction", "command", "error"]
TurnOutcome = Literal["completed", "aborted"]


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
    """A conversation found on disk by `sesh discover` (SPEC §4a; the daemon adds `live`)."""

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

    def match_process(self, comm: str, argv: Sequence[str]) -> bool:
        """Whether a process (comm as in /proc/<pid>/comm, full argv) is this agent's interactive CLI."""
        ...

    def session_id_from_argv(self, argv: Sequence[str]) -> str | None:
        """The conversation id (pi: the --session value, a path or id) the argv names, if any."""
        ...

    def read_summary(self, path: Path) -> DiscoveredConversation | None:
        """Id, cwd, first prompt and last activity of a transcript file; None if unreadable or id-less."""
        ...
