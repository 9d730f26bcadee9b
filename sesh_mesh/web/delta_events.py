"""A headless turn's neutral deltas (agents/stream_events.py) as SSE content blocks (pure).

Blocks follow Anthropic's Messages streaming: a text block gathers consecutive text deltas; a
tool call opens its own `tool_use` block whose input arrives as `input_json_delta`s; a tool
result is one `tool_result` block with its text. A block closes when a different kind starts or
the model's message stops.
"""

from __future__ import annotations

from typing import Any

from sesh_mesh.web.turns import Event


class BlockBuilder:
    def __init__(self) -> None:
        self.index = 0
        self.open: str | None = None
        """The kind of the open block: "text", "tool_use" or None."""

    def feed(self, delta: dict[str, Any]) -> list[Event]:
        kind = delta.get("kind")
        if kind == "text":
            events = [] if self.open == "text" else [*self.close(), self._start({"type": "text", "text": ""})]
            self.open = "text"
            return [*events, self._delta("text_delta", {"type": "text_delta", "text": str(delta.get("text") or "")})]
        if kind == "tool_start":
            events = [*self.close(), self._start({"type": "tool_use", "id": delta.get("id"), "name": delta.get("name"),
                                                  "input": {}})]
            self.open = "tool_use"
            return events
        if kind == "tool_input":
            events = [] if self.open == "tool_use" else [*self.close(), self._start({"type": "tool_use", "input": {}})]
            self.open = "tool_use"
            return [*events, self._delta("input_json_delta", {"type": "input_json_delta",
                                                              "partial_json": str(delta.get("partial_json") or "")})]
        if kind == "tool_result":
            events = [*self.close(), self._start({"type": "tool_result", "tool_use_id": delta.get("id"),
                                                  "name": delta.get("name") or None,
                                                  "is_error": bool(delta.get("is_error"))})]
            self.open = "tool_result"
            return [*events, self._delta("text_delta", {"type": "text_delta", "text": str(delta.get("text") or "")}),
                    *self.close()]
        if kind == "message_stop":
            return self.close()
        return []

    def close(self) -> list[Event]:
        if self.open is None:
            return []
        self.open = None
        event: Event = ("content_block_stop", {"type": "content_block_stop", "index": self.index})
        self.index += 1
        return [event]

    def _start(self, block: dict[str, Any]) -> Event:
        return "content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block}

    def _delta(self, name: str, delta: dict[str, Any]) -> Event:
        return name, {"type": name, "index": self.index, "delta": delta}
