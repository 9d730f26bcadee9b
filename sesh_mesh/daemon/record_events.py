"""Session events from record changes: pure, so every daemon derives the same ones.

Every daemon holds every record of the mesh and sees each commit, its own and replicated ones.
`RecordEvents.commit(record, now)` compares a record's new version with the last one seen and
names what happened: created, deleted, archived, a turn started or ended, a dialog waits, the
agent exited. The live state the owner derives (turnStatus, needsInput, live, lastTurn,
pendingPrompt) is written into the record and replicates, so a session on another machine
gives the same events here as on its owner, and each daemon announces each change once (no
second source to double it). No I/O and no clock of its own: `now` is monotonic seconds,
`wall_s` and `now_iso` wall time. The rules and their reasons: docs/events.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sesh_mesh.agents.transcript import TranscriptState, first_line
from sesh_mesh.daemon.events import Event
from sesh_mesh.event_config import EventKind
from sesh_mesh.store.record import Record

CREATED_FRESH_S = 300.0
"""A record first seen is announced as created only if it was created this recently: a daemon
catching up with a peer (or importing old sessions) must not announce every old session."""

REPLY_GRACE_S = 2.0
"""After a turn's status went idle, how long to wait for its transcript to count the turn (and
so name the reply) before announcing the end without one: the status and the transcript are
separate sources and either may reach the record first."""


@dataclass(slots=True)
class _Seen:
    status: Any
    needs_input: bool
    live: bool
    archived: bool
    deleted: bool
    turns: int | None
    """`lastTurn.count`: turns the transcript saw end; None while no transcript is known."""
    has_transcript: bool
    end_told: bool = False
    """This turn's end was announced (reset when the next turn starts)."""
    end_due: float | None = None
    """Idle without the transcript's count yet: announce the end at this time regardless."""


REPLY_LINE_LIMIT = 200
"""The reply's first line is clipped to this in `lastTurn` (it replicates with the record)."""


def last_turn_of(state: TranscriptState) -> dict[str, Any]:
    """The record's `lastTurn` from a transcript's parser: how many turns ended (completed,
    aborted or failed), how the last one ended, its reply's first line (completed only), and the
    agent's own error's first line (failed only)."""
    count = state.turns_completed + state.turns_aborted + state.turns_failed
    outcome = state.last_turn_outcome if count else None
    reply = state.last_reply if outcome == "completed" and state.last_reply else None
    last = state.turns[-1] if state.turns else None
    error = last.error if outcome == "failed" and last is not None and last.error else None
    out: dict[str, Any] = {"count": count, "outcome": outcome,
                           "reply": None if reply is None else first_line(reply, REPLY_LINE_LIMIT)}
    if error is not None:
        out["error"] = first_line(error, REPLY_LINE_LIMIT)
    return out


