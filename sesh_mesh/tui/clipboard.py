"""Copying text to the system clipboard with whatever tool this machine has.

OSC 52 (sent by the app through the terminal) covers terminals that support it, including
over ssh; a clipboard tool covers the rest. No tool at all is not an error: OSC 52 was tried.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

TOOL_TIMEOUT_S = 2.0


def tools() -> list[list[str]]:
    """The clipboard commands to feed the text to, best first, that exist here."""
    candidates: list[list[str]] = []
    if sys.platform == "darwin":
        candidates.append(["pbcopy"])
    if os.environ.get("WAYLAND_DISPLAY"):
        candidates.append(["wl-copy"])
    if os.environ.get("DISPLAY"):
        candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    found = [argv for argv in candidates if shutil.which(argv[0])]
    if os.environ.get("TMUX") and shutil.which("tmux"):
        # tmux's own buffer, so prefix-] pastes it even where OSC 52 is off.
        found.append(["tmux", "load-buffer", "-"])
    return found


def copy(text: str) -> list[str]:
    """Feed `text` to each available tool; the names of the tools that took it."""
    took = []
    for argv in tools():
        try:
            done = subprocess.run(argv, input=text.encode(), capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
        except (OSError, subprocess.SubprocessError):
            continue  # a broken tool must not stop the others; OSC 52 was already sent
        if done.returncode == 0:
            took.append(argv[0])
    return took
