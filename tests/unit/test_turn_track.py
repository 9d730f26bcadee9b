"""turn_track as a playbook: looks at a session in, turn starts and ends out.

Each look is (status before, status after, transcript starts, transcript open, outcome); the
expected steps are "started N" / "ended N outcome". The situations are the ones the turn-latency
benchmark met: a turn too short for the status to show busy (pi, claude), one seen both ways,
a queued message, a restart.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sesh_mesh.daemon.live_state import Observations, Reported, TranscriptSeen
from sesh_mesh.daemon.turn_track import TurnInputs, TurnTrack, inputs_of, step, turn_field

PATH = "/t/a.jsonl"


def look(before: str, after: str, starts: int | None = None, open_: bool = False, outcome: str | None = None,
         reported: str | None = None, path: str = PATH) -> TurnInputs:
    return TurnInputs(before, after, None if starts is None else path, starts or 0, open_, outcome, reported)


def timed(inputs: TurnInputs, now: float, starts: dict[int, float] | None = None) -> TurnInputs:
    """`inputs` looked at `now` (wall clock), with the transcript's turn start times."""
    return dataclasses.replace(inputs, now_wall=now, transcript_turn_starts=tuple((starts or {}).items()))


def said(steps: list[Any]) -> list[str]:
    return [f"{s.kind} {s.number}" + (f" {s.outcome}" if s.outcome else "") for s in steps]


def play(track: TurnTrack, looks: list[tuple[TurnInputs, list[str]]]) -> None:
    for index, (inputs, expected) in enumerate(looks):
        assert said(step(track, inputs)) == expected, f"look {index}: {inputs}"


def test_a_turn_between_two_looks_gets_a_start_and_an_end() -> None:
    # pi: the user entry and the reply land in one read; the status never shows busy.
    play(TurnTrack(transcript_path=PATH, transcript_starts=1), [
        (look("idle", "idle", 2, outcome="completed"), ["started 1", "ended 1 completed"]),
        (look("idle", "idle", 2, outcome="completed"), []),
        (look("idle", "idle", 4, outcome="completed"), ["started 2", "ended 2", "started 3", "ended 3 completed"]),
    ])


def test_a_turn_seen_both_ways_is_counted_once() -> None:
    # codex: the pane title says busy first, then the rollout's task_started, then its end.
    play(TurnTrack(number=4, transcript_path=PATH, transcript_starts=4), [
        (look("idle", "busy", 4), ["started 5"]),
        (look("busy", "busy", 5, open_=True), []),
        (look("busy", "idle", 5, outcome="completed"), ["ended 5 completed"]),
    ])
    # claude: the transcript's start is read in the same look as the registry's busy.
    play(TurnTrack(transcript_path=PATH), [
        (look("idle", "busy", 1, open_=True), ["started 1"]),
        (look("busy", "idle", 1, outcome="completed"), ["ended 1 completed"]),
    ])


def test_a_start_the_registry_missed_ends_when_the_transcript_closes_it() -> None:
    # claude's registry flipped busy -> idle within one debounce; the transcript lags one look.
    play(TurnTrack(transcript_path=PATH), [
        (look("idle", "idle", 1, open_=True), ["started 1"]),
        (look("busy", "idle", 1, outcome="completed"), ["ended 1 completed"]),
    ])
    play(TurnTrack(transcript_path=PATH), [
        (look("idle", "idle", 1, open_=True), ["started 1"]),
        (look("idle", "idle", 1, outcome="completed"), ["ended 1 completed"]),
    ])


def test_a_busy_with_no_transcript_turn_does_not_swallow_the_next_one() -> None:
    # A compaction shows busy but opens no transcript turn; the quick turn after it still counts.
    play(TurnTrack(transcript_path=PATH, transcript_starts=2), [
        (look("idle", "busy", 2), ["started 1"]),
        # No transcript turn of its own: the outcome there is the turn before's, not this one's.
        (look("busy", "idle", 2, outcome="completed"), ["ended 1"]),
        (look("idle", "idle", 3, outcome="completed"), ["started 2", "ended 2 completed"]),
    ])
    # The same with times: the quick turn started after the busy ended, so it is a turn of its own.
    play(TurnTrack(transcript_path=PATH, transcript_starts=2), [
        (timed(look("idle", "busy", 2), 100.0), ["started 1"]),
        (timed(look("busy", "idle", 2, outcome="completed"), 101.0), ["ended 1"]),
        (timed(look("idle", "idle", 3, outcome="completed"), 103.0, {3: 102.5}), ["started 2", "ended 2 completed"]),
    ])


