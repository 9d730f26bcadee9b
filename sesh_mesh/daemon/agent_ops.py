"""API operations about agents: agents, pane, pane-resolve, pane-capture, tail, transcript,
discover (and the auto-discovery loop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh import ids
from sesh_mesh.agent_names import check_agent_name
from sesh_mesh.agents.registry import ADAPTERS, get_adapter
from sesh_mesh.agents.tmux import TmuxError, capture, socket_from_name, socket_from_tmux_env
from sesh_mesh.agents.transcript import first_line, render_entry
from sesh_mesh.daemon.op_args import NoArgs
from sesh_mesh.daemon.ops import Emit, op
from sesh_mesh.daemon.service import Service
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.transcripts import read_all
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.errors import NotFound, SeshError, Unresolved, UsageError
from sesh_mesh.glyphs import status_line
from sesh_mesh.store.record import Record

log = logging.getLogger(__name__)

DISCOVER_AUTO_S = float(os.environ.get("SESH_TEST_DISCOVER_AUTO_S") or 10.0)
"""With `[discover] auto = true`, new conversations on disk are adopted this often (tests shorten it)."""

FOLLOW_POLL_S = 0.05
"""`tail --follow` (and the TUI preview) looks at the transcript's size this often: one stat per
follower, cheap enough that a written line shows within ~50 ms instead of ~200 ms."""

PANE_CAPTURE_LINES = 50
"""`pane-capture` without `n`: the last 50 lines, scrollback included (0: the visible screen)."""

@dataclass(frozen=True)
class PaneResolveArgs:
    pane: str
    """A tmux pane id, e.g. %3."""
    socket: str | None = None
    """The tmux server: a socket path or a -L name (default: the default server)."""


@dataclass(frozen=True)
class PaneOwnerArgs:
    pane: str | None = None
    tmux: str | None = None
    """The caller's $TMUX (socket path first)."""


@dataclass(frozen=True)
class PaneArgs:
    op: str
    pane: str | None = None
    socket: str | None = None
    json: bool = False


@dataclass(frozen=True)
class LinesArgs:
    uuid: str
    n: int | None = None
    """How many lines or entries, from the end."""


@dataclass(frozen=True)
class TailArgs:
    uuid: str
    n: int | None = None
    follow: bool | None = None


@dataclass(frozen=True)
class DiscoverArgs:
    agent: str | None = None
    register: bool | None = None
    """Register what is found as sessions."""


