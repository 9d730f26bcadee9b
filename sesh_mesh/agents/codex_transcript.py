"""Codex rollout parser (`sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`).

Each line is `{timestamp, ordinal, type, payload}`. Turn boundaries are `event_msg` task_started,
task_complete (whose `last_agent_message` is the reply) and turn_aborted. A task_complete that
carries an `error` (the model call failed for good: codex retries a failing stream itself first),
or an `error` event in the turn with no agent message after it, makes a failed turn with that
message. Conversation content
comes from `response_item`s only: the `event_msg` item_completed records repeat the same items.
"""

from __future__ import annotations

import json
from typing import ClassVar

from sesh_mesh.agents.base import AgentKind, Usage
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

IGNORED_TYPES = frozenset({"world_state", "token_usage_record"})
"""Top-level types seen in 0.169.0 rollouts that add nothing (token_count carries the same usage)."""

HARNESS_PREFIXES = (
    "<environment_context>",
    "<permissions instructions>",
    "<user_instructions>",
    "<skills_instructions>",
    "<collaboration_mode>",
    "<turn_aborted>",
    "<user_shell_command>",
    "# AGENTS.md instructions",
)
"""User-role items the harness injects; only other user items are typed prompts."""

OUTPUT_MARKER = "\nOutput:\n"
"""exec_command results start `Chunk ID: …\\nWall time: …\\nProcess exited with code N\\n…\\nOutput:\\n`;
the text after the marker is the command's output."""


def _message_text(content: object, part_type: str) -> str:
    parts = [
        as_str(part.get("text")) or ""
        for part in as_list(content)
        if isinstance(part, dict) and part.get("type") == part_type
    ]
    return "\n".join(parts)


def _tool_output(output: object) -> str:
    if isinstance(output, dict):  # some versions wrap it: {"content": …, "success": …}
        output = output.get("content")
    if isinstance(output, list):
        output = _message_text(output, "input_text") or _message_text(output, "output_text")
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    if text.startswith("Chunk ID:") and OUTPUT_MARKER in text:
        text = text.split(OUTPUT_MARKER, 1)[1]
    return clip(text)


class CodexTranscript(TranscriptState):
    agent: ClassVar[AgentKind] = "codex"

    def __init__(self, *, keep_entries: bool = True) -> None:
        super().__init__(keep_entries=keep_entries)
        self._tool_names: dict[str, str] = {}
        self._turn_last_text: str | None = None
        self._turn_error: str | None = None

    def _apply(self, record: JsonDict) -> bool:
        kind = record.get("type")
        ts = as_str(record.get("timestamp"))
        payload = as_dict(record.get("payload"))
        if kind in IGNORED_TYPES:
            return True
        self._touch(ts)
        if kind == "session_meta":
            if self.agent_session_id is None:
                self.agent_session_id = as_str(payload.get("id")) or as_str(payload.get("session_id"))
            self.cwd = as_str(payload.get("cwd")) or self.cwd
        elif kind == "turn_context":
            self.cwd = as_str(payload.get("cwd")) or self.cwd
            self.model = as_str(payload.get("model")) or self.model
        elif kind == "event_msg":
            self._event(payload, ts)
        elif kind == "response_item":
            self._item(payload, ts)
        elif kind == "compacted":
            self._add(ts, "system", "compaction", clip(as_str(payload.get("message")) or ""))
        else:
            return False
        return True

    def _event(self, payload: JsonDict, ts: str | None) -> None:
        event = payload.get("type")
        if event == "task_started":
            self._begin_turn(None)
            self._turn_last_text = None
            self._turn_error = None
            self.context_window = as_int(payload.get("model_context_window")) or self.context_window
        elif event == "task_complete":
            reply = as_str(payload.get("last_agent_message"))
            failure = as_dict(payload.get("error"))
            if failure:
                self._turn_error = as_str(failure.get("message")) or "codex reported an error"
                self._add(ts, "system", "error", clip(self._turn_error))
            if self._turn_error is not None and reply is None:
                self._end_turn(ts, "failed", None, "error", error=self._turn_error)
            else:
                self._end_turn(ts, "completed", reply if reply is not None else self._turn_last_text)
        elif event == "error":
            self._turn_error = as_str(payload.get("message")) or "codex reported an error"
            self._add(ts, "system", "error", clip(self._turn_error))
        elif event == "turn_aborted":
            self._end_turn(ts, "aborted", None, as_str(payload.get("reason")) or "")
        elif event == "token_count":
            info = as_dict(payload.get("info"))
            self.context_window = as_int(info.get("model_context_window")) or self.context_window
            last = as_dict(info.get("last_token_usage"))
            if last:
                input_tokens = as_int(last.get("input_tokens"))
                output_tokens = as_int(last.get("output_tokens"))
                self.usage = Usage(
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    cache_read_tokens=as_int(last.get("cached_input_tokens")),
                    cache_creation_tokens=as_int(last.get("cache_write_input_tokens")),
                    # input_tokens already includes the cached part (OpenAI usage semantics)
                    context_tokens=as_int(last.get("total_tokens")) or input_tokens + output_tokens,
                )
                # codex repeats token_count for one response; the running total names the response
                total = as_int(as_dict(info.get("total_token_usage")).get("total_tokens"))
                self._turn_usage(f"total-{total}" if total else f"@{self._line_offset}", input_tokens, output_tokens)
        elif event == "thread_settings_applied":
            self.model = as_str(as_dict(payload.get("thread_settings")).get("model")) or self.model
        elif event == "context_compacted" and not (self.entries and self.entries[-1].type == "compaction"):
            self._add(ts, "system", "compaction", "")

    def _item(self, payload: JsonDict, ts: str | None) -> None:
        item = payload.get("type")
        if item == "message":
            role = payload.get("role")
            if role == "user":
                text = _message_text(payload.get("content"), "input_text").strip()
                if text and not text.startswith(HARNESS_PREFIXES):
                    self._turn_prompt(text)
                    self._note_prompt(text)
                    self._add(ts, "user", "text", text)
            elif role == "assistant":
                text = _message_text(payload.get("content"), "output_text")
                if text:
                    self._turn_last_text = text
                    self._turn_error = None
                    self._add(ts, "assistant", "text", text)
        elif item in ("function_call", "custom_tool_call", "local_shell_call"):
            name = as_str(payload.get("name")) or ("shell" if item == "local_shell_call" else "tool")
            call_id = as_str(payload.get("call_id"))
            if call_id:
                self._tool_names[call_id] = name
            arguments = payload.get("arguments", payload.get("input", payload.get("action")))
            self._add(ts, "assistant", "tool_call", describe_tool_input(arguments), name)
        elif item in ("function_call_output", "custom_tool_call_output"):
            call_id = as_str(payload.get("call_id")) or ""
            self._add(ts, "tool", "tool_result", _tool_output(payload.get("output")), self._tool_names.get(call_id))
