"""The preview beside (or below) the list: the selected session's last turns from its transcript,
or the live text of its pane, following the selection and updating as the agent writes.

Both come from the session's owner through the op table (`tail --follow`, `pane-capture`), so a
session on another machine previews the same way; when its owner cannot be reached the preview
says so in one line instead of showing stale text as if it were live.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from pathlib import Path
from typing import Any

from textual.widgets import RichLog

from sesh_mesh.errors import SeshError
from sesh_mesh.store.record import Record
from sesh_mesh.tui.attention import NEEDS_INPUT
from sesh_mesh.tui.link import call, stream

TAIL_ENTRIES = 40
"""Transcript entries shown when a session is selected (then each new one as it is written)."""
PANE_REFRESH_S = 0.5
"""How often the live pane text is fetched again while shown."""
SETTLE_S = 0.12
"""A selection must rest this long before the preview fetches it (holding j scrolls freely)."""
TEXT_LINES = 8
"""Lines of a user or assistant message shown; tool calls and results get one line each."""


class Mode(Enum):
    TRANSCRIPT = "transcript"
    PANE = "pane"

    def other(self) -> Mode:
        return Mode.PANE if self is Mode.TRANSCRIPT else Mode.TRANSCRIPT


def entry_lines(entry: dict[str, Any]) -> list[str]:
    """One transcript entry as preview lines: who said it, then the text (tools: one line)."""
    kind = str(entry.get("type") or "")
    role = str(entry.get("role") or "")
    text = str(entry.get("text") or "")
    lines = text.splitlines() or [""]
    if kind == "turn_end":
        return [f"── turn {text} ──"]
    if kind == "compaction":
        return ["── compacted ──"]
    if kind in ("tool_call", "tool_result"):
        arrow = "→" if kind == "tool_call" else "←"
        first = lines[0].strip()
        return [f"  {arrow} {entry.get('tool') or 'tool'}" + (f": {first[:100]}" if first else "")]
    label = {"error": f"{role} error", "command": f"{role} command"}.get(kind, role or kind)
    shown = lines[:TEXT_LINES]
    if len(lines) > TEXT_LINES:
        shown.append(f"… (+{len(lines) - TEXT_LINES} lines)")
    return [f"{label}:", *(f"  {line}" for line in shown), ""]


def headline(record: Record, mode: Mode, flag: str | None) -> list[str]:
    name = record.get("name") or str(record["uuid"])[:8]
    where = f"{record.get('agent')} on {record.get('machine')}"
    state = "live" if record.get("live") else "not live"
    lines = [f"{name} · {where} · {state} · {mode.value} (v switches)"]
    if record.get("stale"):
        lines.append(f"(stale) {record.get('machine')} is unreachable: this is its last known state")
    if flag:
        lines.append(f"! {flag}")
    elif record.get("needsInput"):
        lines.append(f"! {NEEDS_INPUT}")
    lines.append("")
    return lines


class Preview(RichLog):
    """Shows one session at a time; `show()` switches to another (or to none)."""

    DEFAULT_CSS = """
    Preview { border-left: solid $panel; padding: 0 1; background: $surface; }
    Preview.below { border-left: none; border-top: solid $panel; }
    """

    def __init__(self, socket: Path, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, highlight=False, auto_scroll=True)
        self.socket = socket
        self.mode = Mode.TRANSCRIPT
        self.record: Record | None = None
        self.flag: str | None = None
        self.entries_seen = 0
        """Transcript entries written for the current session (tests wait on it)."""
        self.pane_text = ""
        self.problem: str | None = None
        """The one line shown when the owner could not be asked (None when the preview is live)."""

    def show(self, record: Record | None, flag: str | None = None) -> None:
        """Follow `record` from now on (None: nothing selected)."""
        same = record is not None and self.record is not None and record["uuid"] == self.record["uuid"]
        self.record = record
        self.flag = flag
        if same:
            return
        self._restart()

    def switch_mode(self) -> None:
        self.mode = self.mode.other()
        self._restart()

    def _restart(self) -> None:
        self.clear()
        self.entries_seen = 0
        self.pane_text = ""
        self.problem = None
        record = self.record
        if record is None:
            self.workers.cancel_group(self, "preview")
            self.write("No session selected.")
            return
        for line in headline(record, self.mode, self.flag):
            self.write(line)
        follow = self._follow_transcript if self.mode is Mode.TRANSCRIPT else self._follow_pane
        self.run_worker(follow(record), group="preview", exclusive=True, exit_on_error=False)

    async def _follow_transcript(self, record: Record) -> None:
        await asyncio.sleep(SETTLE_S)
        args = {"uuid": record["uuid"], "n": TAIL_ENTRIES, "follow": True}
        try:
            async for item in stream(self.socket, "tail", args):
                if isinstance(item, dict):
                    for line in entry_lines(item):
                        self.write(line)
                    self.entries_seen += 1
        except SeshError as exc:
            self._say(exc.what + (f" ({exc.fix})" if exc.fix else ""))
        except (OSError, ValueError) as exc:
            self._say(f"the daemon stopped answering: {exc}")
        else:
            self._say("the transcript stream ended")

    async def _follow_pane(self, record: Record) -> None:
        await asyncio.sleep(SETTLE_S)
        if not record.get("live"):
            self._say("not live: it has no pane to show (v shows the transcript; R resumes it)")
            return
        while True:
            try:
                found = await call(self.socket, "pane-capture", {"uuid": record["uuid"], "n": 0})
            except SeshError as exc:
                self._say(exc.what + (f" ({exc.fix})" if exc.fix else ""))
                return
            except (OSError, ValueError) as exc:
                self._say(f"the daemon stopped answering: {exc}")
                return
            text = _capture_text(found)
            if text != self.pane_text:
                self.pane_text = text
                self.clear()
                for line in headline(record, self.mode, self.flag):
                    self.write(line)
                self.write(text.rstrip("\n"))
            await asyncio.sleep(PANE_REFRESH_S)

    def _say(self, problem: str) -> None:
        self.problem = problem
        self.write(f"— {problem}")


def _capture_text(found: object) -> str:
    if isinstance(found, dict):
        for key in ("text", "content", "lines"):
            value = found.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, list):
                return "\n".join(str(line) for line in value)
    return found if isinstance(found, str) else str(found)
