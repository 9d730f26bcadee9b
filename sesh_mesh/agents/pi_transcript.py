"""pi session parser (`sessions/--<cwd>--/<ts>_<uuid>.jsonl`, format version 3).

A user message starts a turn. An assistant message whose stopReason is `stop`/`length` completes
it, `aborted` aborts it, `error` fails it (its `errorMessage` is the agent's error text), and
`toolUse` continues it. pi files are trees (`parentId`); after
a /tree branch switch the file holds abandoned branches too. This parser reads entries in file
order, which is the live conversation except right after such a switch.
"""

from __future__ import annotations

from typing import ClassVar

from sesh_mesh.agents.base import AgentKind, EntryType, TurnOutcome, Usage
from sesh_mesh.agents.transcript import (
    JsonDict,
    TranscriptState,
    as_dict,
    as_int,
    as_list,
    as_str,
    clip,
    describe_tool_input,
)

IGNORED_TYPES = frozenset({"thinking_level_change", "label", "custom", "session_info"})
"""Entry types of session format 3 that carry nothing sesh uses."""

COMPLETED_STOPS = frozenset({"stop", "length"})


def _text_parts(content: object) -> str:
    if isinstance(content, str):
        return content
    parts = [
        as_str(part.get("text")) or ""
        for part in as_list(content)
        if isinstance(part, dict) and part.get("type") == "text"
    ]
    return "\n".join(parts)


class PiTranscript(TranscriptState):
    agent: ClassVar[AgentKind] = "pi"

    def _apply(self, record: JsonDict) -> bool:
        kind = record.get("type")
        ts = as_str(record.get("timestamp"))
        if kind in IGNORED_TYPES:
            return True
        self._touch(ts)
        if kind == "session":
            if self.agent_session_id is None:
                self.agent_session_id = as_str(record.get("id"))
            self.cwd = as_str(record.get("cwd")) or self.cwd
        elif kind == "model_change":
            self.model = as_str(record.get("modelId")) or self.model
        elif kind == "message":
            self._message(as_dict(record.get("message")), ts)
        elif kind == "compaction":
            self._add(ts, "system", "compaction", clip(as_str(record.get("summary")) or ""))
        elif kind == "branch_summary":
            self._add(ts, "system", "text", clip(as_str(record.get("summary")) or ""))
        elif kind == "custom_message":
            if record.get("display") is True:
                self._add(ts, "system", "text", clip(_text_parts(record.get("content"))))
        else:
            return False
        return True

    def _message(self, message: JsonDict, ts: str | None) -> None:
        role = message.get("role")
        if role == "user":
            text = _text_parts(message.get("content")).strip()
            self._begin_turn(text)
            self._note_prompt(text)
            self._add(ts, "user", "text", text)
        elif role == "assistant":
            self._assistant(message, ts)
        elif role == "toolResult":
            kind: EntryType = "error" if message.get("isError") is True else "tool_result"
            text = clip(_text_parts(message.get("content")))
            self._add(ts, "tool", kind, text, as_str(message.get("toolName")))
        elif role == "bashExecution":  # the user's own `!command`, outside any turn
            self._add(ts, "user", "command", "!" + (as_str(message.get("command")) or ""))
            self._add(ts, "tool", "tool_result", clip(as_str(message.get("output")) or ""), "bash")

    def _assistant(self, message: JsonDict, ts: str | None) -> None:
        self.model = as_str(message.get("model")) or self.model
        usage = as_dict(message.get("usage"))
        if usage:
            input_tokens = as_int(usage.get("input"))
            output_tokens = as_int(usage.get("output"))
            cache_read = as_int(usage.get("cacheRead"))
            cache_write = as_int(usage.get("cacheWrite"))
            # pi's own footer divides totalTokens by the window (1399/128k shows as 1.1%)
            total = as_int(usage.get("totalTokens")) or input_tokens + output_tokens + cache_read + cache_write
            self.usage = Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_tokens=cache_read,
                cache_creation_tokens=cache_write,
                context_tokens=total,
            )
            self._turn_usage(f"@{self._line_offset}", input_tokens, output_tokens)
        texts: list[str] = []
        for part in as_list(message.get("content")):
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                text = as_str(part.get("text")) or ""
                texts.append(text)
                self._add(ts, "assistant", "text", text)
            elif part.get("type") == "toolCall":
                name = as_str(part.get("name")) or "tool"
                self._add(ts, "assistant", "tool_call", describe_tool_input(part.get("arguments")), name)
        stop = as_str(message.get("stopReason"))
        if stop in COMPLETED_STOPS:
            self._end_turn(ts, "completed", "\n".join(texts))
        elif stop in ("aborted", "error"):
            error = as_str(message.get("errorMessage"))
            if error:
                self._add(ts, "system", "error", error)
            outcome: TurnOutcome = "aborted" if stop == "aborted" else "failed"
            self._end_turn(ts, outcome, None, stop or "", error=error or f"the model call ended with {stop}")
        else:
            self._start_turn()
