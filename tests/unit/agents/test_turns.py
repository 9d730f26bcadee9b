"""Turn boundaries, harness injections and aborts, on hand-written records in each agent's format."""

from __future__ import annotations

import json

from .helpers import lines, parse_bytes


def claude(kind: str, **fields: object) -> str:
    return json.dumps(
        {"type": kind, "sessionId": "sid", "cwd": "/w", "timestamp": "2026-01-01T00:00:00.000Z", **fields}
    )


def claude_user(content: object, **fields: object) -> str:
    return claude("user", message={"role": "user", "content": content}, **fields)


def claude_assistant(message_id: str, content: list[object], stop: str | None) -> str:
    usage = {"input_tokens": 10, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 30}
    message = {"id": message_id, "model": "claude-sonnet-5-5", "content": content, "stop_reason": stop, "usage": usage}
    return claude("assistant", message=message)


TURN_DURATION = claude("system", subtype="turn_duration", durationMs=5)


def test_claude_busy_until_turn_end() -> None:
    state = parse_bytes("claude", lines(claude_user("do it")))
    assert state.turn_status == "busy"
    state.feed(
        lines(claude_assistant("m1", [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}], "tool_use"))
    )
    assert state.turn_status == "busy"
    state.feed(lines(claude_user([{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}])))
    assert state.turn_status == "busy"
    state.feed(lines(claude_assistant("m2", [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], None)))
    assert state.turn_status == "busy"  # stop_reason not yet known on a streamed block
    state.feed(lines(TURN_DURATION))
    assert (state.turn_status, state.turns_completed, state.last_reply) == ("idle", 1, "a\nb")
    assert state.usage is not None and state.usage.context_tokens == 60
    assert state.model == "claude-sonnet-5-5"


def test_claude_end_turn_and_turn_duration_count_once() -> None:
    data = lines(
        claude_user("q"),
        claude_assistant("m1", [{"type": "text", "text": "first"}], "end_turn"),
        TURN_DURATION,
    )
    state = parse_bytes("claude", data)
    assert (state.turns_completed, state.last_reply) == (1, "first")
    assert sum(1 for entry in state.entries if entry.type == "turn_end") == 1


def test_claude_interrupt_aborts_the_turn() -> None:
    data = lines(
        claude_user("long job"),
        claude_user([{"type": "text", "text": "[Request interrupted by user]"}]),
        TURN_DURATION,
    )
    state = parse_bytes("claude", data)
    assert (state.turn_status, state.turns_completed, state.turns_aborted) == ("idle", 0, 1)
    assert state.last_turn_outcome == "aborted"
    assert state.last_reply is None


def test_claude_harness_and_commands_are_not_prompts() -> None:
    data = lines(
        claude_user("<local-command-caveat>Caveat: …</local-command-caveat>", isMeta=True),
        claude_user(
            "<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args>opus</command-args>"
        ),
        claude_user("<local-command-stdout>Set model to opus</local-command-stdout>"),
        claude_user([{"type": "text", "text": "<system-reminder>be nice</system-reminder>"}]),
        claude_user("<bash-input>ls</bash-input>"),
        claude_user("This session is being continued from a previous conversation…", isCompactSummary=True),
        claude_user("the real question"),
    )
    state = parse_bytes("claude", data)
    assert state.first_prompt == "the real question"
    commands = [entry.text for entry in state.entries if entry.type == "command"]
    assert commands == ["/model opus", "!ls"]
    assert [entry.type for entry in state.entries if entry.role == "system"] == ["compaction"]
    assert state.turn_status == "busy"


def test_claude_sidechain_and_synthetic_records_do_not_move_state() -> None:
    data = lines(
        claude_user("main"),
        claude("user", isSidechain=True, message={"role": "user", "content": "subagent prompt"}),
        claude(
            "assistant",
            message={
                "id": "x",
                "model": "<synthetic>",
                "content": [],
                "stop_reason": "stop_sequence",
                "usage": {"input_tokens": 0},
            },
        ),
    )
    state = parse_bytes("claude", data)
    assert state.first_prompt == "main"
    assert state.model is None
    assert state.usage is None
    assert state.turns_completed == 1  # the synthetic stop still ends the turn


