"""Daemon-stamped tmux options: a status bar reads `#{@sesh_line}` and starts no process.

For every local tmux pane a registered session's agent runs in, the daemon keeps the pane's user
options `@sesh_id`, `@sesh_name`, `@sesh_state` (the glyph) and `@sesh_line` (`sesh pane`'s
text) equal to the record, and each scanned tmux server's global `@sesh_summary` equal to the
mesh-wide counts (`3● 2◐ 1!`). It remembers what it set and sends tmux only the differences,
all of one server's in one tmux process, so an unchanged fleet costs no tmux command at all.
Options of a pane whose session left it (the agent exited, the session was deleted) are unset,
and at start the options an earlier daemon left on panes are taken over or unset. See
docs/tmux-status.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from sesh_mesh.agents.tmux import (
    ISSUED,
    TmuxError,
    gone,
    literal,
    pane_option,
    run_chain,
    set_global_option,
    set_pane_option,
)
from sesh_mesh.daemon.ops import op
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.waiting import first_of
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.glyphs import glyph, status_line, summary, summary_kind
from sesh_mesh.store.record import Record
from sesh_mesh.store.store import Store

log = logging.getLogger(__name__)

PANE_OPTIONS = ("@sesh_id", "@sesh_name", "@sesh_state", "@sesh_line")
SUMMARY_OPTION = "@sesh_summary"

DELAYS_KEPT = 1000
"""How many commit → option-set delays `tmux-status` reports percentiles over."""

@dataclass(frozen=True)
class TmuxStatusArgs:
    since: float | None = None
    """Only the delays of options set at or after this wall-clock time (seconds since the epoch)."""


PaneKey = tuple[str, str]
"""(tmux socket path, pane id)."""


@dataclass
class Stamped:
    """What this daemon last set on one pane: its pid tells a pane of a restarted server (tmux
    reuses pane ids) from the one the options were set on."""

    pid: int
    values: dict[str, str]


def pane_values(record: Record) -> dict[str, str]:
    """The options for a session's pane, as tmux must hold them to show them verbatim: a status
    line draws `#[…]` as a style and `##` as `#` in an option's value (it does not run `#(…)` or
    expand `#{…}` there), so every `#` is doubled (`literal`)."""
    return {
        "@sesh_id": literal(str(record["uuid"])),
        "@sesh_name": literal(str(record.get("name") or str(record["uuid"])[:8])),
        "@sesh_state": literal(glyph(record)),
        "@sesh_line": literal(status_line(record)),
    }


class TmuxStatus:
    def __init__(self, store: Store, sessions: Sessions, watcher: Watcher) -> None:
        self.sessions = sessions
        self.watcher = watcher
        self._stamped: dict[PaneKey, Stamped] = {}
        self._summaries: dict[str, tuple[frozenset[tuple[str, int]], str]] = {}
        """socket → (the server's panes when it was set, the value): a restarted server has other
        panes, and has lost its options."""
        self._kinds: dict[str, str] = {}
        self._counts: Counter[str] = Counter()
        self._dirty_at: dict[str, float] = {}
        """uuid → monotonic time of the first commit not yet on its pane: for the delay figures."""
        self._delays: deque[tuple[float, float]] = deque(maxlen=DELAYS_KEPT)
        """(wall time the options were set, delay since the commit) for the last DELAYS_KEPT."""
        self.commands = 0
        """tmux commands issued (set-option, list-panes), for `tmux-status` and the fleet bench."""
        self.processes = 0
        """tmux client processes started for them (a batch is one)."""
        self.errors = 0
        self._wake = asyncio.Event()
        self._ready = False
        for record in sessions.all():
            self._count(record)
        store.subscribe(self._on_commit)
        watcher.after_tick.append(self._on_tick)

    # ---- inputs ------------------------------------------------------------------------------

    def _count(self, record: Record) -> None:
        uuid = str(record["uuid"])
        kind = summary_kind(record)
        before = self._kinds.get(uuid)
        if before == kind:
            return
        if before is not None:
            self._counts[before] -= 1
        if kind is None:
            self._kinds.pop(uuid, None)
        else:
            self._kinds[uuid] = kind
            self._counts[kind] += 1

    def _on_commit(self, record: Record) -> None:
        self._count(record)
        uuid = str(record["uuid"])
        self._dirty_at.setdefault(uuid, time.monotonic())
        self._wake.set()

    def _on_tick(self) -> None:
        self._ready = True
        self._wake.set()

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        await self._adopt_leftovers()
        while not stop.is_set():
            await first_of(self._wake, stop)
            self._wake.clear()
            if stop.is_set() or not self._ready:
                continue  # before the watcher's first tick nothing is known to own a pane
            try:
                await self.sync()
            except Exception:
                # A tmux server that went away mid-batch costs one pass, never the loop.
                self.errors += 1
                log.exception("tmux-status: sync failed")
        with contextlib.suppress(Exception):
            await self.clear_all()

    async def _adopt_leftovers(self) -> None:
        """Options an earlier daemon set: kept in the table as unknown values, so the first sync
        overwrites those of panes still owned and unsets the rest."""
        for socket in self.watcher.sockets():
            try:
                panes = await pane_option(socket, "@sesh_id")
            except TmuxError as exc:
                log.warning("tmux-status: %s", exc)
                continue
            self.commands += 1
            self.processes += 1
            for pane, pid, value in panes:
                if value:
                    self._stamped[(socket, pane)] = Stamped(pid, {})

    # ---- stamping ----------------------------------------------------------------------------

    def _wanted(self) -> dict[PaneKey, tuple[int, str, dict[str, str]]]:
        out = {}
        for key, uuid in self.watcher.pane_owner.items():
            record = self.sessions.get(uuid)
            agent = self.watcher.live.get(key)
            if record is None or record.get("deleted") or agent is None:
                continue
            out[key] = (agent.pane.pid, uuid, pane_values(record))
        return out

    async def sync(self) -> None:
        """Send tmux what differs between the records and what was last set."""
        wanted = self._wanted()
        servers = self.watcher.server_panes
        batches: dict[str, list[tuple[PaneKey, list[list[str]]]]] = {}
        for key, (pid, _uuid, values) in wanted.items():
            stamped = self._stamped.get(key)
            before = stamped.values if stamped is not None and stamped.pid == pid else {}
            commands = [set_pane_option(key[1], name, value) for name, value in values.items()
                        if before.get(name) != value]  # fmt: skip
            if commands:
                batches.setdefault(key[0], []).append((key, commands))
        for key, stamped in list(self._stamped.items()):
            if key in wanted:
                continue
            if (key[1], stamped.pid) in servers.get(key[0], frozenset()):
                batches.setdefault(key[0], []).append((key, [set_pane_option(key[1], n, None) for n in PANE_OPTIONS]))
            else:
                del self._stamped[key]  # the pane is gone, and its options with it
        text = summary(self._counts)
        summaries: dict[str, tuple[frozenset[tuple[str, int]], str]] = {}
        for socket, panes in servers.items():
            if self._summaries.get(socket) != (panes, text):
                summaries[socket] = (panes, text)
        for socket in set(self._summaries) - set(servers):
            del self._summaries[socket]
        for socket in set(batches) | set(summaries):
            await self._send(socket, batches.get(socket, []), summaries.get(socket), wanted)
        self._settle(wanted)

    async def _send(self, socket: str, panes: list[tuple[PaneKey, list[list[str]]]],
                    server_summary: tuple[frozenset[tuple[str, int]], str] | None,
                    wanted: dict[PaneKey, tuple[int, str, dict[str, str]]]) -> None:
        global_command = None if server_summary is None else set_global_option(SUMMARY_OPTION,
                                                                                 literal(server_summary[1]))
        commands = [c for _key, group in panes for c in group] + ([global_command] if global_command else [])
        summary_set = global_command is not None
        try:
            await self._run(socket, commands)
            done = panes
        except TmuxError as exc:
            # tmux stops a chain at its first failure: most likely a pane closed since the scan.
            # Each pane on its own then, so one closed pane costs only its own commands.
            if not gone(exc):
                log.warning("tmux-status: %s", exc)
            done = []
            for key, group in panes:
                try:
                    await self._run(socket, group)
                    done.append((key, group))
                except TmuxError as one:
                    if not gone(one):
                        log.warning("tmux-status: %s", one)
                        if key not in wanted:
                            continue  # an unset that failed (a slow tmux): kept, so the next sync tries again
                    self._stamped.pop(key, None)
            summary_set = False
            if global_command:
                with contextlib.suppress(TmuxError):
                    await self._run(socket, [global_command])
                    summary_set = True
        for key, _group in done:
            if key in wanted:
                pid, _uuid, values = wanted[key]
                self._stamped[key] = Stamped(pid, dict(values))
            else:
                self._stamped.pop(key, None)
        if summary_set and server_summary is not None:
            self._summaries[socket] = server_summary

    async def _run(self, socket: str, commands: list[list[str]]) -> None:
        self.processes += 1
        self.commands += len(commands)
        await run_chain(socket, commands)

    def _settle(self, wanted: dict[PaneKey, tuple[int, str, dict[str, str]]]) -> None:
        """Delays for the sessions whose pane now shows their committed record."""
        now = time.monotonic()
        on_panes = {uuid for key, (_pid, uuid, values) in wanted.items()
                    if (s := self._stamped.get(key)) is not None and s.values == values}  # fmt: skip
        owning = {uuid for _pid, uuid, _values in wanted.values()}
        for uuid in list(self._dirty_at):
            if uuid in on_panes:
                self._delays.append((time.time(), now - self._dirty_at.pop(uuid)))
            elif uuid not in owning:
                del self._dirty_at[uuid]  # on no pane: nothing to wait for

    async def clear_all(self) -> None:
        """Unset every option this daemon set: a stopped daemon leaves no stale state in a bar."""
        by_socket: dict[str, list[list[str]]] = {}
        for socket, pane in self._stamped:
            by_socket.setdefault(socket, []).extend(set_pane_option(pane, n, None) for n in PANE_OPTIONS)
        for socket in self._summaries:
            by_socket.setdefault(socket, []).append(set_global_option(SUMMARY_OPTION, None))
        for socket, commands in by_socket.items():
            try:
                await self._run(socket, commands)
            except TmuxError:
                # A closed pane stopped the chain: the rest one by one.
                for command in commands:
                    with contextlib.suppress(TmuxError):
                        await self._run(socket, [command])
        self._stamped.clear()
        self._summaries.clear()

    # ---- the op ------------------------------------------------------------------------------

    @op("tmux-status", TmuxStatusArgs)
    async def op_tmux_status(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The tmux status options this daemon keeps: panes stamped, the summary, tmux commands and
        processes issued for them, commit → option-set delays (ms), and every tmux command the
        daemon issued (`daemonTmux`, by command, watcher included)."""
        since = args.get("since") or 0.0
        delays = sorted(delay for at, delay in self._delays if at >= since)

        def pct(q: float) -> float | None:
            return None if not delays else round(delays[min(len(delays) - 1, int(q * len(delays)))] * 1000, 2)

        return {
            "panes": len(self._stamped),
            "servers": sorted(self._summaries),
            "summary": summary(self._counts),
            "commands": self.commands,
            "processes": self.processes,
            "errors": self.errors,
            "delayMs": {"n": len(delays), "p50": pct(0.5), "p99": pct(0.99), "max": pct(1.0)},
            "daemonTmux": dict(ISSUED),
        }
