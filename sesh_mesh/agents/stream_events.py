"""Each agent's headless streaming JSON line as neutral deltas (pure: no I/O).

A headless turn's stdout is the agent's own event stream: claude `-p --output-format stream-json
--include-partial-messages` (Anthropic Messages stream events wrapped in `stream_event` lines),
pi `--mode json` (`message_update` lines carrying `assistantMessageEvent`), codex `exec --json`
(`item.*` lines: codex sends a message only when it is complete, so its text arrives whole).
The parsers turn one line into zero or more `Delta` dicts, the same for every agent, which the
HTTP door streams as SSE (docs/http.md, "Streaming a turn"). They are plain dicts because they
cross the mesh as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

DeltaKind = Literal["text", "tool_start", "tool_input", "tool_result", "message_stop"]
Delta = dict[str, Any]
"""`{"kind": DeltaKind, ...}`: text {text}; tool_start {name, id}; tool_input {partial_json};
tool_result {name, id, text, is_error}; message_stop {stop_reason}."""

Item = Mapping[str, Any]


def text(value: str) -> Delta:
    return {"kind": "text", "text": value}


def tool_start(name: str, call_id: str) -> Delta:
    return {"kind": "tool_start", "name": name, "id": call_id}


def tool_input(partial_json: str) -> Delta:
    return {"kind": "tool_input", "partial_json": partial_json}


def tool_result(name: str, call_id: str, value: str, is_error: bool) -> Delta:
    return {"kind": "tool_result", "name": name, "id": call_id, "text": value, "is_error": is_error}


def message_stop(stop_reason: str | None) -> Delta:
    return {"kind": "message_stop", "stop_reason": stop_reason}


def _content_text(content: Any) -> str:
    """A tool result's content: a string, or blocks whose texts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text") or "") for b in content if isinstance(b, Mapping))
    return ""


def claude_deltas(item: Item) -> list[Delta]:
    """claude stream-json: the partial-message `stream_event`s carry the deltas; a `user` line
    carries the tool results sent back to the model. The whole `assistant` lines repeat what the
    deltas already said, so they give nothing."""
    kind = item.get("type")
    if kind == "stream_event" and not item.get("parent_tool_use_id"):
        event = item.get("event") or {}
        etype = event.get("type")
        if etype == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                return [tool_start(str(block.get("name") or ""), str(block.get("id") or ""))]
            if block.get("type") == "text" and block.get("text"):
                return [text(str(block["text"]))]
            return []
        if etype == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                return [text(str(delta["text"]))]
            if delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                return [tool_input(str(delta["partial_json"]))]
            return []
        if etype == "message_delta":
            return [message_stop((event.get("delta") or {}).get("stop_reason"))]
        return []
    if kind == "user" and not item.get("parent_tool_use_id"):
        content = (item.get("message") or {}).get("content")
        if not isinstance(content, list):
            return []
        return [tool_result("", str(b.get("tool_use_id") or ""), _content_text(b.get("content")),
                            bool(b.get("is_error")))
                for b in content if isinstance(b, Mapping) and b.get("type") == "tool_result"]
    return []


def codex_deltas(item: Item) -> list[Delta]:
    """codex exec --json: whole items. An agent message is one text delta; a command is a tool
    call when it starts (its command as the input) and a result when it completes."""
    kind = item.get("type")
    body = item.get("item") or {}
    itype = body.get("type")
    call_id = str(body.get("id") or "")
    if kind == "item.started" and itype == "command_execution":
        return [tool_start("exec_command", call_id), tool_input(json.dumps({"cmd": body.get("command")}))]
    if kind == "item.completed" and itype == "command_execution":
        code = body.get("exit_code")
        return [tool_result("exec_command", call_id, str(body.get("aggregated_output") or ""),
                            code not in (0, None))]
    if kind == "item.completed" and itype == "agent_message" and body.get("text"):
        return [text(str(body["text"]))]
    if kind == "turn.completed":
        return [message_stop("end_turn")]
    return []


def pi_deltas(item: Item) -> list[Delta]:
    """pi --mode json: `message_update` events stream text and tool-call arguments; a
    `tool_execution_end` is the tool's result; `agent_end` ends the turn."""
    kind = item.get("type")
    if kind == "message_update":
        event = item.get("assistantMessageEvent") or {}
        etype = event.get("type")
        if etype == "text_delta" and event.get("delta"):
            return [text(str(event["delta"]))]
        if etype == "toolcall_start":
            call = _pi_tool_call(event)
            return [tool_start(str(call.get("name") or ""), str(call.get("id") or ""))]
        if etype == "toolcall_delta" and event.get("delta"):
            return [tool_input(str(event["delta"]))]
        return []
    if kind == "tool_execution_end":
        result = item.get("result") or {}
        return [tool_result(str(item.get("toolName") or ""), str(item.get("toolCallId") or ""),
                            _content_text(result.get("content")), bool(item.get("isError")))]
    if kind == "agent_end":
        messages = item.get("messages") or []
        last = messages[-1] if messages and isinstance(messages[-1], Mapping) else {}
        return [message_stop(last.get("stopReason"))]
    return []


def _pi_tool_call(event: Item) -> Item:
    """The tool call a `toolcall_start` opens: the block at its index of the partial message."""
    content = (event.get("partial") or {}).get("content") or []
    index = event.get("contentIndex")
    if isinstance(index, int) and 0 <= index < len(content) and isinstance(content[index], Mapping):
        block: Item = content[index]
        return block
    return {}
