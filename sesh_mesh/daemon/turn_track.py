"""Every turn of a session seen to start and to end, however short: pure.

The turn status (live_state's authority ladder) is a sampled state: a turn that starts and ends
between two looks never shows busy. The transcript is a log: each turn leaves its start there
(a user entry, codex's task_started) whatever the pane showed. `step` joins the two. A turn
starts when the status becomes busy or when the transcript counts a start the status did not
announce; it ends when the status leaves busy for idle, or when the transcript already shows the
turn it opened closed. So a turn too quick for the status still gets its start and its end, and
a turn seen both ways is counted once. No I/O and no clock. See docs/live-state.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sesh_mesh.daemon.live_state import Observations
from sesh_mesh.store.record import Record

TurnStep = Literal["started", "ended"]


@dataclass(frozen=True)
class Step:
    kind: TurnStep
    number: int
    """The session's turn number: 1, 2, … per session, kept in the record's `turn`."""
    outcome: str | None = None
    """For an end: completed, aborted or failed, when a source said so."""


@dataclass(frozen=True)
class TurnInputs:
    """What one look at a session showed."""

    status_before: Any
    """The record's turnStatus before this look's write."""
    status_after: Any
    """The turnStatus this look derived."""
    transcript_path: str | None = None
    """None: no transcript known (this look has no opinion on it)."""
    transcript_starts: int = 0
    """Turn starts the transcript's parser counted."""
    transcript_open: bool = False
    """The transcript's last turn has no end yet."""
    transcript_outcome: str | None = None
    """How the transcript's last ended turn ended."""
    reported_outcome: str | None = None
    """How a headless run that just ended ended (its runner reports it)."""
    transcript_mtime: float = 0.0
    """When the transcript file was last written (wall clock, seconds)."""
    transcript_turn_starts: tuple[tuple[int, float], ...] = ()
    """(the parser's turn number, when the transcript says it started: wall clock) of the turns
    the parser keeps."""
    now_wall: float = 0.0
    """When this look was taken (wall clock, seconds)."""


@dataclass
class TurnTrack:
    """What the turn events of one session have said so far."""

    number: int = 0
    """Turns started so far (the record's `turn.n`; kept across daemon restarts)."""
    open: bool = False
    """The latest turn started and has not ended."""
    transcript_path: str | None = None
    transcript_starts: int = 0
    """Transcript starts already accounted for by a published start."""
    unmatched: bool = False
    """The latest turn was started by the status; the transcript's start for it is still to come.
    It may come after the status ended the turn: an agent may write its transcript later than its
    live status (claude's registry shows a 30 ms turn busy and idle before the transcript holds
    its prompt)."""
    status_ended_at: float | None = None
    """When the status ended that turn, while its transcript start was still to come (wall clock)."""
    since: float = 0.0
    """When this track was made (wall clock): a transcript last written before then is old news."""

    @classmethod
    def baseline(cls, record: Record, inputs: TurnInputs, now_wall: float = 0.0) -> TurnTrack:
        """The track of a session looked at for the first time (a daemon start, a registration):
        what its transcript already holds happened before, and announces nothing."""
        turn = record.get("turn")
        number = turn.get("n") if isinstance(turn, dict) else None
        return cls(
            number=number if isinstance(number, int) and not isinstance(number, bool) else 0,
            open=record.get("turnStatus") == "busy",
            transcript_path=inputs.transcript_path,
            transcript_starts=inputs.transcript_starts if inputs.transcript_path is not None else 0,
            since=now_wall,
        )


def inputs_of(record: Record, seen: Observations, changes: dict[str, Any], transcript_mtime: float = 0.0,
              now_wall: float = 0.0) -> TurnInputs:
    """The turn inputs of one look: the status before and after it, the transcript's counts, and
    a headless run's outcome (only a session with no pane runs one)."""
    transcript, reported = seen.transcript, seen.reported
    outcome = None
    if seen.agent is None and reported is not None and reported.source == "headless" and reported.status == "idle":
        outcome = reported.outcome
    return TurnInputs(
        status_before=record.get("turnStatus"),
        status_after=changes.get("turnStatus", record.get("turnStatus")),
        transcript_path=None if transcript is None else transcript.path,
        transcript_starts=0 if transcript is None else transcript.turns_started,
        transcript_open=transcript is not None and transcript.turn_status == "busy",
        transcript_outcome=None if transcript is None else transcript.last_outcome,
        reported_outcome=outcome,
        transcript_mtime=transcript_mtime,
        transcript_turn_starts=() if transcript is None else transcript.turn_starts,
        now_wall=now_wall,
    )