class AgentOps:
    def __init__(self, service: Service, sessions: Sessions, watcher: Watcher) -> None:
        self.service = service
        self.sessions = sessions
        self.watcher = watcher

    # ---- panes -----------------------------------------------------------------------------

    @op("rescan", NoArgs)
    async def op_rescan(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Scan tmux and the agents' files now."""
        await self.watcher.tick(force_scan=True)
        return {"agents": len(self.watcher.live)}

    @op("agents", NoArgs)
    async def op_agents(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Agents live in the scanned tmux panes, with their conversations."""
        await self.watcher.tick(force_scan=True)
        return self.watcher.agents()

    @op("pane-resolve", PaneResolveArgs)
    async def op_pane_resolve(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The session or conversation of the agent live in a tmux pane (exit 3 none, 4 unresolved).

        NotFound when no agent is live in the pane; Unresolved when its conversation has no id yet."""
        pane = str(args.get("pane") or "")
        socket = socket_from_name(str(args.get("socket") or ""))
        if not pane.startswith("%"):
            raise UsageError(f"bad pane id {pane!r}", "pass --pane %ID (see tmux display -p '#{pane_id}')")
        await self.watcher.tick(force_scan=True)
        if socket not in self.watcher.sockets():
            # An explicit socket is scanned even when SESH_TMUX_SOCKETS does not list it.
            from sesh_mesh.agents import proctree
            from sesh_mesh.agents.identify import find_agent, resolve_conversation
            from sesh_mesh.agents.tmux import list_panes

            panes = [p for p in await list_panes(socket) if p.pane == pane]
            tree = await asyncio.to_thread(proctree.snapshot)
            agent = await asyncio.to_thread(find_agent, panes[0], tree) if panes else None
            if agent is not None:
                await asyncio.to_thread(resolve_conversation, agent, tree)
        else:
            agent = self.watcher.live.get((socket, pane))
        if agent is None:
            raise NotFound(f"no agent is live in pane {pane} on {socket}", "check the pane with `sesh agents`")
        where = {"agent": agent.kind, "cwd": agent.cwd, "machine": self.service.machine, "tmux": agent.pane.location(),
                 "agentSessionId": agent.agent_session_id}
        owner = self.watcher.pane_owner.get((socket, pane))
        if owner is not None and not (self.sessions.get(owner) or {}).get("deleted"):
            return {"uuid": owner, **where, "registered": True}
        launched_as = self.sessions.get(agent.sesh_session_id) if agent.sesh_session_id else None
        if agent.sesh_session_id and not (launched_as or {}).get("deleted"):
            return {"uuid": agent.sesh_session_id, **where, "registered": False}
        if agent.agent_session_id is None:
            raise Unresolved(
                f"the {agent.kind} agent in pane {pane} has no conversation id yet",
                "send it a first message, then retry",
            )
        return {"uuid": agent.agent_session_id, **where, "registered": False}

    @op("pane-owner", PaneOwnerArgs)
    async def op_pane_owner(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The session that owns a tmux pane, if any."""
        socket = socket_from_tmux_env(args.get("tmux")) or socket_from_name("default")
        uuid = self.watcher.pane_owner.get((socket, str(args.get("pane") or "")))
        record = None if uuid is None else self.sessions.get(uuid)
        return None if record is None or record.get("deleted") else record

    @op("pane", PaneArgs, raw=True, forwardable=False)
    def raw_pane(self, request: dict[str, Any]) -> bytes:
        """The status-bar fast path: `0<text>\\n` when found, `3\\n` when not. Answered from memory."""
        socket = request.get("socket") or ""
        uuid = self.watcher.pane_owner.get((socket, str(request.get("pane") or "")))
        record = self.sessions.get(uuid) if uuid else None
        if record is None or record.get("deleted"):
            return b"3\n"
        if request.get("json"):
            shaped = {key: record.get(key) for key in ("uuid", "agent", "cwd", "machine", "name", "turnStatus",
                                                      "live", "tmux")}
            return b"0" + json.dumps(shaped, ensure_ascii=False).encode() + b"\n"
        return f"0{status_line(record)}\n".encode()

    @op("pane-capture", LinesArgs, route="owner")
    async def op_pane_capture(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The last `n` lines of the session's pane (default 50, scrollback included; 0: the screen)."""
        record = self.sessions[str(args["uuid"])]
        location = record.get("tmux")
        if not record.get("live") or not location:
            raise SeshError(f"session {record['uuid'][:8]} is not live in a pane", "resume it with `sesh resume`")
        try:
            n = args.get("n")
            lines = PANE_CAPTURE_LINES if n is None else int(n)
            return await capture(location["socket"], location["pane"], lines)
        except TmuxError as exc:
            raise SeshError(str(exc), "check that the pane still exists (`sesh agents`)") from exc

    # ---- transcripts -------------------------------------------------------------------------

    def _transcript_file(self, record: Record) -> Path:
        tail = self.watcher.tails.get(record["uuid"])
        path = tail.path if tail is not None else (Path(record["filePath"]) if record.get("filePath") else None)
        if path is None or not path.exists():
            raise SeshError(
                f"session {record['uuid'][:8]} has no transcript yet",
                "the agent writes it at the first message",
            )
        return path

    @op("transcript", LinesArgs, route="owner")
    async def op_transcript(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The session's transcript entries, parsed and rendered."""
        record = self.sessions[str(args["uuid"])]
        path = self._transcript_file(record)
        state = await asyncio.to_thread(read_all, str(record["agent"]), path)
        entries = state.entries
        n = args.get("n")
        if isinstance(n, int) and n >= 0:
            entries = entries[-n:] if n else []
        return {
            "entries": [e.to_json() for e in entries],
            "rendered": [render_entry(e) for e in entries],
            "offset": state.offset,
        }

    @op("tail", TailArgs, route="owner", stream=True)
    async def stream_tail(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """The last transcript entries, then (with follow) each new one as it is written."""
        record = self.sessions[str(args["uuid"])]
        path = self._transcript_file(record)
        agent = str(record["agent"])
        state = await asyncio.to_thread(read_all, agent, path)
        n_arg = args.get("n")
        n = int(n_arg) if isinstance(n_arg, int) else 20
        for entry in state.entries[-n:] if n else []:
            await emit({**entry.to_json(), "rendered": render_entry(entry)})
        if not args.get("follow"):
            return None
        sent = len(state.entries)
        while not self.service.stop_requested.is_set():
            await asyncio.sleep(FOLLOW_POLL_S)
            try:
                size = path.stat().st_size
            except OSError:
                continue
            if size <= state.offset:
                continue
            with path.open("rb") as handle:
                handle.seek(state.offset)
                state.feed(handle.read())
            for entry in state.entries[sent:]:
                await emit({**entry.to_json(), "rendered": render_entry(entry)})
            sent = len(state.entries)
        return None

    # ---- discovery ---------------------------------------------------------------------------

    def _data_dirs(self) -> dict[str, set[Path]]:
        dirs: dict[str, set[Path]] = {kind: {adapter.data_dir(os.environ)} for kind, adapter in ADAPTERS.items()}
        for agent in self.watcher.live.values():
            dirs[agent.kind].add(agent.data_dir)
        for record in self.sessions.all():
            if record.get("agentDataDir") and record.get("agent") in dirs:
                dirs[str(record["agent"])].add(Path(record["agentDataDir"]))
        return dirs

    def discover_now(self, agent_filter: str | None) -> list[dict[str, Any]]:
        # Known anywhere in the mesh, tombstones included: a conversation registered on another
        # machine (whose agent shares these files, or whose transcript was copied here) is that
        # session, and a deleted one is never re-adopted.
        known = {(r.get("agent"), r["uuid"]) for r in self.sessions.all()}
        known |= {(r.get("agent"), r["agentSessionId"]) for r in self.sessions.all() if r.get("agentSessionId")}
        live_ids = {a.agent_session_id for a in self.watcher.live.values() if a.agent_session_id}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, dirs in self._data_dirs().items():
            if agent_filter and kind != agent_filter:
                continue
            adapter = get_adapter(kind)
            for data_dir in dirs:
                for path in adapter.iter_transcripts(data_dir):
                    summary = adapter.read_summary(path)
                    if summary is None or not summary.agent_session_id:
                        continue
                    key = (kind, summary.agent_session_id)
                    if key in known or key in found:
                        continue
                    item: dict[str, Any] = dict(summary.to_json())
                    item["live"] = summary.agent_session_id in live_ids
                    item["agentDataDir"] = str(data_dir)
                    found[key] = item
        return sorted(found.values(), key=lambda i: str(i.get("lastActivity") or ""), reverse=True)

    @op("discover", DiscoverArgs)
    async def op_discover(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Agent conversations on disk that are not sessions yet (optionally register them)."""
        agent = args.get("agent")
        if agent is not None:
            check_agent_name(agent)
        await self.watcher.tick(force_scan=True)
        found = await asyncio.to_thread(self.discover_now, agent)
        if not args.get("register"):
            return found
        return [await self.adopt(item) for item in found]

    async def adopt(self, item: dict[str, Any]) -> dict[str, Any]:
        agent_id = str(item["agentSessionId"])
        if not ids.is_full_uuid(agent_id):
            return {**item, "registered": False, "error": "agent id is not a uuid"}
        name = first_line(str(item.get("firstPrompt") or ""), 40)
        record = await self.service.register_session(
            str(item["agent"]),
            agent_id,
            str(item.get("cwd") or "/"),
            name=name,
            extra={"filePath": item.get("filePath"), "agentDataDir": item.get("agentDataDir")},
        )
        return {**item, "registered": True, "uuid": record["uuid"]}

    async def auto_discover(self, stop: asyncio.Event, auto: bool) -> None:
        """Adopt new conversations every DISCOVER_AUTO_S while `[discover] auto` is on (`auto` at
        start; re-read each round, a broken config.toml keeps the last value)."""
        while not stop.is_set():
            with contextlib.suppress(SeshError):
                auto = self.service.config.discover_auto
            try:
                for item in await asyncio.to_thread(self.discover_now, None) if auto else []:
                    await self.adopt(item)
            except Exception:
                # A broken transcript dir must not end auto-discovery for the others.
                log.exception("discover: auto adoption failed")
            try:
                await asyncio.wait_for(stop.wait(), DISCOVER_AUTO_S)
            except TimeoutError:
                pass
