"""The session record: field names, defaults and validation. Pure."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

Record = dict[str, Any]

TURN_STATUSES = ("busy", "idle", "unknown")

WIRE_FIELDS: tuple[str, ...] = (
    "uuid",
    "agentSessionId",
    "name",
    "agent",
    "machine",
    "cwd",
    "turnStatus",
    "live",
    "archived",
    "autoRename",
    "summary",
    "lastAutoNameTurnCount",
    "contextPct",
    "stateSource",
    "needsInput",
    "filePath",
    "tmux",
    "createdAt",
    "updatedAt",
    "originSeq",
    "tags",
    "deleted",
)
"""The wire fields, in their fixed order. Removing or renaming one is a breaking change."""

STATE_FIELDS = frozenset(
    {"turnStatus", "live", "contextPct", "stateSource", "needsInput", "tmux", "filePath", "model"}
)
"""Runtime state, derived by the owner from tmux and transcripts, never set by users."""

USER_FIELDS = frozenset({"name", "archived", "autoRename", "summary", "lastAutoNameTurnCount", "tags"})


def new_record(
    *,
    uuid: str,
    agent: str,
    machine: str,
    cwd: str,
    now: str,
    name: str = "",
    tags: Iterable[str] = (),
    agent_session_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Record:
    record: Record = {
        "uuid": uuid,
        "agentSessionId": agent_session_id,
        "name": name,
        "agent": agent,
        "machine": machine,
        "cwd": cwd,
        "turnStatus": "unknown",
        "live": False,
        "archived": False,
        "autoRename": True,
        "summary": "",
        "lastAutoNameTurnCount": 0,
        "contextPct": None,
        "stateSource": None,
        "needsInput": False,
        "filePath": None,
        "tmux": None,
        "createdAt": now,
        "updatedAt": now,
        "originSeq": 0,
        "tags": normalize_tags(tags),
        "deleted": False,
        "origin": machine,
    }
    if extra:
        record.update(extra)
    return record


def normalize_tags(tags: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for tag in tags:
        if tag not in seen:
            seen.append(tag)
    return sorted(seen)


def tombstone(record: Record) -> Record:
    """A tombstone keeps identity (uuid, agent ids, machine) and drops the body."""
    kept = {key: record.get(key) for key in ("uuid", "agentSessionId", "agent", "machine", "createdAt")}
    kept.update(
        name=record.get("name", ""),
        cwd=record.get("cwd", ""),
        deleted=True,
        live=False,
        turnStatus="unknown",
        tags=[],
        archived=False,
        tmux=None,
    )
    return kept


def to_wire(record: Record) -> Record:
    """The record as `--json` prints it: the fixed fields first, extra fields after."""
    out: Record = {key: record.get(key) for key in WIRE_FIELDS}
    for key, value in record.items():
        if key not in out:
            out[key] = value
    return out


def clone(record: Record) -> Record:
    return copy.deepcopy(record)