def test_a_transcript_written_after_the_status_ended_its_turn_adds_no_turn() -> None:
    # claude: the registry shows a 30 ms turn busy, then idle, before the transcript holds its
    # prompt; the prompt (stamped before the idle) and the reply are read a look later.
    play(TurnTrack(number=3, transcript_path=PATH, transcript_starts=4), [
        (timed(look("idle", "busy", 4, outcome="completed"), 100.0), ["started 4"]),
        (timed(look("busy", "idle", 4, outcome="completed"), 100.03), ["ended 4"]),
        (timed(look("idle", "idle", 5, outcome="completed"), 100.2, {4: 50.0, 5: 99.99}), []),
        # The next message is a turn of its own again.
        (timed(look("idle", "busy", 5, outcome="completed"), 101.0), ["started 5"]),
        (timed(look("busy", "busy", 6, open_=True), 101.01, {5: 99.99, 6: 100.99}), []),
        (timed(look("busy", "idle", 6, outcome="completed"), 101.05, {6: 100.99}), ["ended 5 completed"]),
    ])
    # A start the transcript gives no time for is counted: it cannot be told from a new turn.
    play(TurnTrack(transcript_path=PATH, transcript_starts=1), [
        (timed(look("idle", "busy", 1), 100.0), ["started 1"]),
        (timed(look("busy", "idle", 1), 100.03), ["ended 1"]),
        (timed(look("idle", "idle", 2, outcome="completed"), 100.2), ["started 2", "ended 2 completed"]),
    ])


def test_a_queued_message_ends_the_running_turn_and_starts_the_next() -> None:
    play(TurnTrack(transcript_path=PATH), [
        (look("idle", "busy", 1, open_=True), ["started 1"]),
        (look("busy", "busy", 2, open_=True), ["ended 1", "started 2"]),
        (look("busy", "idle", 2, outcome="completed"), ["ended 2 completed"]),
    ])


def test_a_headless_run_ends_with_its_runners_outcome() -> None:
    play(TurnTrack(transcript_path=PATH, transcript_starts=3), [
        (look("idle", "busy", 3), ["started 1"]),
        (look("busy", "idle", 3, outcome="completed", reported="aborted"), ["ended 1 aborted"]),
    ])


def test_busy_to_unknown_is_no_end() -> None:
    play(TurnTrack(), [
        (look("idle", "busy"), ["started 1"]),
        (look("busy", "unknown"), []),
        (look("unknown", "idle"), ["ended 1"]),
    ])


def test_old_turns_are_no_news() -> None:
    record = {"turnStatus": "idle", "turn": {"n": 7, "state": "ended", "outcome": "completed"}}
    first = look("idle", "idle", 12, outcome="completed")
    track = TurnTrack.baseline(record, first)
    assert (track.number, track.transcript_starts) == (7, 12)
    assert said(step(track, first)) == []
    # Another conversation file (a fork): its turns are old too.
    assert said(step(track, look("idle", "idle", 30, path="/t/b.jsonl", outcome="completed"))) == []
    assert said(step(track, look("idle", "idle", 31, path="/t/b.jsonl", outcome="completed"))) == [
        "started 8", "ended 8 completed"]
    # A transcript that appears after the session was first seen (pi writes its file at the
    # first reply; claude and codex at the first message) is news from its first turn.
    fresh = TurnTrack.baseline({"turnStatus": "unknown"}, look("unknown", "unknown"), now_wall=100.0)
    written = TurnInputs("unknown", "idle", PATH, 1, False, "completed", transcript_mtime=100.5)
    assert said(step(fresh, written)) == ["started 1", "ended 1 completed"]
    # A registered conversation whose transcript is found a look after the registration: its
    # file was last written before, so even its last turn is old.
    late = TurnTrack.baseline({"turnStatus": "idle"}, look("idle", "idle"), now_wall=100.0)
    assert said(step(late, TurnInputs("idle", "idle", PATH, 3, False, "completed", transcript_mtime=99.0))) == []
    assert said(step(late, TurnInputs("idle", "idle", PATH, 4, False, "completed", transcript_mtime=101.0))) == [
        "started 1", "ended 1 completed"]


@pytest.mark.parametrize(("reported", "agent", "expected"), [
    (Reported("idle", "headless", 1.0, outcome="aborted"), None, "aborted"),
    (Reported("idle", "hook", 1.0), None, None),
])
def test_inputs_of(reported: Reported, agent: Any, expected: str | None) -> None:
    seen = Observations(now=2.0, reported=reported, transcript=TranscriptSeen(PATH, "idle", 1.0, turns_started=3,
                                                                              last_outcome="completed"))
    inputs = inputs_of({"turnStatus": "busy"}, seen, {"turnStatus": "idle"})
    assert inputs == TurnInputs("busy", "idle", PATH, 3, False, "completed", expected)


def test_turn_field() -> None:
    assert turn_field(TurnTrack(number=3, open=True), "completed") == {"n": 3, "state": "running", "outcome": None}
    assert turn_field(TurnTrack(number=3), "aborted") == {"n": 3, "state": "ended", "outcome": "aborted"}
