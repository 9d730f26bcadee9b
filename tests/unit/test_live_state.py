"""Table tests of the pure live-state rules (docs/live-state.md): the authority ladder, its TTLs,
and the turn events a change means."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sesh_mesh.daemon.live_state import (
    REGISTRY_BUSY_TTL_S,
    REPORTER_TTL_S,
    AgentSeen,
    Observations,
    PaneSeen,
    RegistrySeen,
    Reported,
    TranscriptSeen,
    derive,
    turn_events,
)
from sesh_mesh.store.record import Record

NOW = 100_000.0
LOC = {"socket": "/tmp/tmux-0/default", "session": "work", "window": "@1", "pane": "%1"}
AGENT = AgentSeen(LOC, "/home/u/.claude")
IDLE_PANE = PaneSeen(busy=False)
BUSY_PANE = PaneSeen(busy=True)
DIALOG_PANE = PaneSeen(busy=None, needs_input=True)
T_IDLE = TranscriptSeen("/t/c-1.jsonl", "idle", changed_at=NOW - 10)
T_BUSY = replace(T_IDLE, turn_status="busy")
T_UNKNOWN = replace(T_IDLE, turn_status="unknown")

BASE: Record = {
    "uuid": "0b6f3a52-4d2e-4c1f-9a8b-1e2d3c4b5a69",
    "agent": "claude",
    "machine": "a",
    "live": True,
    "tmux": LOC,
    "agentDataDir": "/home/u/.claude",
    "agentSessionId": "c-1",
    "filePath": "/t/c-1.jsonl",
    "turnStatus": "idle",
    "stateSource": "transcript",
    "needsInput": False,
}
"""A live session whose record already says what the default observations say."""

GONE: Record = {**BASE, "live": False, "tmux": None, "stateSource": "pane"}


def seen(**fields: Any) -> Observations:
    """The default observations (agent in its pane, idle pane, idle transcript) with `fields` over them."""
    return replace(Observations(now=NOW, agent=AGENT, pane=IDLE_PANE, transcript=T_IDLE), **fields)


def reg(status: str, age_s: float | None = 1.0) -> RegistrySeen:
    return RegistrySeen(status, age_s)


def hook(status: str, ago: float = 1.0, needs_input: bool = False, source: str = "hook") -> Reported:
    return Reported(status, source, NOW - ago, needs_input)


def state(status: str, source: str | None, needs_input: bool = False) -> dict[str, Any]:
    """The turn-state fields that change from an idle record whose stateSource is `transcript`."""
    changed: dict[str, Any] = {"turnStatus": status, "stateSource": source, "needsInput": needs_input}
    return {k: v for k, v in changed.items() if BASE[k] != v}


ROWS: list[tuple[str, Record, Observations, dict[str, Any]]] = [
    ("nothing changed", BASE, seen(), {}),
    # ---- the claude registry: the top authority
    ("registry busy", BASE, seen(registry=reg("busy")), state("busy", "claude-registry")),
    ("registry idle beats a busy transcript", BASE, seen(registry=reg("idle"), transcript=T_BUSY),
     state("idle", "claude-registry")),
    ("registry idle beats a fresh busy report", BASE, seen(registry=reg("idle"), reported=hook("busy")),
     state("idle", "claude-registry")),
    ("registry waiting is idle and needs input", BASE, seen(registry=reg("waiting")),
     state("idle", "claude-registry", True)),
    ("registry busy with a dialog in the pane", BASE, seen(registry=reg("busy"), pane=DIALOG_PANE),
     state("busy", "claude-registry", True)),
    ("registry status it does not know falls through", BASE, seen(registry=reg("shell"), transcript=T_BUSY),
     {"turnStatus": "busy"}),
    ("registry busy without a time still rules", BASE, seen(registry=reg("busy", None)),
     state("busy", "claude-registry")),
    ("registry busy just inside its TTL", BASE, seen(registry=reg("busy", REGISTRY_BUSY_TTL_S - 1)),
     state("busy", "claude-registry")),
    ("registry busy TTL expired: the transcript rules", BASE, seen(registry=reg("busy", REGISTRY_BUSY_TTL_S)), {}),
    ("registry idle never expires", BASE, seen(registry=reg("idle", 10 * REGISTRY_BUSY_TTL_S), transcript=T_BUSY),
     state("idle", "claude-registry")),
    # ---- reporters (hooks, pi extension, codex notify)
    ("report busy newer than the transcript", BASE, seen(reported=hook("busy")), state("busy", "hook")),
    ("report needs-input", BASE, seen(reported=hook("idle", needs_input=True)), state("idle", "hook", True)),
    ("report with no transcript beats the pane", BASE, seen(reported=hook("idle"), transcript=None, pane=BUSY_PANE),
     state("idle", "hook")),
    ("stale report vs fresh transcript", BASE, seen(reported=hook("idle", ago=60), transcript=T_BUSY),
     {"turnStatus": "busy"}),
    ("report as old as the transcript still rules", BASE, seen(reported=hook("busy", ago=10)),
     state("busy", "hook")),
    ("report just inside its TTL", BASE, seen(reported=hook("busy", ago=REPORTER_TTL_S - 1), transcript=None),
     state("busy", "hook")),
    ("report TTL expired: the transcript rules", BASE,
     seen(reported=hook("busy", ago=REPORTER_TTL_S), transcript=replace(T_IDLE, changed_at=NOW - 2 * REPORTER_TTL_S)),
     {}),
    ("report TTL expired: the pane rules", BASE,
     seen(reported=hook("busy", ago=REPORTER_TTL_S), transcript=None, pane=BUSY_PANE),
     state("busy", "pane")),
    # ---- the transcript
    ("idle to busy by the transcript", BASE, seen(transcript=T_BUSY), {"turnStatus": "busy"}),
    ("busy to idle by the transcript", {**BASE, "turnStatus": "busy"}, seen(), {"turnStatus": "idle"}),
    ("transcript busy with a dialog in the pane", BASE, seen(transcript=T_BUSY, pane=DIALOG_PANE),
     {"turnStatus": "busy", "needsInput": True}),
    ("needs-input cleared", {**BASE, "turnStatus": "busy", "needsInput": True}, seen(transcript=T_BUSY),
     {"needsInput": False}),
    # ---- the pane probe: the floor
    ("idle to busy by the pane before any transcript", {**BASE, "stateSource": "pane"},
     seen(transcript=None, pane=BUSY_PANE), {"turnStatus": "busy"}),
    ("busy to idle by the pane", {**BASE, "turnStatus": "busy", "stateSource": "pane"},
     seen(transcript=T_UNKNOWN, pane=IDLE_PANE), {"turnStatus": "idle"}),
    ("pane it cannot read: unknown", BASE, seen(transcript=T_UNKNOWN, pane=PaneSeen(busy=None)),
     state("unknown", None)),
    ("no capture and no transcript yet: unknown", BASE, seen(transcript=None, pane=None), state("unknown", None)),
    # ---- the agent process: appears, vanishes, runs headless
    ("agent gone mid-turn", {**BASE, "turnStatus": "busy", "stateSource": "claude-registry", "needsInput": True},
     seen(agent=None, pane=None, transcript=T_BUSY),
     {"live": False, "tmux": None, "turnStatus": "idle", "stateSource": "pane", "needsInput": False}),
    ("agent appears", {**GONE, "agentDataDir": None}, seen(),
     {"live": True, "tmux": LOC, "agentDataDir": "/home/u/.claude", "stateSource": "transcript"}),
    ("headless turn running", GONE, seen(agent=None, pane=None, reported=hook("busy", source="headless")),
     state("busy", "hook")),
    ("headless report expired", {**GONE, "turnStatus": "busy", "stateSource": "hook"},
     seen(agent=None, pane=None, reported=hook("busy", ago=REPORTER_TTL_S, source="headless")),
     {"turnStatus": "idle", "stateSource": "pane"}),
    ("a pane reporter counts only in its pane", GONE, seen(agent=None, pane=None, reported=hook("busy")), {}),
    # ---- the other derived fields
    ("context from the pane's window", BASE,
     seen(transcript=replace(T_IDLE, context_pct=10, context_tokens=50_000),
          pane=PaneSeen(busy=False, context_window=200_000)), {"contextPct": 25}),
    ("context from the transcript alone", BASE, seen(transcript=replace(T_IDLE, context_pct=10, context_tokens=5)),
     {"contextPct": 10}),
    ("model and last activity", BASE,
     seen(transcript=replace(T_IDLE, model="m-1", last_activity="2026-01-01T00:00:00Z")),
     {"model": "m-1", "lastActivity": "2026-01-01T00:00:00Z"}),
    ("conversation id from the transcript over the process", {**BASE, "agentSessionId": None},
     seen(agent=replace(AGENT, agent_session_id="p-1"), transcript=replace(T_IDLE, agent_session_id="t-1")),
     {"agentSessionId": "t-1"}),
    ("conversation id from the process", {**BASE, "agentSessionId": None},
     seen(agent=replace(AGENT, agent_session_id="p-1")), {"agentSessionId": "p-1"}),
    ("a known conversation id is kept", BASE, seen(transcript=replace(T_IDLE, agent_session_id="t-2")), {}),
    ("transcript moved", BASE, seen(transcript=replace(T_IDLE, path="/t/c-2.jsonl")), {"filePath": "/t/c-2.jsonl"}),
]


@pytest.mark.parametrize(("record", "observations", "expected"), [row[1:] for row in ROWS],
                         ids=[row[0] for row in ROWS])
def test_derive(record: Record, observations: Observations, expected: dict[str, Any]) -> None:
    assert derive(record, observations) == expected


@pytest.mark.parametrize(("record", "observations"), [row[1:3] for row in ROWS], ids=[row[0] for row in ROWS])
def test_derive_is_settled_once_applied(record: Record, observations: Observations) -> None:
    applied = {**record, **derive(record, observations)}
    assert derive(applied, observations) == {}


def test_table_covers_every_authority() -> None:
    sources = {derive(r, o).get("stateSource", r.get("stateSource")) for _, r, o, _ in ROWS}
    assert sources == {"claude-registry", "hook", "transcript", "pane", None}


@pytest.mark.parametrize(
    ("before", "changes", "expected"),
    [
        ({"turnStatus": "idle"}, {"turnStatus": "busy"}, ["started"]),
        ({"turnStatus": "unknown"}, {"turnStatus": "busy"}, ["started"]),
        ({"turnStatus": "busy"}, {"turnStatus": "idle"}, ["ended"]),
        ({"turnStatus": "busy"}, {"live": False, "tmux": None, "turnStatus": "idle"}, ["ended"]),  # agent gone
        ({"turnStatus": "busy"}, {"turnStatus": "unknown"}, []),  # no news is not an end
        ({"turnStatus": "idle"}, {"contextPct": 5}, []),
        ({"turnStatus": "busy", "needsInput": False}, {"needsInput": True}, ["needs-input"]),
        ({"turnStatus": "busy", "needsInput": False}, {"turnStatus": "idle", "needsInput": True},
         ["ended", "needs-input"]),
        ({"turnStatus": "idle", "needsInput": True}, {"needsInput": False}, []),  # cleared: no event
        ({"turnStatus": "idle", "needsInput": True}, {"turnStatus": "busy", "needsInput": False}, ["started"]),
    ],
)
def test_turn_events(before: Record, changes: dict[str, Any], expected: list[str]) -> None:
    assert turn_events(before, changes) == expected
