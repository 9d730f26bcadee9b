"""The state glyphs, in one place for the CLI, the status line and the TUI. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GLYPH_IDLE, GLYPH_BUSY, GLYPH_DETACHED, MARK_NEEDS_INPUT = "●", "◐", "○", "!"
"""As in the original sesh: ● live and idle (waiting for you), ◐ busy, ○ not live."""


def glyph(record: Mapping[str, Any]) -> str:
    """● live and idle, ◐ busy (a headless turn too), ○ not live; `!` added when the agent
    waits on a prompt."""
    if record.get("turnStatus") == "busy":
        mark = GLYPH_BUSY
    elif record.get("live"):
        mark = GLYPH_IDLE
    else:
        mark = GLYPH_DETACHED
    return mark + (MARK_NEEDS_INPUT if record.get("needsInput") else "")


def status_line(record: Mapping[str, Any]) -> str:
    """What a tmux status bar shows for a session: `sesh pane`'s text and the `@sesh_line` option."""
    label = record.get("name") or str(record["uuid"])[:8]
    return f"{glyph(record)} {label} · {record.get('agent')}"


def summary(counts: Mapping[str, int]) -> str:
    """Mesh-wide counts for `@sesh_summary`, e.g. `3● 2◐ 1!`: live idle, busy, waiting on a prompt.
    A zero count is left out, so an idle mesh shows an empty string."""
    parts = ((counts.get("idle", 0), GLYPH_IDLE), (counts.get("busy", 0), GLYPH_BUSY),
             (counts.get("input", 0), MARK_NEEDS_INPUT))  # fmt: skip
    return " ".join(f"{n}{mark}" for n, mark in parts if n)


def summary_kind(record: Mapping[str, Any]) -> str | None:
    """Which `summary` count a record adds to: `input` (a dialog waits) before `busy` before `idle`
    (live, waiting for you); None when it counts nowhere (not live, archived or deleted)."""
    if record.get("deleted") or record.get("archived"):
        return None
    if record.get("needsInput"):
        return "input"
    if record.get("turnStatus") == "busy":
        return "busy"
    return "idle" if record.get("live") else None

