"""Live state for every local session: tmux panes, agent processes, transcripts, probes.

One loop: every PANE_SCAN_S it lists every pane of every scanned tmux server in one call per
server and walks /proc once; between scans it refreshes transcripts and claude registries,
woken at once by inotify. The state of each registered local session is derived from the
best authority available (claude registry > reporters > transcript > pane probe) by the pure
`live_state.derive` and written to its record only when it changed, so it replicates; the turn
starts, ends and dialogs those writes mean are published to `turn_events` (docs/live-state.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sesh_mesh.agents import proctree
from sesh_mesh.agents.base import PaneProbe, Turn
from sesh_mesh.agents.claude import ClaudeRegistryEntry, RegistryCache
from sesh_mesh.agents.identify import LiveAgent, find_agent, resolve_conversation
from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.agents.tmux import PaneInfo, TmuxError, capture, capture_many, list_panes, socket_from_name
from sesh_mesh.daemon import live_state, turn_track
from sesh_mesh.daemon.live_state import Reported, TurnEventKind
from sesh_mesh.daemon.record_events import last_turn_of
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.transcripts import TranscriptTail, watch_dirs
from sesh_mesh.daemon.turn_events import TurnEvents
from sesh_mesh.daemon.waiting import first_of
from sesh_mesh.errors import SeshError
from sesh_mesh.store.record import Record
from sesh_mesh.store.store import Store

log = logging.getLogger(__name__)

TICK_S = 1.0
"""Transcripts and registries are re-checked this often as a safety net; a file event (inotify
on the transcript dirs and claude's sessions/) wakes the loop at once, so this bounds nothing
a user waits for. Shorter ticks cost idle CPU for every watched session."""

PANE_SCAN_S = 1.0
"""tmux and /proc are walked this often: a killed agent shows as not live within about this."""

FULL_WALK_SCANS = 10
"""/proc is walked on every scan whose panes changed, and at least every this many scans
(an agent started inside an unchanged shell pane changes pane_current_command anyway)."""

FULL_LOOK_TICKS = 10
"""Every session's transcript is re-read and its state re-derived at least every this many ticks.
The ticks between look only at the sessions whose state can have changed without a file event:
live ones, ones live at the last look, reported ones, and records changed since their last look
(at 500 sessions / 100 live panes, re-reading every tail each tick cost 3.4 ms of it)."""

COMMIT_DELAY_S = float(os.environ.get("SESH_TEST_WATCHER_COMMIT_DELAY_S") or 0)
"""Tests only: each look's commit waits this long, to prove replies do not run ahead of it."""


class Watcher:
    def __init__(self, store: Store, sessions: Sessions, machine: str) -> None:
        self.store = store
        self.sessions = sessions
        self.machine = machine
        self.live: dict[tuple[str, str], LiveAgent] = {}
        self.tails: dict[str, TranscriptTail] = {}
        self.probes: dict[tuple[str, str], tuple[PaneProbe, str]] = {}
        self.reported: dict[str, Reported] = {}
        self.turn_events = TurnEvents()
        """Turn starts, ends and dialogs as this watcher records them; commits wake its waiters."""
        self.tracks: dict[str, turn_track.TurnTrack] = {}
        """Each session's turns as published so far (turn_track): every turn gets a start and an end."""
        store.subscribe(lambda record: self.turn_events.changed(str(record["uuid"])))
        self.registries: dict[Path, dict[int, ClaudeRegistryEntry]] = {}
        self.pane_owner: dict[tuple[str, str], str] = {}
        self.wake = asyncio.Event()
        self.dirs_changed = asyncio.Event()
        self.changed_files: set[Path] = set()
        """Files the inotify watch saw change since the last look (transcripts, claude's sessions/)."""
        self.files_wake = asyncio.Event()
        self._looking = asyncio.Lock()
        """Held while tails are read and states derived and written (a tick's, or the changed
        files' look): turn tracks and fingerprints are one look's at a time. A scan does not
        hold it."""
        self.scan_errors: dict[str, str] = {}
        self._last_scan = 0.0
        self._scans = 0
        self._ticks = 0
        self._pane_fingerprint: frozenset[tuple[str, str, int, str, bool]] = frozenset()
        self._tree: proctree.ProcTree | None = None
        self._captured: dict[tuple[str, str], tuple[int, float]] = {}
        self._derived: dict[str, tuple[Any, ...]] = {}
        self._registry_cache = RegistryCache()
        self._watched: set[Path] = set()
        self.server_panes: dict[str, frozenset[tuple[str, int]]] = {}
        """(pane id, pane pid) of every pane of each tmux server at the last scan; a server with no
        pane (or not running) is absent."""
        self.after_tick: list[Callable[[], None]] = []
        """Called after every tick, once `pane_owner` and the records are up to date."""

    # ---- configuration -----------------------------------------------------------------------

    def sockets(self) -> list[str]:
        """SESH_TMUX_SOCKETS when set (even empty), else the default server; plus sesh's own."""
        configured = os.environ.get("SESH_TMUX_SOCKETS")
        if configured is None:
            found = [socket_from_name("default")]
        else:
            found = [socket_from_name(s) for s in configured.split(":") if s.strip()]
        for record in self.sessions.all():
            if record["machine"] != self.machine or record.get("deleted"):
                continue
            spawned = (record.get("tmux") or {}).get("socket") or record.get("spawnSocket")
            if spawned and spawned not in found:
                found.append(spawned)
        return found

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(
                watch_dirs(lambda: set(self._watched), self._files_changed, stop, self.dirs_changed),
                name="agents:transcript-watch",
            )
            group.create_task(self._watch_changed_files(stop), name="agents:changed-files")
            while not stop.is_set():
                # Cleared before the tick, not after: a file event or a commit that arrives while
                # the tick runs (a turn's reply landing just after its start was read) wakes the
                # next tick at once instead of waiting out TICK_S.
                self.wake.clear()
                try:
                    await self.tick()
                except Exception:
                    # One bad pane or transcript must cost one tick, never the daemon.
                    log.exception("agents: tick failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_of(self.wake, stop), TICK_S)
            self.dirs_changed.set()

    def _files_changed(self, paths: set[Path]) -> None:
        self.changed_files |= paths
        self.files_wake.set()
        self.wake.set()

    async def _watch_changed_files(self, stop: asyncio.Event) -> None:
        """A turn's end in a transcript (or claude's registry) must not wait for a pane scan, which
        at 50 panes takes 100 ms or more: the sessions whose files changed are looked at here at
        once, with the panes of the last scan, even while a tick is scanning."""
        while not stop.is_set():
            await first_of(self.files_wake, stop)
            self.files_wake.clear()
            changed, self.changed_files = self.changed_files, set()
            try:
                await self.reconcile_changed(changed)
            except Exception:
                log.exception("agents: looking at changed files failed")

    async def tick(self, force_scan: bool = False) -> None:
        now = time.monotonic()
        if force_scan or now - self._last_scan >= PANE_SCAN_S:
            self._last_scan = now
            await self.scan()
        async with self._looking:
            by_uuid = self._live_by_uuid()  # once per tick: both steps below need it
            self._ticks += 1
            only = None if force_scan or self._ticks % FULL_LOOK_TICKS == 0 else self._tick_sessions(by_uuid)
            await asyncio.to_thread(self._refresh_files, by_uuid, only)
            self.pane_owner = {(a.pane.socket, a.pane.pane): uuid for uuid, a in by_uuid.items()}
            await self.reconcile(by_uuid, only)
        for listener in self.after_tick:
            listener()

    async def reconcile_changed(self, paths: set[Path]) -> None:
        """Look at once at the sessions whose transcript or claude registry is among `paths`."""
        async with self._looking:
            # The panes as the last scan left them, read under the lock: a look must never
            # write a session live from panes older than the look before it.
            by_uuid = self._live_by_uuid()
            registry_dirs = {d for d in self.registries if d / "sessions" in {p.parent for p in paths}}
            uuids = {uuid for uuid, tail in self.tails.items() if tail.path in paths}
            uuids |= {uuid for uuid, agent in by_uuid.items() if agent.data_dir in registry_dirs}
            if not uuids:
                return

            def refresh() -> None:
                for data_dir in registry_dirs:
                    self.registries[data_dir] = self._registry_cache.read(data_dir)
                for uuid in uuids:
                    tail = self.tails.get(uuid)
                    if tail is not None and tail.refresh():
                        tail.changed_at = time.monotonic()

            await asyncio.to_thread(refresh)
            await self.reconcile(by_uuid, only=uuids)

    async def scan(self) -> None:
        panes: list[PaneInfo] = []
        for socket in self.sockets():
            try:
                panes += await list_panes(socket)
                self.scan_errors.pop(socket, None)
            except TmuxError as exc:
                if self.scan_errors.get(socket) != str(exc):
                    log.warning("agents: %s", exc)
                self.scan_errors[socket] = str(exc)
        self._scans += 1
        fingerprint = frozenset((p.socket, p.pane, p.pid, p.command, p.dead) for p in panes)
        tree = self._tree
        if (
            tree is None
            or fingerprint != self._pane_fingerprint
            or self._scans % FULL_WALK_SCANS == 0
            or not all(proctree.alive(a.pid) for a in self.live.values())
        ):
            # The /proc walk is the scan's biggest fixed cost; unchanged panes need none.
            tree = await asyncio.to_thread(proctree.snapshot)
            self._tree = tree
        self._pane_fingerprint = fingerprint
        servers: dict[str, set[tuple[str, int]]] = {}
        for pane in panes:
            servers.setdefault(pane.socket, set()).add((pane.pane, pane.pid))
        self.server_panes = {socket: frozenset(found) for socket, found in servers.items()}
        found: dict[tuple[str, str], LiveAgent] = {}
        for pane in panes:
            key = (pane.socket, pane.pane)
            known = self.live.get(key)
            agent: LiveAgent | None
            if known is not None and not pane.dead and _same_process(known, tree):
                agent = known
                agent.pane = pane
            else:
                agent = await asyncio.to_thread(find_agent, pane, tree)
            if agent is None:
                continue
            self._adopt_known_conversation(agent)
            if agent.agent_session_id is None or agent.transcript is None:
                await asyncio.to_thread(resolve_conversation, agent, tree)
            found[key] = agent
        self.live = found
        await self._probe_panes()

    def _adopt_known_conversation(self, agent: LiveAgent) -> None:
        """An agent sesh launched names its record in SESH_SESSION_ID: take the conversation
        from the record instead of guessing (pi hides its --session argument from ps)."""
        record = self.sessions.get(agent.sesh_session_id or "")
        if record is None or record.get("agent") != agent.kind:
            return
        if record.get("agentSessionId") and agent.agent_session_id is None:
            agent.agent_session_id = str(record["agentSessionId"])
        if record.get("filePath") and agent.transcript is None and get_adapter(agent.kind).resumes_from_file:
            agent.transcript = Path(record["filePath"])

    async def _probe_panes(self) -> None:
        """Capture a pane only when it printed something since its last capture.

        A capture is a tmux process (~2 ms of CPU); one per pane per scan would cost a core at
        scale, so the panes of one server that printed are captured together in one tmux process
        (`capture_many`). tmux's window_activity has one-second resolution, so a pane
        is captured again until one capture was taken a full second after its last output.
        """
        probes: dict[tuple[str, str], tuple[PaneProbe, str]] = {}
        now = time.time()
        printed: dict[str, list[tuple[tuple[str, str], LiveAgent]]] = {}
        for key, agent in self.live.items():
            seen = self._captured.get(key)
            activity = agent.pane.activity
            if key in self.probes and seen is not None and seen[0] == activity and seen[1] >= activity + 1:
                probes[key] = self.probes[key]
                continue
            printed.setdefault(agent.pane.socket, []).append((key, agent))
        for socket, group in printed.items():
            texts = await _capture_group(socket, [agent.pane.pane for _key, agent in group])
            for key, agent in group:
                text = texts.get(agent.pane.pane)
                if text is None:
                    continue  # the pane closed since the scan
                self._captured[key] = (agent.pane.activity, now)
                probes[key] = (get_adapter(agent.kind).probe_pane(text, agent.pane.title), text)
        self.probes = probes
        for gone in set(self._captured) - set(self.live):
            del self._captured[gone]

    def _tick_sessions(self, by_uuid: dict[str, LiveAgent]) -> set[str]:
        """The sessions a tick between two full looks looks at (FULL_LOOK_TICKS): a file event
        looks at the others at once (`reconcile_changed`)."""
        out = set(by_uuid) | set(self.reported)
        for uuid, record in self._local_records():
            derived = self._derived.get(uuid)
            # Never looked at, changed since (originSeq), or live at its last look (its agent
            # may have just gone): fingerprint fields 0 and 1 (`_inputs`).
            if derived is None or derived[0] != record.get("originSeq") or derived[1] is not None:
                out.add(uuid)
        return out

    def _refresh_files(self, by_uuid: dict[str, LiveAgent], only: set[str] | None = None) -> None:
        """Read what each session's transcript gained (only those in `only`, when given) and
        keep the watched directories up to date (a partial look only adds to them)."""
        data_dirs = {a.data_dir for a in self.live.values() if get_adapter(a.kind).has_session_registry}
        self.registries = {d: self._registry_cache.read(d) for d in data_dirs}
        watched: set[Path] = set() if only is None else set(self._watched)
        for uuid, record in self._local_records():
            if only is not None and uuid not in only:
                continue
            path = self._transcript_path(record, by_uuid.get(uuid))
            if path is None:
                continue
            tail = self.tails.get(uuid)
            if tail is None or tail.path != path:
                tail = self.tails[uuid] = TranscriptTail(str(record["agent"]), path)
            if tail.refresh():
                tail.changed_at = time.monotonic()
            watched.add(path.parent)
        watched |= {d / "sessions" for d in data_dirs}
        if watched != self._watched:
            self._watched = watched
            self.dirs_changed.set()

    def _local_records(self) -> Iterable[tuple[str, Record]]:
        machine = self.machine
        for record in self.sessions.all():
            uuid = record["uuid"]
            if record["machine"] == machine and not record.get("deleted") and record.get("origin") == machine:
                yield uuid, record

    def _live_by_uuid(self) -> dict[str, LiveAgent]:
        records = self.sessions
        by_agent_id = {
            (r.get("agent"), r.get("agentSessionId")): uuid
            for uuid, r in self._local_records()
            if r.get("agentSessionId")
        }
        out: dict[str, LiveAgent] = {}
        for agent in self.live.values():
            uuid = None
            if agent.sesh_session_id and agent.sesh_session_id in records:
                # A pane sesh launched names its session; a deleted session owns no pane.
                uuid = None if records[agent.sesh_session_id].get("deleted") else agent.sesh_session_id
            elif agent.agent_session_id:
                uuid = by_agent_id.get((agent.kind, agent.agent_session_id))
            if uuid is not None and records[uuid]["machine"] == self.machine:
                out[uuid] = agent
        return out

    def _transcript_path(self, record: Record, agent: LiveAgent | None) -> Path | None:
        if agent is not None and agent.transcript is not None:
            return agent.transcript
        if record.get("filePath"):
            return Path(record["filePath"])
        agent_id = record.get("agentSessionId")
        if not agent_id or not record.get("cwd"):
            return None
        adapter = get_adapter(str(record["agent"]))
        data_dir = Path(record["agentDataDir"]) if record.get("agentDataDir") else adapter.data_dir(os.environ)
        path = adapter.transcript_path_for(data_dir, str(record["cwd"]), str(agent_id))
        return path if path is not None and path.exists() else None

    # ---- deriving and writing state ----------------------------------------------------------

    async def look_now(self, uuids: set[str]) -> None:
        """Derive and write these sessions' state now, after any look in progress (which may
        still hold a state from before the latest report): a headless turn's reply waits for
        this, so that the store shows the end before the caller can ask."""
        async with self._looking:
            await self.reconcile(self._live_by_uuid(), only=uuids)

    async def reconcile(self, by_uuid: dict[str, LiveAgent], only: set[str] | None = None) -> None:
        """Derive every local session's state (or only those in `only`) and write what changed.

        The writes of one look go to the store as one transaction (`Store.write_local_many`):
        at 50 live panes a storm's 50 separate commits cost 140 ms of a look; one costs a few.
        Each write still takes its own originSeq, and the turn events wait for the commit."""
        batch = _Batch()
        for uuid, record in self._local_records():
            if only is not None and uuid not in only:
                continue
            agent = by_uuid.get(uuid)
            fingerprint = self._inputs(uuid, record, agent)
            if self._derived.get(uuid) == fingerprint:
                continue  # nothing the state is derived from has changed since last time
            self._derived[uuid] = fingerprint
            seen = self.observe(uuid, record, agent)
            await self._write_state(uuid, record, seen, live_state.derive(record, seen), batch)
            batch.looked.append(uuid)
        await self._commit(batch)

    async def _commit(self, batch: _Batch) -> None:
        """One commit for the look's last write of each session, then its events. A batch the
        store refuses (one record failing its checks) is written one session at a time, so one
        bad record costs only its own write; the one that fails is logged and looked at again."""
        failed: set[str] = set()
        if COMMIT_DELAY_S and batch.writes:
            await asyncio.sleep(COMMIT_DELAY_S)  # tests: a watcher slower than its callers
        try:
            await self.store.write_local_many([(uuid, self._mutation(changes)) for uuid, changes in batch.writes])
        except (SeshError, sqlite3.Error):
            for uuid, changes in batch.writes:
                try:
                    await self._write(uuid, changes)
                except (SeshError, sqlite3.Error):
                    log.exception("agents: writing the state of %s failed", uuid)
                    self._derived.pop(uuid, None)
                    failed.add(uuid)
        for uuid, kind, number, outcome in batch.events:
            if uuid not in failed:  # an event is announced only with its write
                self.turn_events.publish(uuid, kind, number, outcome)
        for uuid in batch.looked:
            # A transcript line or a report may decide a wait without changing the record.
            self.turn_events.changed(uuid)

    def _inputs(self, uuid: str, record: Record, agent: LiveAgent | None) -> tuple[Any, ...]:
        """Everything `derive` reads, cheaply: equal inputs give an equal state."""
        tail = self.tails.get(uuid)
        reported = self.reported.get(uuid)
        entry = None
        probe = None
        if agent is not None:
            registry = self.registries.get(agent.data_dir, {}).get(agent.pid)
            entry = None if registry is None else (registry.status, registry.status_updated_at)
            pair = self.probes.get((agent.pane.socket, agent.pane.pane))
            probe = None if pair is None else (pair[0], pair[1][-200:])
        return (
            record.get("originSeq"),
            None if agent is None else (agent.pid, agent.pane, agent.agent_session_id, agent.transcript),
            None if tail is None else (tail.path, tail.state.offset, tail.changed_at),
            entry,
            probe,
            None if reported is None else (reported.status, reported.at),
            # Reporter freshness and registry age expire: re-derive at least each minute. A session
            # with neither (no pane, no report: most of a large fleet) has no state that ages.
            int(time.monotonic() // 60) if agent is not None or reported is not None else None,
        )

    async def _write_state(self, uuid: str, record: Record, seen: live_state.Observations,
                           changes: dict[str, Any], batch: _Batch) -> None:
        """Write one look's derived changes, and publish the turn events they mean. A turn that
        started and ended between two looks (turn_track) is written busy, then idle, so the
        record, and so `await`, other machines and event consumers, sees every turn: the
        earlier commits are made at once, the last one joins the look's `batch` (and so do the
        events that follow it)."""
        mtime = 0.0
        if seen.transcript is not None:
            with contextlib.suppress(OSError):
                mtime = Path(seen.transcript.path).stat().st_mtime
        inputs = turn_track.inputs_of(record, seen, changes, mtime, time.time())
        track = self.tracks.get(uuid)
        if track is None:
            track = self.tracks[uuid] = turn_track.TurnTrack.baseline(record, inputs, time.time())
        steps = turn_track.step(track, inputs)
        dialogs = [kind for kind in live_state.turn_events(record, changes) if kind == "needs-input"]
        for index, turn in enumerate(steps):
            field = {"turn": {"n": turn.number, "state": "running" if turn.kind == "started" else "ended",
                              "outcome": turn.outcome}}
            if index < len(steps) - 1:
                await self._write(uuid, {"turnStatus": "busy" if turn.kind == "started" else "idle", **field})
            else:
                changes = {**changes, **field}
                if index > 0:
                    # The writes before this one changed turnStatus: say this look's own again.
                    changes["turnStatus"] = inputs.status_after
                if turn.kind == "started" and changes.get("turnStatus", record.get("turnStatus")) != "busy":
                    changes["turnStatus"] = "busy"  # the transcript opened it; the next look ends it
                batch.writes.append((uuid, changes))
                batch.events.append((uuid, turn.kind, turn.number, turn.outcome))
                changes = {}
                continue
            self.turn_events.publish(uuid, turn.kind, turn.number, turn.outcome)
        if changes:
            batch.writes.append((uuid, changes))
        batch.events += [(uuid, kind, track.number, None) for kind in dialogs]

    async def _write(self, uuid: str, changes: dict[str, Any]) -> None:
        await self.store.write_local(uuid, self._mutation(changes))

    @staticmethod
    def _mutation(changes: dict[str, Any]) -> Callable[[Record | None], Record | None]:
        def apply(current: Record | None) -> Record | None:
            if current is None or current.get("deleted"):
                return None
            new = {**current, **changes}
            # Derived state does not touch updatedAt: that is when the record itself (name, tags,
            # archive) last changed, and lists sorted by it must not reshuffle on every turn.
            return None if new == current else new

        return apply

    def observe(self, uuid: str, record: Record, agent: LiveAgent | None) -> live_state.Observations:
        """What `live_state.derive` decides from: this watcher's view of one session, now."""
        adapter = get_adapter(str(record["agent"]))
        now = time.monotonic()
        tail = self.tails.get(uuid)
        transcript = None
        if tail is not None:
            state = tail.state
            transcript = live_state.TranscriptSeen(
                path=str(tail.path),
                turn_status=state.turn_status,
                changed_at=tail.changed_at,
                agent_session_id=state.agent_session_id,
                model=state.model,
                last_activity=state.last_activity,
                context_pct=adapter.context_pct(state),
                context_tokens=None if state.usage is None else state.usage.context_tokens,
                last_turn=last_turn_of(state),
                turns_started=state.turns_started,
                last_outcome=state.last_turn_outcome,
                turn_starts=_turn_starts(state.turns),
            )
        reported = self.reported.get(uuid)
        if agent is None:
            return live_state.Observations(now=now, reported=reported, transcript=transcript)
        pane = None
        probe_pair = self.probes.get((agent.pane.socket, agent.pane.pane))
        if probe_pair is not None:
            probe, text = probe_pair
            pane = live_state.PaneSeen(probe.busy, probe.needs_input, adapter.pane_context_window(text),
                                       None if probe.prompt is None else probe.prompt.to_wire())
        registry = None
        entry = self.registries.get(agent.data_dir, {}).get(agent.pid) if adapter.has_session_registry else None
        if entry is not None:
            updated = entry.status_updated_at
            age = None if updated is None else max(0.0, time.time() - updated / 1000)
            registry = live_state.RegistrySeen(entry.status, age)
        seen = live_state.AgentSeen(agent.pane.location(), str(agent.data_dir), agent.agent_session_id)
        return live_state.Observations(now, seen, pane, registry, reported, transcript)

    # ---- queries for the API -----------------------------------------------------------------

    def agents(self) -> list[dict[str, Any]]:
        by_uuid = {id(agent): uuid for uuid, agent in self._live_by_uuid().items()}
        out = []
        for agent in self.live.values():
            uuid = by_uuid.get(id(agent))
            record = self.sessions.get(uuid) if uuid else None
            out.append(
                {
                    **agent.to_json(),
                    "uuid": uuid,
                    "registered": uuid is not None,
                    "turnStatus": (record or {}).get("turnStatus", "unknown"),
                    "stateSource": (record or {}).get("stateSource"),
                }
            )
        out.sort(key=lambda item: str(item["tmux"]))
        return out


@dataclass
class _Batch:
    """One look's writes, committed together, and what to publish once they are."""

    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[str, TurnEventKind, int, str | None]] = field(default_factory=list)
    """(uuid, kind, turn number, outcome), published in order after the commit."""
    looked: list[str] = field(default_factory=list)
    """Sessions derived in this look: their waiters are woken after the commit."""


async def _capture_group(socket: str, panes: list[str]) -> dict[str, str]:
    """Each pane's screen, in one tmux process; one by one when a closed pane stopped the batch."""
    try:
        return await capture_many(socket, panes)
    except TmuxError:
        texts = {}
        for pane in panes:
            try:
                texts[pane] = await capture(socket, pane)
            except TmuxError:
                continue
        return texts


def _turn_starts(turns: Iterable[Turn]) -> tuple[tuple[int, float], ...]:
    return tuple((turn.number, turn.started_s) for turn in turns if turn.started_s is not None)


def _same_process(agent: LiveAgent, tree: proctree.ProcTree) -> bool:
    proc = tree.procs.get(agent.pid)
    return proc is not None and proc.start_ticks == agent.start_ticks
