"""Live state of one session as a pure function of what the watcher observed.

`derive(record, observations)` returns the record fields that change (empty when none do), and
`turn_events(record, changes)` names the turn events those changes mean. No I/O, no clock
(`now` is an observation), no agent names: what differs per agent reaches here already
interpreted by its adapter. The rules and their reasons are in docs/live-state.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sesh_mesh.store.record import Record

REPORTER_TTL_S = 6 * 3600.0
"""A reporter's (hook's) state is trusted this long without news; then lower authorities rule.
Long, because a reporter speaks only at turn boundaries: an idle agent is silent for hours."""

REGISTRY_BUSY_TTL_S = 3600.0
"""An agent registry's `busy` older than this yields to the transcript and the pane: a registry
that stopped being updated must not pin a session busy. A genuine long turn loses nothing, since
the transcript (turn open) and the pane (spinner) say busy too."""

REGISTRY_STATUSES = ("busy", "idle", "waiting")
"""The registry statuses that decide the state; any other (e.g. claude's `shell`) falls through."""

TurnEventKind = Literal["started", "ended", "needs-input"]


@dataclass(frozen=True)
class Reported:
    """Turn state pushed by a reporter (claude hooks, pi extension, codex notify, a headless run).

    `at` is on the monotonic clock of the watcher's `now`."""

    status: str
    source: str
    at: float
    needs_input: bool = False
    outcome: str | None = None
    """With an idle from a headless run: how its turn ended (completed, failed, aborted)."""


@dataclass(frozen=True)
class AgentSeen:
    """The agent process found in a tmux pane for this session."""

    tmux: Mapping[str, Any]
    """The pane's location, as the record's `tmux` field holds it."""
    data_dir: str
    agent_session_id: str | None = None
    """The conversation id the process names (argv, launcher), if any."""


@dataclass(frozen=True)
class PaneSeen:
    """The adapter's reading of the agent's last pane capture: the floor authority."""

    busy: bool | None
    """None when the pane shows no recognisable agent UI."""
    needs_input: bool = False
    """A dialog (permission, trust, selection) waits for a keypress."""
    context_window: int | None = None
    """The context window the pane prints (pi's footer), if it prints one."""
    prompt: Mapping[str, Any] | None = None
    """What the dialog asks ({question, options, text}), when `needs_input` and readable."""


@dataclass(frozen=True)
class RegistrySeen:
    """The agent's own live registry entry for its process (claude's sessions/<pid>.json)."""

    status: str | None
    age_s: float | None = None
    """Seconds since the entry's status last changed; None when the entry has no time."""


@dataclass(frozen=True)
class TranscriptSeen:
    """What the transcript's incremental parser holds."""

    path: str
    turn_status: str
    """busy (a turn is open), idle (the last turn ended) or unknown."""
    changed_at: float
    """When the parsed facts last changed, on the monotonic clock of `now`."""
    agent_session_id: str | None = None
    model: str | None = None
    last_activity: str | None = None
    context_pct: int | None = None
    """The adapter's percentage from the transcript alone."""
    context_tokens: int | None = None
    """What sits in the context window after the latest model response."""
    last_turn: Mapping[str, Any] | None = None
    """The transcript's count of ended turns and the last one's outcome and reply's first line
    ({count, outcome, reply}): the record's `lastTurn`, from which every daemon tells a turn's end
    and its reply (docs/events.md)."""
    turns_started: int = 0
    """Turn starts the parser counted (each turn leaves one, however short it was)."""
    last_outcome: str | None = None
    """How the last ended turn ended: completed, aborted or failed."""
    turn_starts: tuple[tuple[int, float], ...] = ()
    """(turn number as the parser counts, when it started: wall-clock seconds) of the turns the
    parser keeps whose start time the transcript gives."""


@dataclass(frozen=True)
class Observations:
    """Everything the watcher saw of one session at `now` (monotonic seconds)."""

    now: float
    agent: AgentSeen | None = None
    """None: no agent process for this session in any scanned pane."""
    pane: PaneSeen | None = None
    registry: RegistrySeen | None = None
    reported: Reported | None = None
    transcript: TranscriptSeen | None = None


@dataclass(frozen=True)
class TurnState:
    status: str
    source: str | None
    needs_input: bool


def derive(record: Record, seen: Observations) -> dict[str, Any]:
    """The record fields whose derived value differs from the record's; {} when none does."""
    desired = desired_fields(record, seen)
    return {key: value for key, value in desired.items() if record.get(key) != value}


def desired_fields(record: Record, seen: Observations) -> dict[str, Any]:
    """Every derived field with its value from `seen` (fields with no source are left out)."""
    agent, transcript = seen.agent, seen.transcript
    desired: dict[str, Any] = {
        "live": agent is not None,
        "tmux": dict(agent.tmux) if agent is not None else None,
    }
    if transcript is not None:
        desired["filePath"] = transcript.path
    if agent is not None:
        desired["agentDataDir"] = agent.data_dir
    if not record.get("agentSessionId"):
        # The transcript's own header is the surest source; the process's is next.
        found = (transcript.agent_session_id if transcript is not None else None) or (
            agent.agent_session_id if agent is not None else None
        )
        if found:
            desired["agentSessionId"] = found
    if transcript is not None:
        pct = transcript.context_pct
        window = seen.pane.context_window if seen.pane is not None and agent is not None else None
        if window and transcript.context_tokens is not None:
            pct = round(100 * transcript.context_tokens / window)
        if pct is not None:
            desired["contextPct"] = pct
        if transcript.model:
            desired["model"] = transcript.model
        if transcript.last_activity:
            desired["lastActivity"] = transcript.last_activity
        if transcript.last_turn is not None:
            desired["lastTurn"] = dict(transcript.last_turn)
    state = turn_state(seen)
    desired["turnStatus"] = state.status
    desired["stateSource"] = state.source
    desired["needsInput"] = state.needs_input
    prompt = seen.pane.prompt if seen.pane is not None and seen.agent is not None else None
    desired["pendingPrompt"] = dict(prompt) if state.needs_input and prompt is not None else None
    return desired


def turn_state(seen: Observations) -> TurnState:
    """The authority ladder: agent registry > reporter > transcript > pane probe."""
    reported = seen.reported
    fresh = reported is not None and seen.now - reported.at < REPORTER_TTL_S
    if seen.agent is None:
        # No pane: only a headless run (sesh's own reporter) can say the session is busy.
        if fresh and reported is not None and reported.source == "headless":
            return TurnState(reported.status, "hook", False)
        return TurnState("idle", "pane", False)
    pane, registry, transcript = seen.pane, seen.registry, seen.transcript
    needs_input = bool(pane is not None and pane.needs_input)
    if registry is not None and registry.status in REGISTRY_STATUSES and not _registry_stale(registry):
        waiting = registry.status == "waiting"
        return TurnState("idle" if waiting else str(registry.status), "claude-registry", waiting or needs_input)
    # A reporter only outranks the transcript while its news is newer (codex's notify reports
    # turn ends only, so its last "idle" must not hide the next turn's start).
    if fresh and reported is not None and (transcript is None or reported.at >= transcript.changed_at):
        return TurnState(reported.status, "hook", needs_input or reported.needs_input)
    # Before the first reply there may be no transcript (pi writes nothing until the first
    # assistant message completes): the pane probe is the floor until then.
    transcript_status = transcript.turn_status if transcript is not None else "unknown"
    if transcript_status in ("busy", "idle"):
        return TurnState(transcript_status, "transcript", needs_input)
    if pane is not None and pane.busy is not None:
        return TurnState("busy" if pane.busy else "idle", "pane", needs_input)
    return TurnState("unknown", None, needs_input)


def _registry_stale(registry: RegistrySeen) -> bool:
    return registry.status == "busy" and registry.age_s is not None and registry.age_s >= REGISTRY_BUSY_TTL_S


def turn_events(record: Record, changes: Mapping[str, Any]) -> list[TurnEventKind]:
    """The turn events that writing `changes` over `record` means, in order.

    A turn starts when the status becomes busy and ends when busy becomes idle (an agent that
    vanished mid-turn ends it too: it is idle, not live). A turn too short to show busy between
    two looks publishes nothing; waiters re-check on every observed change, so none waits on it.
    """
    status_before = record.get("turnStatus")
    status_after = changes.get("turnStatus", status_before)
    events: list[TurnEventKind] = []
    if status_before != "busy" and status_after == "busy":
        events.append("started")
    elif status_before == "busy" and status_after == "idle":
        events.append("ended")
    if changes.get("needsInput") and not record.get("needsInput"):
        events.append("needs-input")
    return events
