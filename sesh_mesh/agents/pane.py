"""Helpers for reading capture-pane text; each adapter keeps its own patterns next to its probe."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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


POINTER_RE = re.compile(r"^[\u276f\u203a>]\s+(.+)$")
"""The selected choice of a dialog whose choices are not numbered (claude 2.1's trust dialog)."""

FOOTER_WORDS = ("to confirm", "to cancel", "to select", "to continue")

OPTION_RE = re.compile(r"^\s*(?:[\u276f\u203a>]\s*)?\d+\.\s+(.+?)\s*$")
"""A dialog's numbered choice, the selected one behind claude's U+276F or codex's U+203A."""

BORDER_CHARS = "│┃╭╮╰╯ \u00a0"

PROMPT_CONTEXT_LINES = 4
"""Lines above the question kept in a dialog's text (the command or file it asks about)."""

PROMPT_TEXT_LIMIT = 1000
PROMPT_LINE_LIMIT = 300


@dataclass(frozen=True)
class DialogPrompt:
    """What a waiting dialog asks (for the needs-input event): its question, its numbered
    choices, and its text as the pane shows it, each clipped."""

    question: str
    options: tuple[str, ...] = ()
    text: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"question": self.question, "options": list(self.options), "text": self.text}


def dialog_prompt(lines: Sequence[str], markers: Sequence[str]) -> DialogPrompt | None:
    """The dialog in a pane's tail, found by the adapter's `markers`; None when none shows.

    The question is the first marker line that is not a choice (a marker may name a choice, as
    claude's "Yes, I trust this folder" does), else the last line ending in "?" above the
    choices, else the marker line itself."""
    cleaned = [line.strip(BORDER_CHARS) for line in lines]
    marked = [i for i, line in enumerate(cleaned) if any(marker in line for marker in markers)]
    if not marked:
        return None
    asking = [i for i in marked if not OPTION_RE.match(cleaned[i])]
    if asking:
        at = asking[0]
    else:
        first_choice = marked[0]
        above = [i for i in range(first_choice) if cleaned[i].endswith("?")]
        at = above[-1] if above else first_choice
    options = tuple(m.group(1)[:PROMPT_LINE_LIMIT] for line in cleaned[at:] if (m := OPTION_RE.match(line)))
    if not options:
        options = _pointed_choices(cleaned[at + 1 :])
    start = max(0, at - PROMPT_CONTEXT_LINES)
    rules = [i for i in range(start, at) if RULE_RE.match(lines[i])]
    if rules:
        start = rules[-1] + 1
    text = "\n".join(line for line in cleaned[start:] if line)[:PROMPT_TEXT_LIMIT]
    return DialogPrompt(cleaned[at][:PROMPT_LINE_LIMIT], options, text)


def _pointed_choices(lines: Sequence[str]) -> tuple[str, ...]:
    """Unnumbered choices: the selected line and the ones after it, up to the dialog's footer."""
    start = next((i for i, line in enumerate(lines) if POINTER_RE.match(line)), None)
    if start is None:
        return ()
    choices: list[str] = []
    for line in lines[start:]:
        if not line or any(word in line for word in FOOTER_WORDS) or len(choices) >= 9:
            break
        pointed = POINTER_RE.match(line)
        choices.append((pointed.group(1) if pointed else line)[:PROMPT_LINE_LIMIT])
    return tuple(choices)
