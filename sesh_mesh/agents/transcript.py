"""The incremental transcript parser shared by all agents, entry rendering, and the discovery summary.

A TranscriptState is fed the bytes of a JSONL transcript read from its `offset`. It consumes only
complete `\\n`-terminated lines, so a line the agent is still writing is left for the next read, and
it never raises on bad input: unparsable lines and records of unexpected shape are counted and
skipped. Each agent subclass interprets records in `_apply`.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from sesh_mesh.agents.base import (
    AgentKind,
    DiscoveredConversation,
    EntryRole,
    EntryType,
    TranscriptEntry,
    TranscriptSnapshot,
    Turn,
    TurnOutcome,
    TurnStatus,
    Usage,
)
from sesh_mesh.agents.ids import epoch_from_iso, iso_from_epoch

TOOL_TEXT_LIMIT = 4000
"""Tool call/result text kept per entry: file reads and command output can be megabytes, and
`sesh tail` wants a readable line, not the payload."""

SUMMARY_WHOLE_FILE_BYTES = 4 * 1024 * 1024
"""read_summary parses files up to this size whole (last activity = last timestamp); bigger files
only have their head parsed, and their mtime stands for the last activity."""

SUMMARY_CHUNK_BYTES = 256 * 1024

TURNS_KEPT = 32
"""Turns a state remembers (position, prompt, outcome, reply): enough for a `send` to find its own
turn after a few others, bounded for a transcript of thousands of turns."""

JsonDict = dict[str, Any]


def as_dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: object) -> int:
    # bool is an int subclass; a JSON true is never a token count
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def clip(text: str, limit: int = TOOL_TEXT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [+{len(text) - limit} chars]"


TOOL_INPUT_KEYS = ("command", "cmd", "file_path", "path", "pattern", "url", "query", "description", "prompt")
"""Argument names that say what a tool call does, most telling first (Bash command, Read path, …)."""


def describe_tool_input(arguments: object) -> str:
    """A one-line description of a tool call's arguments for rendering."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return clip(str(arguments))
    if isinstance(arguments, dict):
        for key in TOOL_INPUT_KEYS:
            value = arguments.get(key)
            if isinstance(value, str) and value:
                return clip(value)
            if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
                return clip(" ".join(value))
    return clip(json.dumps(arguments, ensure_ascii=False, sort_keys=True))


class TranscriptState(ABC):
    """Accumulated facts of one transcript, fed incrementally. Never raises on bad input."""

    agent: ClassVar[AgentKind]

    def __init__(self, *, keep_entries: bool = True) -> None:
        self.keep_entries = keep_entries
        self.offset = 0
        self.agent_session_id: str | None = None
        self.cwd: str | None = None
        self.model: str | None = None
        self.first_prompt: str | None = None
        self.last_activity: str | None = None
        self.turn_status: TurnStatus = "unknown"
        self.turns_completed = 0
        self.turns_aborted = 0
        self.turns_failed = 0
        self.turns_started = 0
        self.turns: deque[Turn] = deque(maxlen=TURNS_KEPT)
        self._line_offset = 0
        self.last_turn_outcome: TurnOutcome | None = None
        self.usage: Usage | None = None
        self.context_window: int | None = None
        self.last_reply: str | None = None
        self.entries: list[TranscriptEntry] = []
        self.records = 0
        self.bad_lines = 0
        self.unknown_records = 0

    def feed(self, data: bytes) -> int:
        """Consume the complete lines of `data`, which was read from byte `self.offset`.

        Returns the new offset: the start of the first byte not consumed (a partial last line).
        The caller reads from there next time.
        """
        end = data.rfind(b"\n")
        if end < 0:
            return self.offset
        position = self.offset
        for raw_line in data[:end].split(b"\n"):
            self._line_offset = position
            self._consume_line(raw_line)
            position += len(raw_line) + 1
        self.offset += end + 1
        return self.offset

    def snapshot(self) -> TranscriptSnapshot:
        return TranscriptSnapshot(
            agent=self.agent,
            agent_session_id=self.agent_session_id,
            cwd=self.cwd,
            model=self.model,
            first_prompt=self.first_prompt,
            last_activity=self.last_activity,
            turn_status=self.turn_status,
            turns_completed=self.turns_completed,
            turns_aborted=self.turns_aborted,
            turns_failed=self.turns_failed,
            last_turn_outcome=self.last_turn_outcome,
            usage=self.usage,
            context_window=self.context_window,
            last_reply=self.last_reply,
            offset=self.offset,
            entry_count=len(self.entries),
            records=self.records,
            bad_lines=self.bad_lines,
            unknown_records=self.unknown_records,
        )

    def _consume_line(self, raw_line: bytes) -> None:
        line = raw_line.strip()
        if not line:
            return
        try:
            record = json.loads(line)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError both derive from it
            self.bad_lines += 1
            return
        if not isinstance(record, dict):
            self.bad_lines += 1
            return
        self.records += 1
        try:
            known = self._apply(record)
        except Exception:  # noqa: BLE001
            # Format drift in a CLI update (a field of an unexpected type) must cost one record,
            # never the whole transcript; the count shows up in the snapshot.
            self.bad_lines += 1
            return
        if not known:
            self.unknown_records += 1

    @abstractmethod
    def _apply(self, record: JsonDict) -> bool:
        """Interpret one record; return False for a record type this parser does not know."""

    # Helpers for the agent subclasses.

    def _touch(self, ts: object) -> None:
        if isinstance(ts, str) and ts:
            self.last_activity = ts

    def _add(self, ts: str | None, role: EntryRole, kind: EntryType, text: str, tool: str | None = None) -> None:
        if self.keep_entries:
            self.entries.append(TranscriptEntry(ts=ts, role=role, type=kind, text=text, tool=tool))

    def _note_prompt(self, text: str) -> None:
        if self.first_prompt is None and text.strip():
            self.first_prompt = text.strip()

    def _start_turn(self) -> None:
        self.turn_status = "busy"

    def _begin_turn(self, prompt: str | None) -> None:
        """A new turn opens at the record being consumed: a user's prompt, or (codex) the agent's
        own turn-start record, whose prompt follows (`_turn_prompt`)."""
        self._start_turn()
        self.turns_started += 1
        # Parsed once here: the watcher reads it on every look at the session.
        self.turns.append(Turn(self.turns_started, self._line_offset, prompt,
                               started_s=epoch_from_iso(self.last_activity)))

    def _turn_usage(self, key: str, input_tokens: int, output_tokens: int) -> None:
        """One model response's usage, counted in the open turn (the same `key` counts once)."""
        turn = self.turns[-1] if self.turns else None
        if turn is not None and turn.outcome is None:
            turn.responses[key] = (input_tokens, output_tokens)

    def _turn_prompt(self, prompt: str) -> None:
        """The prompt of the open turn, when its opening record did not carry it."""
        turn = self.turns[-1] if self.turns else None
        if turn is not None and turn.outcome is None and turn.prompt is None:
            turn.prompt = prompt

    def _end_turn(self, ts: str | None, outcome: TurnOutcome, reply: str | None, detail: str = "",
                  error: str | None = None) -> bool:
        """Close the open turn once; a second end signal for the same turn is ignored."""
        if self.turn_status == "idle":
            return False
        self.turn_status = "idle"
        self.last_turn_outcome = outcome
        if outcome == "completed":
            self.turns_completed += 1
            self.last_reply = reply
        elif outcome == "failed":
            self.turns_failed += 1
        else:
            self.turns_aborted += 1
        turn = self.turns[-1] if self.turns else None
        if turn is not None and turn.outcome is None:
            turn.outcome, turn.reply, turn.error = outcome, reply if outcome == "completed" else None, error
        self._add(ts, "system", "turn_end", f"{outcome}: {detail}" if detail else outcome)
        return True

    def turns_after(self, offset: int) -> list[Turn]:
        """The remembered turns that opened at or after byte `offset`, oldest first."""
        return [turn for turn in self.turns if turn.offset >= offset]


