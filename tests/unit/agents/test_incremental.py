"""Incremental feeding: any split of the bytes gives the one-read result; bad input never raises."""

from __future__ import annotations

import pytest

from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.agents.transcript import TranscriptState

from .helpers import TRANSCRIPTS, lines, parse_bytes, parse_whole, sample_bytes


def feed_growing(kind: str, data: bytes, cuts: list[int]) -> TranscriptState:
    """Simulate a reader tailing a file that grows to each cut: it reads from its offset to the end."""
    state = get_adapter(kind).new_transcript_state()
    for cut in [*sorted(cuts), len(data)]:
        returned = state.feed(data[state.offset : cut])
        assert returned == state.offset
        assert state.offset <= cut
        assert state.offset == 0 or data[state.offset - 1 : state.offset] == b"\n"
    return state


def split_points(size: int) -> list[list[int]]:
    thirds = [size // 3, 2 * size // 3]
    return [
        [1],
        [7, 8, 9],
        thirds,
        [size // 2],
        [size - 1],
        list(range(0, size, 997)),
        list(range(0, size, 4096)),
        [(index * 7919) % size for index in range(40)],
    ]


@pytest.mark.parametrize("name", sorted(TRANSCRIPTS))
def test_any_split_gives_the_single_read_result(name: str) -> None:
    data = sample_bytes(name)
    whole = parse_whole(name)
    for cuts in split_points(len(data)):
        state = feed_growing(TRANSCRIPTS[name], data, cuts)
        assert state.snapshot() == whole.snapshot(), cuts
        assert state.entries == whole.entries


def test_byte_by_byte_growth() -> None:
    name = "pi-session-interactive.jsonl"
    data = sample_bytes(name)
    state = feed_growing("pi", data, list(range(len(data))))
    assert state.snapshot() == parse_whole(name).snapshot()


def test_split_inside_a_multibyte_character() -> None:
    record = '{"type":"message","timestamp":"t","message":{"role":"user","content":"héllo ✻ wörld"}}'
    data = lines('{"type":"session","id":"s","cwd":"/x"}', record)
    for cut in range(len(data)):
        state = feed_growing("pi", data, [cut])
        assert state.first_prompt == "héllo ✻ wörld"


def test_truncated_last_line_waits_for_the_rest() -> None:
    data = sample_bytes("pi-session-headless.jsonl")
    last_start = data.rstrip(b"\n").rindex(b"\n") + 1
    partial = data[: last_start + 40]
    state = parse_bytes("pi", partial)
    assert state.offset == last_start
    assert state.turns_completed == 1
    assert state.turn_status == "busy"
    assert state.bad_lines == 0
    state.feed(data[state.offset :])
    assert state.turns_completed == 2
    assert state.offset == len(data)


def test_data_without_newline_consumes_nothing() -> None:
    state = parse_bytes("codex", b'{"type":"session_meta","payload":{"id":"x"}}')
    assert state.offset == 0
    assert state.records == 0


def test_garbage_and_unknown_records_are_counted_and_skipped() -> None:
    data = (
        lines(
            '{"type":"session","version":3,"id":"01a1fd97-7652-7481-a83c-b6ef56423c55","cwd":"/p"}',
            "this is not json",
            "[1, 2, 3]",
            '"a string"',
            "",
            "   ",
            '{"type":"mystery_record","payload":1}',
            '{"type":"message","message":"not a dict"}',
            '{"type":"message","message":{"role":"user","content":42}}',
            '{"type":"message","timestamp":"2026-01-01T00:00:00.000Z","message":{"role":"user","content":"hi"}}',
            '{"truncated": ',
            '{"type":"message","message":{"role":"assistant","content":[{"type":"text","text":"yo"}],"stopReason":"stop"}}',
        )
        + b"\xff\xfe\xfd\n"
    )
    state = parse_bytes("pi", data)
    assert state.bad_lines == 5  # not json (2), array, string, invalid utf-8
    assert state.unknown_records == 1
    assert state.agent_session_id == "01a1fd97-7652-7481-a83c-b6ef56423c55"
    assert state.first_prompt == "hi"
    assert state.turns_completed == 1
    assert state.last_reply == "yo"
    assert state.offset == len(data)


@pytest.mark.parametrize("kind", ["claude", "codex", "pi"])
def test_wrongly_typed_fields_never_raise(kind: str) -> None:
    weird = [
        '{"type":"user","message":{"content":[1, null, {"type":"text","text":5}]}}',
        '{"type":"assistant","message":{"content":"x","usage":{"input_tokens":"many"},"stop_reason":7}}',
        '{"type":"system","subtype":null}',
        '{"type":"event_msg","payload":{"type":"token_count","info":[1]}}',
        '{"type":"event_msg","payload":"x"}',
        '{"type":"response_item","payload":{"type":"message","role":"user","content":"str"}}',
        '{"type":"response_item","payload":{"type":"function_call_output","output":{"content":3}}}',
        '{"type":"message","message":{"role":"assistant","content":[{"type":"toolCall","arguments":[]}],"usage":5}}',
        '{"type":"session","id":5,"cwd":[]}',
        '{"type":"compaction","summary":{}}',
        '{"sessionId":{},"type":"user","timestamp":9}',
    ]
    state = parse_bytes(kind, lines(*weird))
    assert state.records == len(weird)
    assert state.offset == len(lines(*weird))


def test_keep_entries_false_keeps_facts_only() -> None:
    state = get_adapter("claude").new_transcript_state(keep_entries=False)
    state.feed(sample_bytes("claude-transcript-interactive.jsonl"))
    assert state.entries == []
    assert state.turns_completed == 3
