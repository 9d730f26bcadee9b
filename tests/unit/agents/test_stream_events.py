"""Each adapter's parser of its headless streaming output, against lines captured from the real
CLIs (claude -p stream-json with partial messages, codex exec --json, pi --mode json) run
against tests/fake_llm.py: "hello SLEEP 1" (text) and "TOOL bash echo tool-ran-42" (a tool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.web.delta_events import BlockBuilder

SAMPLES = Path(__file__).resolve().parent / "samples"


def deltas(agent: str, sample: str) -> list[dict[str, Any]]:
    adapter = get_adapter(agent)
    out: list[dict[str, Any]] = []
    for line in (SAMPLES / f"stream-{agent}-{sample}.jsonl").read_text().splitlines():
        out += adapter.stream_deltas(json.loads(line))
    return out


def texts(found: list[dict[str, Any]]) -> list[str]:
    return [d["text"] for d in found if d["kind"] == "text"]


@pytest.mark.parametrize("agent", ["claude", "pi"])
def test_text_arrives_in_pieces(agent: str) -> None:
    found = deltas(agent, "text")
    assert len(texts(found)) > 1, found
    assert "".join(texts(found)) == "ECHO: hello SLEEP 1"
    assert found[-1]["kind"] == "message_stop" and [d["kind"] for d in found].count("message_stop") == 1


def test_codex_text_arrives_whole() -> None:
    """codex exec --json writes an agent message only once it is complete."""
    found = deltas("codex", "text")
    assert texts(found) == ["ECHO: hello SLEEP 1"]
    assert found[-1] == {"kind": "message_stop", "stop_reason": "end_turn"}


@pytest.mark.parametrize("agent", ["claude", "codex", "pi"])
def test_tool_call_and_result(agent: str) -> None:
    found = deltas(agent, "tool")
    kinds = [d["kind"] for d in found]
    start = kinds.index("tool_start")
    result = kinds.index("tool_result")
    assert start < kinds.index("tool_input") < result, kinds
    assert "".join(texts(found[:start])) == "Running the command."
    assert "".join(texts(found[result:])) == "TOOL RESULT: tool-ran-42"
    call_input = "".join(d["partial_json"] for d in found if d["kind"] == "tool_input")
    assert "echo tool-ran-42" in json.loads(call_input).get("command", json.loads(call_input).get("cmd")), call_input
    tool = found[start]
    assert tool["name"] and tool["id"], tool
    assert found[result]["text"].strip() == "tool-ran-42" and found[result]["is_error"] is False
    assert kinds[-1] == "message_stop"


def test_blocks_from_deltas() -> None:
    """Deltas become Messages-style content blocks: text gathered, a tool_use with its input, a
    tool_result, indices in order, each block opened and closed once."""
    builder = BlockBuilder()
    events = [event for delta in deltas("claude", "tool") for event in builder.feed(delta)] + builder.close()
    starts = [data["content_block"]["type"] for name, data in events if name == "content_block_start"]
    assert starts == ["text", "tool_use", "tool_result", "text"], starts
    index = -1
    for name, data in events:
        if name == "content_block_start":
            index += 1
        assert data["index"] == index, (name, data)
    assert [name for name, _ in events].count("content_block_stop") == 4
    by_block: dict[int, str] = {}
    for name, data in events:
        if name == "text_delta":
            by_block[data["index"]] = by_block.get(data["index"], "") + data["delta"]["text"]
    assert by_block == {0: "Running the command.", 2: "tool-ran-42", 3: "TOOL RESULT: tool-ran-42"}
