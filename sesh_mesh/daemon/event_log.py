"""The event log: every event appended to a file as one JSON line (`SESH_EVENT_LOG` or
`[events] log`).

The file is opened with O_APPEND for each batch, and each line is one write(2), so several
daemons (or other programs) may append to one file and its lines never interleave; a rotated
file is picked up at the next batch. A write that fails is logged and the batch is lost (the
daemon's own state never depends on the log). docs/events.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sesh_mesh import clock
from sesh_mesh.daemon.events import Dropped, Event, EventHub

log = logging.getLogger(__name__)

BATCH_MAX = 256
"""Lines written per wake-up at most (one open, one write per line)."""


def line_of(item: Event | Dropped, machine: str) -> bytes:
    wire: dict[str, Any] = item.to_wire()
    if isinstance(item, Dropped):
        wire.update(time=clock.now_iso(), seenOn=machine)
    return (json.dumps(wire, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def append_lines(path: Path, lines: list[bytes]) -> None:
    """Append each line with its own write(2) to `path` opened O_APPEND (created 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        for line in lines:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(f"short write: {written} of {len(line)} bytes")
    finally:
        os.close(fd)


class EventLog:
    def __init__(self, hub: EventHub, path: Callable[[], Path | None]) -> None:
        self.hub = hub
        self.path = path
        self._last_error: str | None = None
        self.events = hub.subscribe()
        """Taken at construction: nothing published before `run` starts is missed."""

    async def run(self, stop: asyncio.Event) -> None:
        with self.events as events:
            async for first in events:
                batch = [first]
                while len(batch) < BATCH_MAX and (item := events.get_nowait()) is not None:
                    batch.append(item)
                path = self.path()
                if path is None:
                    continue
                lines = [line_of(item, self.hub.machine) for item in batch]
                try:
                    await asyncio.to_thread(append_lines, path, lines)
                    self._last_error = None
                except OSError as exc:
                    problem = f"{path}: {exc.strerror or exc}"
                    if problem != self._last_error:
                        log.warning("events: cannot append to the event log %s", problem)
                    self._last_error = problem
