"""The only module that imports libtmux. Every call runs off the event loop and returns plain
dataclasses; a tmux failure raises `TmuxError` (never a silent empty list), except a server
that is simply not running, which has no panes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import libtmux

PANE_FORMAT = "\t".join(
    (
        "#{pane_id}",
        "#{pane_pid}",
        "#{session_name}",
        "#{window_index}",
        "#{pane_current_command}",
        "#{pane_in_mode}",
        "#{pane_dead}",
        "#{pane_current_path}",
        "#{window_activity}",
        "#{pane_title}",
    )
)

_NOT_RUNNING = ("no server running", "error connecting to", "No such file or directory")


class TmuxError(Exception):
    pass


@dataclass(frozen=True)
class PaneInfo:
    socket: str
    pane: str
    pid: int
    session: str
    window: str
    command: str
    in_mode: bool
    dead: bool
    path: str
    title: str
    activity: int = 0
    """Wall-clock second of the window's last output: a pane that printed nothing since its
    last capture need not be captured again."""

    def location(self) -> dict[str, str]:
        return {"socket": self.socket, "session": self.session, "window": self.window, "pane": self.pane}


def socket_from_name(name: str) -> str:
    """An argument with '/' is a path; otherwise a `tmux -L` name under TMUX_TMPDIR."""
    if "/" in name:
        return str(Path(name).expanduser())
    tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return f"{tmpdir}/tmux-{os.getuid()}/{name}"


def socket_from_tmux_env(tmux_env: str | None) -> str | None:
    """The server socket from a $TMUX value (`path,pid,session`)."""
    if not tmux_env:
        return None
    return tmux_env.split(",", 1)[0] or None


def _run(socket: str, *args: str) -> list[str]:
    result = libtmux.Server(socket_path=socket).cmd(*args)
    if result.returncode != 0:
        message = " ".join(result.stderr).strip() or f"tmux {args[0]} failed"
        raise TmuxError(f"tmux on {socket}: {message}")
    return list(result.stdout)


def _list_panes(socket: str) -> list[PaneInfo]:
    if not Path(socket).exists():
        return []
    result = libtmux.Server(socket_path=socket).cmd("list-panes", "-a", "-F", PANE_FORMAT)
    if result.returncode != 0:
        message = " ".join(result.stderr).strip()
        if any(marker in message for marker in _NOT_RUNNING):
            return []
        raise TmuxError(f"tmux list-panes on {socket}: {message or 'failed'}")
    panes = []
    for line in result.stdout:
        parts = line.split("\t", 9)
        if len(parts) < 10:
            continue
        pane, pid, session, window, command, in_mode, dead, path, activity, title = parts
        panes.append(
            PaneInfo(socket, pane, int(pid or 0), session, window, command, in_mode == "1", dead == "1", path, title,
                     int(activity or 0))
        )
    return panes


async def list_panes(socket: str) -> list[PaneInfo]:
    """Every pane of the server on `socket`, in one tmux call."""
    return await asyncio.to_thread(_list_panes, socket)


async def capture(socket: str, pane: str, lines: int = 0) -> str:
    args = ["capture-pane", "-p", "-J", "-t", pane]
    if lines > 0:
        args += ["-S", f"-{lines}"]
    return "\n".join(await asyncio.to_thread(_run, socket, *args))


async def pane_in_mode(socket: str, pane: str) -> bool:
    out = await asyncio.to_thread(_run, socket, "display-message", "-p", "-t", pane, "#{pane_in_mode}")
    return bool(out) and out[0].strip() == "1"


async def leave_mode(socket: str, pane: str) -> None:
    """Leave copy/view mode: claude and codex often leave a detached pane in view-mode, which swallows keys."""
    if await pane_in_mode(socket, pane):
        await asyncio.to_thread(_run, socket, "send-keys", "-t", pane, "-X", "cancel")


async def send_keys(socket: str, pane: str, keys: Sequence[str], literal: bool = False) -> None:
    args = ["send-keys", "-t", pane]
    if literal:
        args.append("-l")
    await asyncio.to_thread(_run, socket, *args, *keys)


async def paste(socket: str, pane: str, text: str, buffer: str) -> None:
    """Bracketed paste (`paste-buffer -p`) keeps newlines inside one submitted message."""

    def run() -> None:
        server = libtmux.Server(socket_path=socket)
        loaded = server.cmd("set-buffer", "-b", buffer, "--", text)
        if loaded.returncode != 0:
            raise TmuxError(f"tmux set-buffer on {socket}: {' '.join(loaded.stderr)}")
        _run(socket, "paste-buffer", "-p", "-d", "-b", buffer, "-t", pane)

    await asyncio.to_thread(run)


async def run_command(socket: str, *args: str) -> list[str]:
    return await asyncio.to_thread(_run, socket, *args)