def _turns(record: Record) -> int | None:
    last = record.get("lastTurn")
    count = last.get("count") if isinstance(last, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _seen(record: Record) -> _Seen:
    return _Seen(
        status=record.get("turnStatus"),
        needs_input=bool(record.get("needsInput")),
        live=bool(record.get("live")),
        archived=bool(record.get("archived")),
        deleted=bool(record.get("deleted")),
        turns=_turns(record),
        has_transcript=bool(record.get("filePath")),
    )


def _age_s(created_at: Any, wall_s: float) -> float | None:
    if not isinstance(created_at, str):
        return None
    try:
        return wall_s - datetime.fromisoformat(created_at).timestamp()
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def turn_detail(record: Record, counted: bool) -> dict[str, Any]:
    """turn-ended's detail: the reply's first line and the outcome, when the transcript counted
    this turn (`counted`); null when the end was announced without it."""
    last = record.get("lastTurn") if counted else None
    last = last if isinstance(last, dict) else {}
    detail = {"reply": _text(last.get("reply")), "outcome": _text(last.get("outcome")), "turns": last.get("count")}
    if _text(last.get("error")):
        detail["error"] = last["error"]
    return detail


def prompt_detail(record: Record) -> dict[str, Any]:
    prompt = record.get("pendingPrompt")
    prompt = prompt if isinstance(prompt, dict) else {}
    options = prompt.get("options")
    return {
        "question": _text(prompt.get("question")),
        "options": [o for o in options if isinstance(o, str)] if isinstance(options, list) else [],
        "text": _text(prompt.get("text")),
    }


class RecordEvents:
    def __init__(self, fresh_s: float = CREATED_FRESH_S, grace_s: float = REPLY_GRACE_S) -> None:
        self.fresh_s = fresh_s
        self.grace_s = grace_s
        self._seen: dict[str, _Seen] = {}
        self._latest: dict[str, Record] = {}
        """The last version of each session with an end due (to announce it from)."""
        self._stale_day: int | None = None
        self._stale_before = ""
        """Dates before this are older than the fresh window (`_surely_stale`), for `_stale_day`."""

    def _surely_stale(self, created_at: Any, wall_s: float) -> bool:
        """True when `created_at`'s date alone puts it well before the fresh window: a catch-up
        sees thousands of old records first, and parsing each timestamp was a tenth of its
        events' cost. Two days of margin cover any UTC offset; anything else is parsed."""
        day = int((wall_s - self.fresh_s) // 86_400) - 2
        if day != self._stale_day:
            self._stale_day = day
            self._stale_before = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")
        return isinstance(created_at, str) and created_at[:10] < self._stale_before

    def prime(self, records: list[Record]) -> None:
        """Remember the records the store held at start, announcing nothing about them."""
        for record in records:
            self._seen[str(record["uuid"])] = _seen(record)

    def commit(self, record: Record, now: float, wall_s: float, now_iso: str) -> list[Event]:
        """The events that this new version of `record` means, in order."""
        uuid = str(record["uuid"])
        new = _seen(record)
        old = self._seen.get(uuid)
        self._seen[uuid] = new
        if old is None:
            created = record.get("createdAt")
            if new.deleted or self._surely_stale(created, wall_s):
                return []
            age = _age_s(created, wall_s)
            fresh = age is not None and age <= self.fresh_s
            return [] if not fresh else [_event("session-created", record, now_iso, {
                "cwd": _text(record.get("cwd")), "headless": bool(record.get("headless"))})]
        if old.deleted:
            new.deleted = True  # deletion is absorbing: nothing more to say about it
            return []
        if new.deleted:
            self._latest.pop(uuid, None)
            return [_event("session-deleted", record, now_iso)]
        events: list[Event] = []
        if new.archived != old.archived:
            events.append(_event("session-archived" if new.archived else "session-unarchived", record, now_iso))
        new.end_told, new.end_due = old.end_told, old.end_due
        started = old.status != "busy" and new.status == "busy"
        if started:
            new.end_told, new.end_due = False, None
            events.append(_event("turn-started", record, now_iso))
        counted = self._counted(old, new)
        if counted and not started and not new.end_told:
            # The transcript counted a finished turn: its end, whether or not busy was seen (a
            # turn too short to show busy, or replicated in one step, still ended).
            new.end_told, new.end_due = True, None
            self._latest.pop(uuid, None)
            events.append(_event("turn-ended", record, now_iso, turn_detail(record, True)))
        elif old.status == "busy" and new.status == "idle" and not new.end_told:
            if new.has_transcript:
                new.end_due = now + self.grace_s
            else:
                new.end_told = True
                events.append(_event("turn-ended", record, now_iso, turn_detail(record, False)))
        if new.end_due is not None:
            self._latest[uuid] = record  # announced from its newest version when the grace ends
        if new.needs_input and not old.needs_input:
            events.append(_event("needs-input", record, now_iso, prompt_detail(record)))
        if old.live and not new.live:
            events.append(_event("agent-exited", record, now_iso))
        return events

    @staticmethod
    def _counted(old: _Seen, new: _Seen) -> bool:
        if new.turns is None:
            return False
        if old.turns is None:
            # A transcript appearing: its turns are news only when a turn was seen running (a new
            # conversation's first turn), not for a conversation sesh just registered or learned of.
            return old.status == "busy" and new.turns > 0
        return new.turns > old.turns

    def due(self, now: float, now_iso: str) -> list[Event]:
        """Turn ends whose grace passed without the transcript counting them: announce them now."""
        out = []
        for uuid in list(self._latest):
            seen = self._seen.get(uuid)
            if seen is None or seen.end_due is None:
                del self._latest[uuid]
            elif seen.end_due <= now:
                seen.end_due, seen.end_told = None, True
                record = self._latest.pop(uuid)
                out.append(_event("turn-ended", record, now_iso, turn_detail(record, False)))
        return out

    @property
    def ends_pending(self) -> bool:
        """Some session's turn end waits for its grace (so `next_due` may be set): a cheap test
        for each commit, where `next_due` walks them."""
        return bool(self._latest)

    def next_due(self) -> float | None:
        dues = [seen.end_due for uuid in self._latest if (seen := self._seen.get(uuid)) and seen.end_due is not None]
        return min(dues) if dues else None


def _event(kind: EventKind, record: Record, now_iso: str, detail: dict[str, Any] | None = None) -> Event:
    return Event(
        kind=kind,
        machine=str(record.get("machine") or ""),
        uuid=str(record["uuid"]),
        name=_text(record.get("name")),
        agent=_text(record.get("agent")),
        time=now_iso,
        detail=detail or {},
    )
