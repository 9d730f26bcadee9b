"""Turn identity: each parser remembers where every turn opened, its prompt and how it ended, so
`send` answers with its own turn's reply or error, never an earlier turn's reply."""

from __future__ import annotations

import json
from pathlib import Path

from sesh_mesh.daemon.turn_reply import Mark, find_turn

from .helpers import lines, parse_bytes
from .test_turns import TURN_DURATION, claude, claude_assistant, claude_user, codex


def claude_api_error(text: str) -> str:
    message = {"id": "e1", "model": "<synthetic>", "content": [{"type": "text", "text": text}],
               "stop_reason": "stop_sequence", "usage": {"input_tokens": 0}}
    return claude("assistant", message=message, isApiErrorMessage=True)


def pi(role: str, **message: object) -> str:
    return json.dumps({"type": "message", "id": "x", "timestamp": "2026-01-01T00:00:00.000Z",
                       "message": {"role": role, **message}})


def codex_turn(prompt: str, reply: str | None, error: str | None = None) -> list[str]:
    done: dict[str, object] = {"type": "task_complete", "last_agent_message": reply}
    if error:
        done["error"] = {"message": error}
    items = [codex("event_msg", {"type": "task_started"}),
             codex("response_item", {"type": "message", "role": "user",
                                     "content": [{"type": "input_text", "text": prompt}]})]
    if reply:
        items.append(codex("response_item", {"type": "message", "role": "assistant",
                                             "content": [{"type": "output_text", "text": reply}]}))
    return [*items, codex("event_msg", done)]


CASES = {
    "claude": ([claude_user("first"), claude_assistant("m1", [{"type": "text", "text": "ECHO: first"}], "end_turn"),
                TURN_DURATION], [claude_user("FAIL"), claude_api_error("API Error: 400 boom")]),
    "codex": (codex_turn("first", "ECHO: first"), codex_turn("FAIL", None, error='{"error": "boom"}')),
    "pi": ([pi("user", content=[{"type": "text", "text": "first"}]),
            pi("assistant", content=[{"type": "text", "text": "ECHO: first"}], stopReason="stop")],
           [pi("user", content=[{"type": "text", "text": "FAIL"}]),
            pi("assistant", content=[], stopReason="error", errorMessage="400 boom")]),
}


def test_a_failed_turn_is_its_own_turn_with_the_agents_error_never_the_previous_reply() -> None:
    for agent, (before, failing) in CASES.items():
        first = lines(*before)
        state = parse_bytes(agent, first + lines(*failing))
        path = Path("/t.jsonl")
        mark = Mark(path, len(first))
        turn = find_turn(state, path, mark, "FAIL")
        assert turn is not None and turn.outcome == "failed", (agent, turn)
        assert turn.error and "boom" in turn.error and turn.reply is None, (agent, turn)
        assert state.last_reply == "ECHO: first", agent  # kept for other readers, never the answer to FAIL
        assert find_turn(state, path, mark, "first") is None, f"{agent}: a turn before the mark matched"
        assert find_turn(state, path, Mark(path, 0), "first") is not None, agent
        earlier = find_turn(state, path, Mark(path, 0), "first")
        assert earlier is not None and earlier.reply == "ECHO: first" and earlier.offset == 0, (agent, earlier)


def test_the_same_prompt_twice_is_told_apart_by_position() -> None:
    one = lines(claude_user("HISTORY"), claude_assistant("m1", [{"type": "text", "text": "one"}], "end_turn"))
    two = lines(claude_user("HISTORY"), claude_assistant("m2", [{"type": "text", "text": "two"}], "end_turn"))
    state = parse_bytes("claude", one + two)
    path = Path("/t.jsonl")
    turn = find_turn(state, path, Mark(path, len(one)), "  HISTORY \n")
    assert turn is not None and (turn.number, turn.reply) == (2, "two")


def test_a_turns_usage_is_summed_over_its_responses_each_counted_once() -> None:
    """claude writes one line per content block with the same message id and usage; codex repeats
    token_count for a response; pi writes one line per response. Each response counts once."""
    tool: list[object] = [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]
    result: list[object] = [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]
    claude_lines = [claude_user("earlier"), claude_assistant("m0", [{"type": "text", "text": "old"}], "end_turn"),
                    TURN_DURATION, claude_user("go"),
                    claude_assistant("m1", [{"type": "text", "text": "reading"}], None),
                    claude_assistant("m1", tool, "tool_use"), claude_user(result),
                    claude_assistant("m2", [{"type": "text", "text": "done"}], "end_turn"), TURN_DURATION]

    def count(total: int, last_in: int, last_out: int) -> str:
        info = {"total_token_usage": {"total_tokens": total},
                "last_token_usage": {"input_tokens": last_in, "output_tokens": last_out}}
        return codex("event_msg", {"type": "token_count", "info": info})

    codex_lines = [codex("event_msg", {"type": "task_started"}),
                   codex("response_item", {"type": "message", "role": "user",
                                           "content": [{"type": "input_text", "text": "go"}]}),
                   count(100, 90, 10), count(100, 90, 10), count(250, 130, 20),
                   codex("event_msg", {"type": "task_complete", "last_agent_message": "done"})]
    pi_usage = {"input": 40, "output": 4, "cacheRead": 0, "cacheWrite": 0}
    pi_lines = [pi("user", content=[{"type": "text", "text": "go"}]),
                pi("assistant", content=[{"type": "text", "text": "step"}], stopReason="toolUse", usage=pi_usage),
                pi("assistant", content=[{"type": "text", "text": "done"}], stopReason="stop",
                   usage={**pi_usage, "input": 60, "output": 6})]
    expected = {"claude": (20, 0, 2), "codex": (220, 30, 2), "pi": (100, 10, 2)}
    for agent, data in (("claude", claude_lines), ("codex", codex_lines), ("pi", pi_lines)):
        state = parse_bytes(agent, lines(*data))
        turn = find_turn(state, Path("/t.jsonl"), Mark(Path("/t.jsonl"), 0), "go")
        assert turn is not None and turn.outcome == "completed", (agent, turn)
        assert turn.usage() == expected[agent], (agent, turn.responses)
