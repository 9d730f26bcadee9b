"""Incremental transcript tails, and the watch that wakes them (inotify, `daemon/inotify.py`).

A tail re-reads only the bytes appended since its last read; a shrunk or replaced file starts a
fresh parser. A garbage or deleted transcript never raises: the tail records the error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.agents.transcript import TranscriptState
from sesh_mesh.daemon.inotify import watch_trees
from sesh_mesh.daemon.waiting import first_of

log = logging.getLogger(__name__)

MAX_READ_BYTES = 64 * 1024 * 1024
"""One refresh reads at most this much; a huge backlog is consumed over several ticks."""


@dataclass
class TranscriptTail:
    agent: str
    path: Path
    state: TranscriptState = field(init=False)
    inode: int | None = None
    changed_at: float = 0.0
    error: str | None = None

    def __post_init__(self) -> None:
        self.state = get_adapter(self.agent).new_transcript_state(keep_entries=False)

    def refresh(self) -> bool:
        """Read what was appended; True when the parsed facts may have changed."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self.error = "transcript missing"
            return False
        except OSError as exc:
            self.error = str(exc)
            return False
        if self.inode is not None and (stat.st_ino != self.inode or stat.st_size < self.state.offset):
            self.state = get_adapter(self.agent).new_transcript_state(keep_entries=False)
        self.inode = stat.st_ino
        if stat.st_size <= self.state.offset:
            return False
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.state.offset)
                data = handle.read(MAX_READ_BYTES)
        except OSError as exc:
            self.error = str(exc)
            return False
        before = self.state.offset
        self.state.feed(data)
        self.error = None
        return self.state.offset != before


def read_all(agent: str, path: Path) -> TranscriptState:
    """A full parse with entries kept (for tail/transcript); a partial last line is left out."""
    state = get_adapter(agent).new_transcript_state(keep_entries=True)
    state.feed(path.read_bytes())
    return state


async def watch_dirs(dirs: Callable[[], Iterable[Path]], wake: Callable[[set[Path]], None], stop: asyncio.Event,
                     dirs_changed: asyncio.Event) -> None:
    """Wake the watcher with the changed files whenever a file changes in one of `dirs()`;
    re-arm when the set changes."""
    while not stop.is_set():
        watched = sorted({str(d) for d in dirs() if d.is_dir()})
        dirs_changed.clear()
        if not watched:
            await first_of(stop, dirs_changed)
            continue
        try:
            stopped = await watch_trees([Path(d) for d in watched], wake, stop, dirs_changed)
        except OSError as exc:
            log.warning("transcript watch on %s failed: %s; the 1 s tick covers it", watched, exc)
            stopped = False
        if not stopped:
            # A watched dir vanished (an agent data dir deleted): re-arm on what is left, without spinning.
            await asyncio.sleep(1)
