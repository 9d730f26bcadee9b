"""One turn as the HTTP API shows it, from transcript entries (pure: no web stack, no I/O).

A turn is the entries after the last user text: the assistant's texts, its tool calls and their
results. `summary` is the blocking reply; `entry_events` is how one entry streams as SSE events
(Anthropic's Messages streaming names: content_block_start, text_delta, input_json_delta, …).
"""

from __future__ import annotations

import json
from typing import Any

Entry = dict[str, Any]
Event = tuple[str, dict[str, Any]]


def turn_of(entries: list[Entry]) -> list[Entry]:
    """The entries after the last user text (the message that started the turn)."""
    for index in range(len(entries) - 1, -1, -1):
        entry = entries[index]
        if entry.get("role") == "user" and entry.get("type") == "text":
            return entries[index + 1:]
    return list(entries)


def tool_calls(turn: list[Entry]) -> list[dict[str, Any]]:
    """Each tool call of the turn: its tool and the one-line description of its input."""
    return [{"name": e.get("tool"), "input": e.get("text", "")} for e in turn if e.get("type") == "tool_call"]


def steps(turn: list[Entry]) -> int:
    """Model steps: one, plus one for each tool result the model was given back."""
    return 1 + sum(1 for e in turn if e.get("role") == "tool")


def usage(send_result: dict[str, Any]) -> dict[str, int]:
    raw = send_result.get("usage") or {}
    return {"input_tokens": int(raw.get("inputTokens") or 0), "output_tokens": int(raw.get("outputTokens") or 0)}


def summary(send_result: dict[str, Any], turn: list[Entry]) -> dict[str, Any]:
    """The blocking reply of POST /sessions/{id}/message."""
    return {
        "uuid": send_result.get("uuid"),
        "response": send_result.get("reply") or "",
        "tool_calls": tool_calls(turn),
        "usage": usage(send_result),
        "steps": steps(turn),
        "outcome": send_result.get("outcome"),
        "via": send_result.get("via") or send_result.get("delivered"),
        "delivery": send_result.get("delivery"),
        "duration_ms": send_result.get("durationMs"),
    }


def entry_events(entry: Entry, index: int) -> list[Event]:
    """One transcript entry as a content block: start, its delta(s), stop. User entries (the
    message itself) and bookkeeping entries (turn_end) give nothing."""
    kind, role = entry.get("type"), entry.get("role")
    text = str(entry.get("text") or "")
    if role == "user" or kind in ("turn_end", "command"):
        return []
    if kind == "tool_call":
        block: dict[str, Any] = {"type": "tool_use", "name": entry.get("tool")}
        delta: dict[str, Any] = {"type": "input_json_delta", "partial_json": json.dumps({"description": text})}
        name = "input_json_delta"
    elif kind in ("tool_result", "error") and role == "tool":
        block = {"type": "tool_result", "name": entry.get("tool"), "is_error": kind == "error"}
        delta, name = {"type": "text_delta", "text": text}, "text_delta"
    else:
        block = {"type": "text" if kind == "text" else str(kind)}
        delta, name = {"type": "text_delta", "text": text}, "text_delta"
    return [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": block}),
        (name, {"type": name, "index": index, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]
