"""Mesh-wide full-text search: each owner indexes its own sessions' transcripts (services/search_index)
as they grow; `search` fans the query out to every machine owning sessions and merges the hits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh.agent_names import check_agent_name
from sesh_mesh.daemon.ops import op
from sesh_mesh.daemon.service import Service
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.services.search_index import IndexTarget, SearchIndex, fts_query
from sesh_mesh.store.record import Record

log = logging.getLogger(__name__)

INDEX_INTERVAL_S = 2.0
"""The index catches up with growing transcripts this often (and before every search)."""

FULL_SYNC_S = 30.0
"""The periodic catch-up skips a pass when no session's transcript grew as the watcher saw it;
every this often it stats every transcript anyway (a search always does)."""

NOT_LOCATED = Path("/nonexistent")
"""The path of a session whose transcript is not located yet."""

FANOUT_TIMEOUT_S = 20.0
"""A machine that has not answered a search within this is reported as failed; the rest still print."""

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def check_args(args: dict[str, Any]) -> tuple[str, str | None, int]:
    query = str(args.get("query") or "")
    fts_query(query)  # a query without words is a usage error before anything is asked
    agent = args.get("agent")
    if agent is not None:
        check_agent_name(agent)
    limit = args.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"bad --limit {limit!r}", f"use a number from 1 to {MAX_LIMIT}")
    return query, agent, limit


@dataclass(frozen=True)
class SearchArgs:
    query: str
    agent: str | None = None
    machine: str | None = None
    """Search only this machine's sessions."""
    limit: int | None = None


@dataclass(frozen=True)
class LocalSearchArgs:
    query: str
    agent: str | None = None
    limit: int | None = None


class SearchOps:
    def __init__(self, service: Service, sessions: Sessions, watcher: Watcher) -> None:
        self.service = service
        self.sessions = sessions
        self.watcher = watcher
        self.index = SearchIndex(service.home / "search.sqlite")
        self.lock = asyncio.Lock()
        self.reported_errors: set[str] = set()
        self._synced: tuple[frozenset[tuple[str, Path, int]], float] | None = None
        """What the last sync saw (each target with the watcher's offset into it) and when."""

    def _targets(self) -> list[IndexTarget]:
        me = self.service.machine
        targets = []
        for record in self.sessions.all():
            if record["machine"] != me or record.get("deleted"):
                continue
            tail = self.watcher.tails.get(record["uuid"])
            path = tail.path if tail is not None else (Path(record["filePath"]) if record.get("filePath") else None)
            if path is not None:
                targets.append(IndexTarget(record["uuid"], str(record["agent"]), path))
            else:
                # Not located yet (the watcher resolves it at the first message): nothing to index,
                # but the session stays a target so its rows are kept.
                targets.append(IndexTarget(record["uuid"], str(record["agent"]), NOT_LOCATED))
        return targets

    def _seen(self, targets: list[IndexTarget]) -> frozenset[tuple[str, Path, int]]:
        tails = self.watcher.tails
        return frozenset((t.uuid, t.path, tails[t.uuid].state.offset if t.uuid in tails else -1) for t in targets)

    async def catch_up(self, force: bool = True) -> None:
        """Index what the local transcripts gained since the last call; drop deleted sessions.
        Unless `force`d, a pass in which no transcript grew as the watcher saw it is skipped (at
        500 sessions a pass stats every transcript and reads the index's table: a fifth of the
        idle daemon's CPU), but not for longer than FULL_SYNC_S."""
        async with self.lock:
            targets = self._targets()
            seen = self._seen(targets)
            now = time.monotonic()
            last = self._synced
            if not force and last is not None and last[0] == seen and now - last[1] < FULL_SYNC_S:
                return
            stats = await asyncio.to_thread(self.index.sync, targets)
            self._synced = (seen, now)
        for error in set(stats.errors) - self.reported_errors:
            log.warning("search index: skipped %s", error)  # once per distinct error, not every pass
        self.reported_errors = set(stats.errors)
        if stats.entries_added or stats.dropped:
            log.debug("search index: +%s entries (%s bytes), %s sessions dropped",
                      stats.entries_added, stats.bytes_read, stats.dropped)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.catch_up(force=False)
                except Exception:
                    # A transcript the parser or SQLite chokes on costs one pass, never the daemon.
                    log.exception("search index: catch-up failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), INDEX_INTERVAL_S)
        finally:
            async with self.lock:
                await asyncio.to_thread(self.index.close)

    @op("search-local", LocalSearchArgs)
    async def op_search_local(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Hits among this machine's own sessions, in the §4a shape."""
        query, agent, limit = check_args(args)
        await self.catch_up()
        async with self.lock:
            hits = await asyncio.to_thread(self.index.search, query, agent=agent, limit=limit)
        me = self.service.machine
        results = []
        for hit in hits:
            record: Record | None = self.sessions.get(hit.uuid)
            if record is None or record.get("deleted") or record["machine"] != me:
                continue  # deleted since the last sync: never shown
            results.append({"uuid": hit.uuid, "machine": me, "agent": hit.agent, "name": record.get("name") or "",
                            "timestamp": hit.ts, "snippet": hit.snippet, "score": round(hit.score, 6)})
        return results

    @op("search", SearchArgs)
    async def op_search(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Ask every machine that owns sessions (or only `machine`), merge by score."""
        query, agent, limit = check_args(args)
        me = self.service.machine
        owners = {str(r["machine"]) for r in self.sessions.all() if not r.get("deleted")} | {me}
        wanted = args.get("machine")
        machines = sorted(owners if not wanted else {str(wanted)})
        local_args = {"query": query, "agent": agent, "limit": limit}
        errors: list[dict[str, str]] = []

        async def ask(machine: str) -> list[dict[str, Any]]:
            if machine == me:
                return list(await self.op_search_local(local_args, ctx))
            if not self.service.links.is_connected(machine):
                raise SeshError(f"machine {machine} is unreachable")
            return list(await asyncio.wait_for(self.service.forward(machine, "search-local", local_args),
                                               FANOUT_TIMEOUT_S))

        answers = await asyncio.gather(*(ask(m) for m in machines), return_exceptions=True)
        merged: list[dict[str, Any]] = []
        for machine, answer in zip(machines, answers, strict=True):
            if isinstance(answer, BaseException):
                if isinstance(answer, UsageError):
                    raise answer
                what = answer.what if isinstance(answer, SeshError) else (
                    "timed out" if isinstance(answer, TimeoutError) else repr(answer))
                errors.append({"machine": machine, "error": what})
                continue
            merged += answer
        merged.sort(key=lambda hit: str(hit.get("timestamp") or ""), reverse=True)  # ties: newest first
        merged.sort(key=lambda hit: -float(hit.get("score") or 0))
        return {"results": merged[:limit], "machines": machines, "errors": errors}
