"""Concrete facts read from the real transcripts the three CLIs wrote (agent-samples)."""

from __future__ import annotations

import pytest

from sesh_mesh.agents.base import TranscriptEntry
from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.agents.transcript import TranscriptState, render_entry

from .helpers import SAMPLES, TRANSCRIPTS, parse_whole


def entries_of(state: TranscriptState, kind: str) -> list[TranscriptEntry]:
    return [entry for entry in state.entries if entry.type == kind]


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_every_sample_parses_cleanly_and_ends_idle(name: str) -> None:
    state = parse_whole(name)
    assert state.bad_lines == 0
    assert state.unknown_records == 0
    assert state.turn_status == "idle"
    assert state.cwd == "/home/user/proj"
    assert state.offset == (SAMPLES / name).stat().st_size
    assert state.last_turn_outcome == "completed"


def test_claude_interactive() -> None:
    state = parse_whole("claude-transcript-interactive.jsonl")
    assert state.agent_session_id == "ce26599a-fd11-4f4f-9217-4e4fd2de0d1c"
    assert state.model == "claude-opus-5-5"
    assert state.first_prompt == "demo interactive turn WAIT 3 SLEEP 4"
    # three turns, the last of which has no turn_duration record (the session exited right after)
    assert state.turns_completed == 3
    assert state.last_reply == (
        "HISTORY: demo interactive turn WAIT 3 SLEEP 4 | TOOL bash echo tool-ran-in-claude-$((6*7)) | HISTORY check"
    )
    assert state.last_activity == "2026-11-21T10:11:44.259Z"
    assert state.usage is not None
    assert (state.usage.input_tokens, state.usage.output_tokens, state.usage.context_tokens) == (14110, 26, 14110)
    assert get_adapter("claude").context_pct(state) == 7  # 14110 / 200k
    assert [(e.tool, e.text) for e in entries_of(state, "tool_call")] == [("Bash", "echo tool-ran-in-claude-$((6*7))")]
    assert [(e.tool, e.text) for e in entries_of(state, "tool_result")] == [("Bash", "tool-ran-in-claude-42")]
    assert [e.text for e in entries_of(state, "text") if e.role == "user"] == [
        "demo interactive turn WAIT 3 SLEEP 4",
        "TOOL bash echo tool-ran-in-claude-$((6*7))",
        "HISTORY check",
    ]
    assert len(entries_of(state, "turn_end")) == 3


def test_claude_reply_is_the_final_message_of_the_turn() -> None:
    # turn 2: "Running the command." + tool_use share one message.id; the reply is the next message
    data = (SAMPLES / "claude-transcript-interactive.jsonl").read_bytes()
    cut = data.index(b'"subtype":"turn_duration","durationMs":293')
    state = get_adapter("claude").new_transcript_state()
    state.feed(data[: data.index(b"\n", cut) + 1])
    assert state.turns_completed == 2
    assert state.last_reply == "TOOL RESULT: tool-ran-in-claude-42"


def test_claude_headless_has_no_turn_duration_but_completes() -> None:
    state = parse_whole("claude-transcript-headless.jsonl")
    assert state.agent_session_id == "b2ab1e82-3b18-491b-9854-8678657eb0fa"
    assert state.first_prompt == "headless hello from demo"
    assert state.turns_completed == 1
    assert state.last_reply == "ECHO: headless hello from demo"
    assert state.usage is not None and state.usage.context_tokens == 12313
    assert get_adapter("claude").context_pct(state) == 6


def test_codex_interactive() -> None:
    state = parse_whole("codex-rollout-interactive.jsonl")
    assert state.agent_session_id == "01a1fd97-2dab-7810-8a6d-6b31c34d675c"
    assert state.model == "fake-model"
    assert state.first_prompt == "demo interactive turn WAIT 3 SLEEP 4"  # not the <environment_context> item
    assert state.turns_completed == 3
    assert state.last_reply == (
        "HISTORY: demo interactive turn WAIT 3 SLEEP 4 | TOOL bash echo tool-ran-in-codex-$((6*7)) | HISTORY check"
    )
    assert state.context_window == 258_400
    assert state.usage is not None
    assert (state.usage.input_tokens, state.usage.output_tokens, state.usage.context_tokens) == (11827, 26, 11853)
    assert get_adapter("codex").context_pct(state) == 5  # 11853 / 258400
    assert [(e.tool, e.text) for e in entries_of(state, "tool_call")] == [
        ("exec_command", "echo tool-ran-in-codex-$((6*7))")
    ]
    assert [(e.tool, e.text) for e in entries_of(state, "tool_result")] == [("exec_command", "tool-ran-in-codex-42\n")]
    assert [e.text for e in state.entries if e.role == "user"] == [
        "demo interactive turn WAIT 3 SLEEP 4",
        "TOOL bash echo tool-ran-in-codex-$((6*7))",
        "HISTORY check",
    ]


