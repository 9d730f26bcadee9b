"""Helpers for reading capture-pane text; each adapter keeps its own patterns next to its probe."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

RULE_RE = re.compile(r"^\s*[─━]{8,}\s*$")
"""The horizontal rules claude and pi draw around their input editor."""

DEAD_PANE_MARKER = "Pane is dead ("
"""tmux's remain-on-exit banner: the agent process is gone whatever the text above says."""


def nonblank_tail(text: str, count: int) -> list[str]:
    """The last `count` non-blank lines, right-stripped: the agents draw their input and footer at the bottom."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return lines[-count:]


def any_contains(lines: Iterable[str], needles: Sequence[str]) -> bool:
    return any(needle in line for line in lines for needle in needles)


def any_match(lines: Iterable[str], pattern: re.Pattern[str]) -> bool:
    return any(pattern.search(line) for line in lines)


def pane_is_dead(lines: Sequence[str]) -> bool:
    return any(line.lstrip().startswith(DEAD_PANE_MARKER) for line in lines[-3:])
