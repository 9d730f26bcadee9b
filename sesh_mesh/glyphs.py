"""The state glyphs, in one place for the CLI, the status line and the TUI. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GLYPH_BUSY, GLYPH_IDLE, GLYPH_DETACHED, MARK_NEEDS_INPUT = "●", "◐", "○", "!"


def glyph(record: Mapping[str, Any]) -> str:
    """● busy, ◐ live and idle, ○ not live; `!` added when the agent waits on a prompt."""
    if record.get("turnStatus") == "busy":
        mark = GLYPH_BUSY
    elif record.get("live"):
        mark = GLYPH_IDLE
    else:
        mark = GLYPH_DETACHED
    return mark + (MARK_NEEDS_INPUT if record.get("needsInput") else "")