def context_pct_of(state: TranscriptState, window: int | None) -> int | None:
    """Rounded percent of `window` used by the latest usage, clamped to 0..100."""
    if state.usage is None or not window or window <= 0:
        return None
    return max(0, min(100, round(100 * state.usage.context_tokens / window)))


def render_entry(entry: TranscriptEntry, max_lines: int = 6) -> str:
    """A readable rendering of one entry: `HH:MM:SS role: text`, long texts cut to max_lines."""
    clock = entry.ts[11:19] if entry.ts and len(entry.ts) >= 19 else "--:--:--"
    if entry.type == "turn_end":
        return f"{clock} ── turn {entry.text} ──"
    if entry.type == "compaction":
        return f"{clock} ── compacted ──" + (f" {first_line(entry.text)}" if entry.text else "")
    labels: Mapping[str, str] = {
        "tool_call": f"→ {entry.tool or 'tool'}",
        "tool_result": f"← {entry.tool or 'tool'}",
        "command": f"{entry.role} command",
        "error": f"{entry.role} error",
    }
    label = labels.get(entry.type, entry.role)
    lines = entry.text.splitlines() or [""]
    shown = lines[:max_lines]
    if len(lines) > max_lines:
        shown.append(f"… (+{len(lines) - max_lines} lines)")
    indent = " " * (len(clock) + len(label) + 3)
    return f"{clock} {label}: " + f"\n{indent}".join(shown)


def first_line(text: str, limit: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summarize_transcript(
    path: Path,
    make_state: Callable[[], TranscriptState],
    fallback_id: str | None,
) -> DiscoveredConversation | None:
    """Parse a transcript (whole if small, else its head) into a discovery summary."""
    state = make_state()
    try:
        with path.open("rb") as handle:
            stat = os.fstat(handle.fileno())
            whole = stat.st_size <= SUMMARY_WHOLE_FILE_BYTES
            pending = b""
            bytes_read = 0
            while whole or bytes_read < SUMMARY_WHOLE_FILE_BYTES:
                chunk = handle.read(SUMMARY_CHUNK_BYTES)
                bytes_read += len(chunk)
                if not chunk:
                    if pending:  # a final line without its newline still describes the file
                        state.feed(pending + b"\n")
                    break
                before = state.offset
                state.feed(pending + chunk)
                pending = (pending + chunk)[state.offset - before :]
                if not whole and state.first_prompt and state.agent_session_id and state.cwd:
                    break
    except OSError:
        return None
    session_id = state.agent_session_id or fallback_id
    if not session_id:
        return None
    last_activity = state.last_activity if whole and state.last_activity else iso_from_epoch(stat.st_mtime)
    return DiscoveredConversation(
        agent=state.agent,
        agent_session_id=session_id,
        cwd=state.cwd,
        file_path=path,
        first_prompt=state.first_prompt,
        last_activity=last_activity,
    )
