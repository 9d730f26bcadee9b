"""The daemon's operations: what each API request does, independent of how it arrived.

Reads answer from the in-memory store; mutations run at the owner (forwarded over the mesh when
the record belongs to another machine) through the pure `store.mutations` functions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sesh_mesh import clock, ids
from sesh_mesh.agent_names import check_agent_name, is_agent_name
from sesh_mesh.config import Config
from sesh_mesh.daemon import lookup
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.store import mutations
from sesh_mesh.store.record import Record, new_record, to_wire
from sesh_mesh.store.store import Store

log = logging.getLogger(__name__)

Emit = Callable[[Any], Awaitable[None]]
Handler = Callable[[dict[str, Any], dict[str, Any]], Awaitable[Any]]
StreamHandler = Callable[[dict[str, Any], dict[str, Any], Emit], Awaitable[Any]]


class Forwarder(Protocol):
    """Runs an operation on another machine's daemon (the mesh provides it)."""

    async def call(self, machine: str, op: str, args: dict[str, Any], key: str | None = None) -> Any: ...

    def status(self) -> list[dict[str, Any]]: ...

    def last_contact(self, machine: str) -> str | None: ...

    def is_connected(self, machine: str) -> bool: ...


@dataclass
class Service:
    store: Store
    machine: str
    home: Path
    config: Config
    listen: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    forwarder: Forwarder | None = None
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    extra_handlers: dict[str, Handler] = field(default_factory=dict)
    extra_streams: dict[str, StreamHandler] = field(default_factory=dict)
    on_register: list[Callable[[Record], Awaitable[None]]] = field(default_factory=list)
    watcher: Any = None

    def handler(self, op: str) -> Handler | None:
        if op in self.extra_handlers:
            return self.extra_handlers[op]
        method = getattr(self, "op_" + op.replace("-", "_"), None)
        return method

    def stream_handler(self, op: str) -> StreamHandler | None:
        if op in self.extra_streams:
            return self.extra_streams[op]
        method = getattr(self, "stream_" + op.replace("-", "_"), None)
        return method

    # ---- reads ----------------------------------------------------------------------------

    def decorate(self, record: Record) -> Record:
        """The wire record, with staleness for records owned by a machine we cannot reach."""
        wire = to_wire(record)
        owner = record["machine"]
        if owner != self.machine and self.forwarder is not None and not self.forwarder.is_connected(owner):
            wire["stale"] = True
            wire["lastContact"] = self.forwarder.last_contact(owner)
        return wire

    async def op_ping(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        return {"machine": self.machine, "pid": os.getpid()}

    async def op_status(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        records = self.store.records.values()
        return {
            "machine": self.machine,
            "pid": os.getpid(),
            "uptimeS": round(time.monotonic() - self.started_at, 1),
            "sessions": sum(1 for r in records if not r.get("deleted")),
            "records": len(self.store.records),
            "schemaVersion": self.store.schema_version,
            "epoch": self.store.epoch,
            "originSeq": self.store.own_seq,
            "listen": self.listen,
            "home": str(self.home),
            "peers": self.forwarder.status() if self.forwarder else [],
        }

    async def op_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        agent = args.get("agent")
        if agent is not None:
            check_agent_name(agent)
        found = lookup.select(
            self.store.records.values(),
            machine=args.get("machine"),
            agent=agent,
            tag=args.get("tag"),
            archived=bool(args.get("archived")),
        )
        if args.get("archived_only"):
            found = [r for r in found if r.get("archived")]
        return [self.decorate(r) for r in found]

    async def op_find(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        prefix = ids.check_prefix(str(args.get("prefix", "")))
        found = lookup.select(self.store.records.values(), prefix=prefix, machine=args.get("machine"))
        return [self.decorate(r) for r in found]

    async def op_info(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        return self.decorate(lookup.resolve(self.store.records, str(args["uuid"])))

    async def op_state(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        record = lookup.resolve(self.store.records, str(args["uuid"]))
        return {
            "uuid": record["uuid"],
            "turnStatus": record.get("turnStatus", "unknown"),
            "stateSource": record.get("stateSource"),
            "needsInput": bool(record.get("needsInput")),
            "contextPct": record.get("contextPct"),
            "model": record.get("model"),
            "lastActivity": record.get("lastActivity") or record.get("updatedAt"),
            "live": bool(record.get("live")),
            "machine": record["machine"],
        }

    async def op_tags(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        counts: dict[str, int] = {}
        for record in lookup.select(self.store.records.values(), machine=args.get("machine"), archived=True):
            for tag in record.get("tags", []):
                counts[tag] = counts.get(tag, 0) + 1
        return [{"tag": tag, "count": counts[tag]} for tag in sorted(counts)]

    # ---- writes ---------------------------------------------------------------------------

    async def op_register(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        agent = check_agent_name(str(args.get("agent", "")))
        agent_id = ids.check_uuid(str(args.get("sessionId", "")))
        cwd = str(args.get("cwd") or "")
        if not cwd.startswith("/"):
            raise UsageError(f"cwd {cwd!r} is not an absolute path", "pass --cwd with an existing directory")
        tags = [mutations.check_tag(t) for t in args.get("tags") or []]
        name = args.get("name")
        if name is not None:
            name = mutations.check_name(name)
        record = await self.register_session(agent, agent_id, cwd, name=name or "", tags=tags)
        return self.decorate(record)

    async def register_session(
        self,
        agent: str,
        agent_id: str | None,
        cwd: str,
        *,
        name: str = "",
        tags: list[str] | None = None,
        uuid: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Record:
        """Record a session owned here, deduplicated on (machine, agent, agentSessionId)."""
        for existing in self.store.records.values():
            if (
                agent_id
                and existing["machine"] == self.machine
                and existing.get("agent") == agent
                and existing.get("agentSessionId") == agent_id
                and not existing.get("deleted")
            ):
                return existing
        if uuid is None:
            taken = self.store.records.get(agent_id) if agent_id else None
            uuid = agent_id if agent_id and taken is None else ids.new_uuid()
        elif uuid in self.store.records:
            raise SeshError(f"session id {uuid} is already in use", "pick another --session-id")
        now = clock.now_iso()
        fresh = new_record(
            uuid=uuid,
            agent=agent,
            machine=self.machine,
            cwd=cwd,
            now=now,
            name=name,
            tags=tags or [],
            agent_session_id=agent_id or None,
            extra=extra,
        )
        written = await self.store.write_local(uuid, lambda current: fresh if current is None else None)
        if written is None:
            raise SeshError(f"session id {uuid} is already in use", "pick another id")
        for hook in self.on_register:
            await hook(written)
        return self.store.records.get(uuid, written)

    async def op_mutate(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """rename/tag/untag/retag/archive/unarchive/autoname-toggle/delete, at the owner."""
        op = str(args.get("op", ""))
        op_args = dict(args.get("args") or {})
        mutations.validate(op, op_args)
        record = lookup.resolve(self.store.records, str(args["uuid"]))
        owner = record["machine"]
        if owner != self.machine:
            if op == "delete" and op_args.get("force"):
                return await self._force_delete(record, op_args)
            return await self.forward(owner, "mutate", {**args, "uuid": record["uuid"]}, args.get("key"))
        return await self.mutate_local(record["uuid"], op, op_args, key=args.get("key"))

    async def mutate_local(self, uuid: str, op: str, op_args: dict[str, Any], key: str | None = None) -> Any:
        if key:
            remembered = await self.store.recall_result(key)
            if remembered is not None:
                return remembered
        before = self.store.records.get(uuid) or {}
        written = await self.store.write_local(uuid, mutations.build(op, op_args, clock.now_iso()))
        result = self.decorate(written if written is not None else self.store.records[uuid])
        if op == "delete" and op_args.get("purge"):
            result["purged"] = await asyncio.to_thread(_purge_transcript, before)
        if key:
            await self.store.remember_result(key, result)
        return result

    async def _force_delete(self, record: Record, op_args: dict[str, Any]) -> Any:
        """Tombstone an orphan under our own origin; the owner adopts it when it returns."""
        owner = record["machine"]
        if self.forwarder is not None and self.forwarder.is_connected(owner):
            return await self.forward(owner, "mutate", {"uuid": record["uuid"], "op": "delete", "args": op_args})
        apply = mutations.build("delete", {**op_args, "force": True}, clock.now_iso())

        def as_tombstone(current: Record | None) -> Record | None:
            new = apply(current)
            if new is not None:
                new["machine"] = owner
            return new

        written = await self.store.write_local(record["uuid"], as_tombstone)
        return self.decorate(written if written is not None else record)

    async def forward(self, machine: str, op: str, args: dict[str, Any], key: str | None = None) -> Any:
        if self.forwarder is None:
            raise SeshError(
                f"session is owned by machine {machine!r}, which this daemon has no link to",
                f"add it with `sesh peer add {machine} ws://HOST:PORT --token T`, or run the command there",
            )
        return await self.forwarder.call(machine, op, args, key=key or ids.new_uuid())

    async def op_import(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        path = Path(str(args.get("path") or self.home / "sessions.json"))
        try:
            raw = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SeshError(f"no such file {path}", "pass the path of a legacy sessions.json") from exc
        except (OSError, ValueError) as exc:
            raise SeshError(f"cannot read {path}: {exc}", "pass a JSON list or uuid-keyed object") from exc
        entries = list(raw.values()) if isinstance(raw, dict) else raw
        if not isinstance(entries, list):
            raise SeshError(f"{path} is neither a list nor an object of records", "check the file")
        return await self.import_records(entries, path)

    async def import_records(self, entries: list[Any], path: Path) -> dict[str, Any]:
        imported, skipped, foreign, invalid = [], 0, 0, 0
        pending: list[tuple[str, mutations_fn]] = []
        now = clock.now_iso()
        for entry in entries:
            record = _legacy_record(entry, self.machine, now)
            if record is None:
                invalid += 1
                continue
            if record["machine"] != self.machine:
                foreign += 1
                continue
            if record["uuid"] in self.store.records:
                skipped += 1
                continue
            pending.append((record["uuid"], _insert_only(record)))
        written = await self.store.write_local_many(pending)
        imported = [r["uuid"] for r in written]
        return {
            "file": str(path),
            "imported": len(imported),
            "alreadyPresent": skipped,
            "otherMachines": foreign,
            "invalid": invalid,
        }

    async def op_on_machine(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Run `op` on `machine` (SPEC §4 `--machine`): here when it is us, else at that daemon."""
        machine = str(args.get("machine") or "")
        op = str(args.get("op") or "")
        op_args = dict(args.get("args") or {})
        if op in ("on-machine", "daemon-stop"):
            raise UsageError(f"{op} cannot run on another machine", "run it there")
        if not machine or machine == self.machine:
            handler = self.handler(op)
            if handler is None:
                raise UsageError(f"unknown operation {op!r}", "see sesh --help")
            return await handler(op_args, ctx)
        return await self.forward(machine, op, op_args)

    async def op_daemon_stop(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        self.stop_requested.set()
        return {"stopping": True, "pid": os.getpid()}

    # ---- streams --------------------------------------------------------------------------

    async def stream_subscribe(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """Every record change, as it is committed, until the client goes away."""
        queue: asyncio.Queue[Record] = asyncio.Queue()
        unsubscribe = self.store.subscribe(queue.put_nowait)
        try:
            if args.get("snapshot"):
                await emit({"snapshot": [self.decorate(r) for r in self.store.records.values()]})
            while not self.stop_requested.is_set():
                record = await queue.get()
                batch = [record]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                await emit({"changes": [self.decorate(r) for r in batch]})
        finally:
            unsubscribe()
        return None


mutations_fn = Callable[[Record | None], Record | None]


def _purge_transcript(record: Record) -> str | None:
    """Remove the deleted session's transcript (`delete --purge`); the path removed, if any."""
    path = record.get("filePath")
    if not path:
        return None
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SeshError(f"deleted, but could not remove the transcript {path}: {exc.strerror}",
                        "remove it by hand") from exc
    return str(path)


def _insert_only(record: Record) -> mutations_fn:
    return lambda current: record if current is None else None


def _legacy_record(entry: Any, machine: str, now: str) -> Record | None:
    if not isinstance(entry, dict):
        return None
    uuid = str(entry.get("uuid", "")).lower()
    agent = entry.get("agent")
    if not ids.is_full_uuid(uuid) or not is_agent_name(agent) or entry.get("deleted"):
        return None
    record = new_record(
        uuid=uuid,
        agent=agent,
        machine=str(entry.get("machine") or machine),
        cwd=str(entry.get("cwd") or ""),
        now=str(entry.get("createdAt") or now),
        name=str(entry.get("name") or ""),
        tags=[t for t in entry.get("tags") or [] if isinstance(t, str) and t.strip()],
        agent_session_id=entry.get("agentSessionId") or None,
    )
    for key in ("archived", "autoRename", "summary", "lastAutoNameTurnCount", "filePath", "updatedAt"):
        if key in entry and entry[key] is not None:
            record[key] = entry[key]
    return record
