"""Who needs you: a flag per session, raised when a turn ends or the agent waits on a question
while you were not looking at it, lowered when you enter or preview it (or by hand).

Pure (no textual): the app feeds it every record change and tells it which session is in
front of you. The flags survive the TUI closing: they are kept in `$SESH_HOME/tui-attention.json`
with the time the TUI closed, so a turn that ended while no TUI ran is flagged on the next open
(its `lastActivity` is newer than that time).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sesh_mesh.store.record import Record
from sesh_mesh.tui.rows import parse_time

TURN_ENDED = "turn ended"
NEEDS_INPUT = "needs input"
ENDED_AWAY = "turn ended while you were away"
BY_HAND = "flagged by hand"


def needs_input_reason(record: Record) -> str:
    """What the agent waits on, as the daemon saw it (the dialog or question when it is known)."""
    prompt = record.get("pendingPrompt")
    what = prompt.get("question") or prompt.get("text") if isinstance(prompt, dict) else None
    return f"{NEEDS_INPUT}: {what}" if isinstance(what, str) and what.strip() else NEEDS_INPUT


def turns_of(record: Record) -> int:
    """How many turns the owner's transcript saw end (`lastTurn.count`); -1 when unknown."""
    last = record.get("lastTurn")
    count = last.get("count") if isinstance(last, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else -1


def turn_ended_reason(record: Record) -> str:
    last = record.get("lastTurn")
    last = last if isinstance(last, dict) else {}
    outcome, reply = last.get("outcome"), last.get("reply")
    if isinstance(outcome, str) and outcome not in ("completed", ""):
        return f"{TURN_ENDED} ({outcome})"
    return f"{TURN_ENDED}: {reply}" if isinstance(reply, str) and reply.strip() else TURN_ENDED


@dataclass
class Attention:
    path: Path | None = None
    """Where the flags are kept between runs; None keeps them in memory only."""
    flags: dict[str, str] = field(default_factory=dict)
    """uuid -> why it was flagged."""
    closed_at: datetime | None = None
    """When the TUI last closed (from the file): activity after it was not seen by anyone."""
    saved: dict[str, str] = field(default_factory=dict)
    """The flags as the file holds them."""

    @classmethod
    def load(cls, path: Path | None) -> Attention:
        found = cls(path)
        if path is None:
            return found
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return found  # no file yet (first run), or a torn one: start with no flags
        if isinstance(saved, dict):
            flags = saved.get("flags")
            if isinstance(flags, dict):
                found.flags = {str(k): str(v) for k, v in flags.items() if isinstance(v, str)}
                found.saved = dict(found.flags)
            found.closed_at = parse_time(saved.get("closedAt"))
        return found

    def save(self, now: datetime | None = None) -> None:
        if self.path is None:
            return
        doc = {"flags": self.flags, "closedAt": (now or datetime.now(UTC)).isoformat()}
        temp = self.path.with_name(self.path.name + ".tmp")
        with contextlib.suppress(OSError):  # a read-only home loses the flags, not the TUI
            temp.write_text(json.dumps(doc), encoding="utf-8")
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
            self.saved = dict(self.flags)

    def save_if_changed(self) -> bool:
        """Save when the flags differ from the file's, so a TUI that is killed (or whose terminal
        closes) keeps them; the time saved then stands for when it closed. True when it saved."""
        if self.flags == self.saved:
            return False
        self.save()
        return True

    # ---- what the records say ---------------------------------------------------------------

    def opened(self, records: list[Record]) -> None:
        """The first snapshot: keep flags of sessions that still exist, flag what waits on you
        now and what finished a turn since the TUI last closed."""
        alive = {str(r["uuid"]) for r in records if not r.get("deleted")}
        for gone in [uuid for uuid in self.flags if uuid not in alive]:
            del self.flags[gone]  # in place: the table and the row set hold this very dict
        for record in records:
            if record.get("deleted") or record.get("archived"):
                continue
            uuid = str(record["uuid"])
            if record.get("needsInput"):
                self.flags[uuid] = needs_input_reason(record)
            elif self.closed_at is not None and uuid not in self.flags:
                activity = parse_time(record.get("lastActivity"))
                if activity is not None and activity > self.closed_at and record.get("turnStatus") == "idle":
                    self.flags[uuid] = ENDED_AWAY

    def changed(self, before: Record | None, after: Record, looking_at: str | None) -> bool:
        """Apply one record change; True when a flag went up or down."""
        uuid = str(after["uuid"])
        if after.get("deleted"):
            return self.flags.pop(uuid, None) is not None
        if uuid == looking_at:
            return False
        was_busy = before is not None and before.get("turnStatus") == "busy"
        if after.get("needsInput") and not (before or {}).get("needsInput"):
            self.flags[uuid] = needs_input_reason(after)
            return True
        # The transcript's turn count catches a turn too short to be seen busy between two looks.
        counted = before is not None and turns_of(after) > turns_of(before) >= 0
        if counted or (was_busy and after.get("turnStatus") != "busy"):
            self.flags[uuid] = turn_ended_reason(after)
            return True
        return False

    # ---- what you do ------------------------------------------------------------------------

    def seen(self, uuid: str | None) -> bool:
        """You entered or previewed it: lower its flag. True when there was one."""
        return uuid is not None and self.flags.pop(uuid, None) is not None

    def toggle(self, uuid: str) -> bool:
        """`f`: flag by hand, or lower a flag. Returns whether it is flagged now."""
        if self.flags.pop(uuid, None) is not None:
            return False
        self.flags[uuid] = BY_HAND
        return True

    def __contains__(self, uuid: object) -> bool:
        return uuid in self.flags

    def __len__(self) -> int:
        return len(self.flags)
