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