def codex(kind: str, payload: object) -> str:
    return json.dumps({"timestamp": "2026-01-01T00:00:00.000Z", "type": kind, "payload": payload})


def test_codex_abort_and_fallback_reply() -> None:
    data = lines(
        codex("session_meta", {"id": "01a1fd97-0000-7000-8000-000000000000", "cwd": "/w"}),
        codex("event_msg", {"type": "task_started", "model_context_window": 100_000}),
        codex("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}),
        codex("event_msg", {"type": "turn_aborted", "reason": "interrupted"}),
        codex(
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "<turn_aborted>\nstopped</turn_aborted>"}],
            },
        ),
        codex("event_msg", {"type": "task_started"}),
        codex(
            "response_item",
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
        ),
    )
    state = parse_bytes("codex", data)
    assert (state.turns_aborted, state.turn_status) == (1, "busy")
    assert [entry.text for entry in state.entries if entry.type == "turn_end"] == ["aborted: interrupted"]
    state.feed(lines(codex("event_msg", {"type": "task_complete", "last_agent_message": None})))
    assert (state.turns_completed, state.last_reply, state.turn_status) == (1, "done", "idle")
    assert state.context_window == 100_000
    assert state.first_prompt == "go"


def test_codex_compaction_is_one_entry() -> None:
    data = lines(
        codex("compacted", {"message": "summary text"}),
        codex("event_msg", {"type": "context_compacted"}),
    )
    state = parse_bytes("codex", data)
    assert [(entry.type, entry.text) for entry in state.entries] == [("compaction", "summary text")]


def pi_message(message: dict[str, object]) -> str:
    return json.dumps({"type": "message", "id": "x", "timestamp": "2026-01-01T00:00:00.000Z", "message": message})


def test_pi_stop_reasons() -> None:
    state = parse_bytes("pi", lines(pi_message({"role": "user", "content": "hello"})))
    assert state.turn_status == "busy"
    state.feed(
        lines(
            pi_message({"role": "assistant", "content": [{"type": "text", "text": "calling"}], "stopReason": "toolUse"})
        )
    )
    assert state.turn_status == "busy"
    state.feed(lines(pi_message({"role": "assistant", "content": [], "stopReason": "aborted"})))
    assert (state.turn_status, state.turns_aborted, state.turns_completed) == ("idle", 1, 0)
    state.feed(
        lines(
            pi_message({"role": "user", "content": [{"type": "text", "text": "again"}]}),
            pi_message({"role": "assistant", "content": [], "stopReason": "error", "errorMessage": "boom 500"}),
        )
    )
    assert (state.turns_aborted, state.turns_failed) == (1, 1)
    aborted = "the model call ended with aborted"
    assert [(t.prompt, t.outcome, t.error) for t in state.turns] == [("hello", "aborted", aborted),
                                                                     ("again", "failed", "boom 500")]
    assert [entry.text for entry in state.entries if entry.type == "error"] == ["boom 500"]
    state.feed(
        lines(
            pi_message({"role": "user", "content": "third"}),
            pi_message(
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "p1"}, {"type": "text", "text": "p2"}],
                    "stopReason": "stop",
                    "usage": {"input": 5, "cacheRead": 7, "output": 1},
                }
            ),
        )
    )
    assert (state.turns_completed, state.last_reply) == (1, "p1\np2")
    assert state.usage is not None and state.usage.context_tokens == 13  # no totalTokens: the sum
    assert state.first_prompt == "hello"


def test_pi_compaction_and_bash_execution_entries() -> None:
    data = lines(
        json.dumps({"type": "compaction", "summary": "## Goal\nstuff", "tokensBefore": 1563}),
        pi_message({"role": "bashExecution", "command": "ls", "output": "a\nb", "exitCode": 0}),
    )
    state = parse_bytes("pi", data)
    assert [(entry.role, entry.type) for entry in state.entries] == [
        ("system", "compaction"),
        ("user", "command"),
        ("tool", "tool_result"),
    ]
    assert state.turn_status == "unknown"