def step(track: TurnTrack, inputs: TurnInputs) -> list[Step]:
    """Advance `track` by one look; the turn starts and ends it means, in order."""
    steps: list[Step] = []
    _from_transcript(track, inputs, steps)
    _from_status(track, inputs, steps)
    return steps


def _start(track: TurnTrack, steps: list[Step]) -> None:
    track.number += 1
    track.open = True
    steps.append(Step("started", track.number))


def _end(track: TurnTrack, steps: list[Step], outcome: str | None, at: float | None = None) -> None:
    """`at`: the status ended the turn then; a start the transcript has yet to show stays its own."""
    track.open = False
    track.unmatched = track.unmatched and at is not None
    track.status_ended_at = at if track.unmatched else None
    steps.append(Step("ended", track.number, outcome))


def _from_transcript(track: TurnTrack, inputs: TurnInputs, steps: list[Step]) -> None:
    path = inputs.transcript_path
    if path is None:
        return
    if track.transcript_path is not None and path != track.transcript_path:
        # Another conversation file (a fork, a restore): its old turns are not news.
        track.transcript_path, track.transcript_starts = path, inputs.transcript_starts
        return
    if track.transcript_path is None:
        # The first transcript of a session looked at before it had one: at most its last turn
        # is news (pi writes its file at the first reply, claude and codex at the first
        # message), and only when the file was written since (a registered conversation's
        # transcript may be found a look or two after the registration).
        news = 1 if inputs.transcript_mtime > track.since else 0
        track.transcript_starts = max(0, inputs.transcript_starts - news)
    track.transcript_path = path
    first_new = track.transcript_starts + 1
    new_starts = inputs.transcript_starts - track.transcript_starts
    track.transcript_starts = inputs.transcript_starts
    if new_starts <= 0:
        # Fewer than before: the file was replaced and re-read from its start.
        return
    if track.unmatched:
        if track.open or _started_by(inputs, first_new, track.status_ended_at):
            new_starts -= 1  # the status announced the first of them already
        track.unmatched, track.status_ended_at = False, None
    for index in range(new_starts):
        if track.open:
            _end(track, steps, None)  # a turn starts only once the one before it has ended
        _start(track, steps)
        last = index == new_starts - 1
        if not last or not inputs.transcript_open:
            _end(track, steps, inputs.transcript_outcome if last else None)


def _from_status(track: TurnTrack, inputs: TurnInputs, steps: list[Step]) -> None:
    busy_now = inputs.status_after == "busy"
    if busy_now and not track.open:
        _start(track, steps)
        track.unmatched, track.status_ended_at = True, None
        return
    if busy_now or not track.open:
        return
    if inputs.status_after != "idle":
        return  # busy -> unknown is no news, and no end
    # A turn the status opened (or showed busy) ends with the status; one only the transcript
    # opened ends when the transcript closes it.
    if inputs.status_before == "busy" or track.unmatched or not inputs.transcript_open:
        # A turn whose transcript start is still to come has no transcript outcome yet: the one
        # there is the turn before's.
        known = not inputs.transcript_open and not track.unmatched
        outcome = inputs.reported_outcome or (inputs.transcript_outcome if known else None)
        _end(track, steps, outcome, at=inputs.now_wall)


def _started_by(inputs: TurnInputs, number: int, ended_at: float | None) -> bool:
    """The transcript's turn `number` started before the status ended the turn it announced: it
    is that turn's start, written late. One that started after is a turn of its own (a busy that
    opened no transcript turn, such as a compaction, then a quick turn)."""
    if ended_at is None:
        return False
    started = dict(inputs.transcript_turn_starts).get(number)
    return started is not None and started <= ended_at


def turn_field(track: TurnTrack, outcome: str | None) -> dict[str, Any]:
    """The record's `turn`: which turn is the latest, whether it runs, and how it ended."""
    return {"n": track.number, "state": "running" if track.open else "ended", "outcome": None if track.open
            else outcome}