def test_codex_headless() -> None:
    state = parse_whole("codex-rollout-headless.jsonl")
    assert state.agent_session_id == "01a1fd97-29d8-7191-bfc0-fd8100aad47f"
    assert state.first_prompt == "headless hello from demo"
    assert state.turns_completed == 1
    assert state.last_reply == "ECHO: headless hello from demo"
    assert state.usage is not None and state.usage.context_tokens == 10054


def test_pi_interactive() -> None:
    state = parse_whole("pi-session-interactive.jsonl")
    assert state.agent_session_id == "01a1fd97-7652-7481-a83c-b6ef56423c55"
    assert state.model == "fake-model"
    assert state.first_prompt == "demo interactive turn WAIT 3 SLEEP 4"
    assert state.turns_completed == 3  # the toolUse stop in turn 2 does not end it
    assert state.last_reply == (
        "HISTORY: demo interactive turn WAIT 3 SLEEP 4 | TOOL bash echo tool-ran-in-pi-$((6*7)) | HISTORY check"
    )
    assert state.usage is not None
    assert (state.usage.input_tokens, state.usage.output_tokens, state.usage.context_tokens) == (1541, 25, 1566)
    assert get_adapter("pi").context_pct(state) == 1  # 1566 / 128k
    assert [(e.tool, e.text) for e in entries_of(state, "tool_call")] == [("bash", "echo tool-ran-in-pi-$((6*7))")]
    assert [(e.tool, e.text) for e in entries_of(state, "tool_result")] == [("bash", "tool-ran-in-pi-42\n")]


def test_pi_headless_resumed_twice() -> None:
    state = parse_whole("pi-session-headless.jsonl")
    assert state.agent_session_id == "01a1fd97-6b3b-77cd-83f8-7238cef239e8"
    assert state.first_prompt == "headless hello from demo"
    assert state.turns_completed == 2
    assert state.last_reply == "HISTORY: headless hello from demo | HISTORY by id prefix"


def test_entry_json_shape_and_rendering() -> None:
    state = parse_whole("claude-transcript-interactive.jsonl")
    call = entries_of(state, "tool_call")[0]
    assert call.to_json() == {
        "ts": "2026-11-21T10:11:40.763Z",
        "role": "assistant",
        "type": "tool_call",
        "text": "echo tool-ran-in-claude-$((6*7))",
        "tool": "Bash",
    }
    assert render_entry(call) == "10:11:40 → Bash: echo tool-ran-in-claude-$((6*7))"
    assert render_entry(state.entries[0]) == "10:11:32 user: demo interactive turn WAIT 3 SLEEP 4"
    assert render_entry(entries_of(state, "turn_end")[0]) == "10:11:39 ── turn completed ──"


def test_rendering_cuts_long_texts() -> None:
    entry = TranscriptEntry(ts=None, role="tool", type="tool_result", text="\n".join(map(str, range(10))), tool="bash")
    rendered = render_entry(entry, max_lines=3).splitlines()
    assert rendered[0] == "--:--:-- ← bash: 0"
    assert [line.strip() for line in rendered[1:]] == ["1", "2", "… (+7 lines)"]


def test_snapshot_matches_state() -> None:
    state = parse_whole("codex-rollout-headless.jsonl")
    snapshot = state.snapshot()
    assert snapshot.agent == "codex"
    assert snapshot.turns_completed == state.turns_completed
    assert snapshot.entry_count == len(state.entries) == 3
    assert snapshot.records == 14


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_every_turn_carries_the_time_its_prompt_was_written(name: str) -> None:
    # The watcher tells a late-written start of a turn the status already ended from a new turn
    # by this time (turn_track._started_by).
    state = parse_whole(name)
    assert state.turns, name
    times = [turn.started_s for turn in state.turns]
    assert all(isinstance(t, float) for t in times), times
    assert times == sorted(times)  # type: ignore[type-var]
