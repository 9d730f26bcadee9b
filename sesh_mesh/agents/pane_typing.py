"""Typing a message into an agent's pane: clear the draft, paste, wait until the TUI shows the
paste, press Enter — with as few tmux processes and as little fixed waiting as the TUIs allow.

The Enter used to follow a fixed 300 ms pause. The pause exists because a TUI that has not yet
taken in the paste may read the Enter as part of it (a newline, not a submit); the readiness
signal that replaces it is the pane itself: once the screen shows the pasted text (its last word)
or the TUI's placeholder for a long paste, the TUI has read the whole paste, so an Enter sent now
arrives after it. The pause stays as the cap when neither shows (a last word soft-wrapped in
two, a screen that scrolled): never slower than before. Measured in docs/claude-inbox.md.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Sequence

from sesh_mesh.agents import tmux

PASTE_SHOWN_S = 0.3
"""At most this long from the paste to the Enter when the screen never shows the paste."""

POLL_S = 0.015
"""Between two looks at the pane while waiting for the paste to show (one capture-pane each)."""

KEY_BURST_PAUSE_S = 0.03
"""Between the bursts of keys that clear the input line, so the TUI reads them as keys, not a paste."""

PLACEHOLDER = re.compile(r"\[(?:Pasted text #\d+|Pasted Content \d+ chars|paste #\d+)[^\]\n]*\]")
"""What claude (`[Pasted text #2 +40 lines]`), codex (`[Pasted Content 1040 chars]`) and pi
(`[paste #1 +41 lines]`) show in the input line instead of a long paste."""

MARK_CHARS = 16


def paste_mark(text: str) -> str:
    """The end of the text's last word: what the screen shows once a short paste is in the input
    line. A word is rarely split by a TUI's soft wrap; its last few characters even less."""
    words = text.split()
    return words[-1][-MARK_CHARS:] if words else ""


def paste_shown(before: str, now: str, mark: str) -> bool:
    """The screen `now` shows the paste that `before` (the screen just before it) did not: one
    more copy of its last word, or a placeholder for it."""
    if mark and now.count(mark) > before.count(mark):
        return True
    had = Counter(PLACEHOLDER.findall(before))
    return any(count > had[found] for found, count in Counter(PLACEHOLDER.findall(now)).items())


async def clear_input(socket: str, pane: str, bursts: Sequence[Sequence[str]]) -> None:
    """Leave copy/view mode and send the bursts that empty the input line; the mode check rides
    in the first burst's tmux process."""
    leave = tmux.leave_mode_command(pane)
    first = True
    for burst in bursts:
        chain = [leave, ["send-keys", "-t", pane, *burst]] if first else [["send-keys", "-t", pane, *burst]]
        await tmux.run_chain(socket, chain)
        first = False
        await asyncio.sleep(KEY_BURST_PAUSE_S)
    if first:
        await tmux.run_chain(socket, [leave])


async def paste(socket: str, pane: str, text: str, buffer: str, leave_mode: bool = False) -> None:
    """Bracketed paste (`paste-buffer -p` keeps newlines inside one message), loaded and pasted by
    one tmux process (which first leaves copy mode, with `leave_mode`); the text goes in on stdin
    (an argument is capped at 128 KiB)."""

    def run() -> None:
        tmux.ISSUED["load-buffer"] += 1
        tmux.ISSUED["paste-buffer"] += 1
        tmux.ISSUED["processes"] += 1
        leave = [*tmux.leave_mode_command(pane), ";"] if leave_mode else []
        done = subprocess.run([shutil.which("tmux") or "tmux", "-S", socket, *leave, "load-buffer", "-b", buffer, "-",
                               ";", "paste-buffer", "-p", "-d", "-b", buffer, "-t", pane],
                              input=text.encode(), capture_output=True, check=False, timeout=30)
        if done.returncode != 0:
            raise tmux.TmuxError(f"tmux paste on {socket}: {done.stderr.decode(errors='replace').strip()}")

    await asyncio.to_thread(run)


async def until_shown(socket: str, pane: str, before: str, text: str, limit_s: float = PASTE_SHOWN_S) -> bool:
    """True once the pane shows the paste of `text`; False when `limit_s` passed first."""
    mark = paste_mark(text)
    until = time.monotonic() + limit_s
    while True:
        if paste_shown(before, await tmux.capture(socket, pane), mark):
            return True
        left = until - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(min(POLL_S, left))


async def type_message(socket: str, pane: str, bursts: Sequence[Sequence[str]], text: str, buffer: str,
                       input_is_empty: Callable[[str], bool] = lambda _screen: False) -> bool:
    """Clear the input line (unless the screen shows it empty), paste `text`, press Enter once
    the TUI shows the paste. True when the paste was seen on screen, False when the Enter went
    after the cap instead.

    The screen taken before the clearing serves as the one before the paste: clearing a draft
    only takes copies of the message's last word or placeholders away, so the paste still shows
    as one more than before, unless the draft held them, and then the cap decides."""
    before = await tmux.capture(socket, pane)
    empty = input_is_empty(before)
    if not empty:
        await clear_input(socket, pane, bursts)
    await paste(socket, pane, text, buffer, leave_mode=empty)
    shown = await until_shown(socket, pane, before, text)
    await tmux.send_keys(socket, pane, ["Enter"])
    return shown
