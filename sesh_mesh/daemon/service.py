"""The daemon's operations: what each API request does, independent of how it arrived.

Reads answer from the in-memory store; mutations run at the owner (forwarded over the mesh when
the record belongs to another machine) through the pure `store.mutations` functions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sesh_mesh import clock, ids, wire
from sesh_mesh.agent_names import check_agent_name
from sesh_mesh.config import Config, ConfigFile
from sesh_mesh.daemon.op_args import NoArgs
from sesh_mesh.daemon.ops import Emit, OpTable, op
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.waiting import first_of
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.store import mutations, validation
from sesh_mesh.store.record import Record, new_record, to_wire
from sesh_mesh.store.store import Store

log = logging.getLogger(__name__)

class Links(Protocol):
    """What the service asks of the mesh: who is reachable, and the mesh's part of `status`."""

    def status(self) -> list[dict[str, Any]]: ...

    def last_contact(self, machine: str) -> str | None: ...

    def is_connected(self, machine: str) -> bool: ...

    def doctor(self) -> list[dict[str, str]]: ...

    def vector(self) -> dict[str, list[Any]]: ...

    def routes_event(self) -> asyncio.Event: ...


# ---- argument models (docs/architecture.md, "Typed arguments") ------------------------------


@dataclass(frozen=True)
class ListArgs:
    machine: str | None = None
    agent: str | None = None
    tag: str | None = None
    archived: bool = False
    """Include archived sessions."""
    archived_only: bool = False


@dataclass(frozen=True)
class FindArgs:
    prefix: str
    machine: str | None = None


@dataclass(frozen=True)
class SessionArgs:
    uuid: str
    """A session uuid, or a unique prefix of it or of its agent's conversation id."""


@dataclass(frozen=True)
class MachineFilter:
    machine: str | None = None


@dataclass(frozen=True)
class RegisterArgs:
    agent: str
    sessionId: str
    cwd: str
    name: str | None = None
    tags: list[str] | None = None


@dataclass(frozen=True)
class MutateArgs:
    uuid: str
    op: str
    """rename, tag, untag, retag, archive, unarchive, autoname-toggle or delete."""
    args: dict[str, Any] | None = None
    key: str | None = None
    """Idempotency key: a retried request with the same key takes effect once."""

    @staticmethod
    def validate(args: dict[str, Any]) -> None:
        mutations.validate(str(args["op"]), dict(args.get("args") or {}))


@dataclass(frozen=True)
class ImportArgs:
    path: str | None = None


@dataclass(frozen=True)
class OnMachineArgs:
    op: str
    machine: str | None = None
    args: dict[str, Any] | None = None


@dataclass(frozen=True)
class SubscribeArgs:
    snapshot: bool = False


class Service:
    """The session inventory: reads, registration, mutations at the owner, import, status."""

    def __init__(
        self,
        *,
        store: Store,
        sessions: Sessions,
        ops: OpTable,
        links: Links,
        machine: str,
        home: Path,
        config: Config,
        listen: str | None,
        stop_requested: asyncio.Event,
        after_register: Callable[[Record], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.ops = ops
        self.links = links
        self.machine = machine
        self.home = home
        self.config_file = ConfigFile(home, config)
        self.listen = listen
        self.stop_requested = stop_requested
        self.started_at = time.monotonic()
        self.after_register = after_register
        """Runs after each registration (the watcher looks for the new session's agent at once)."""

    @property
    def config(self) -> Config:
        """config.toml now: re-read when it changed (machine, [mesh] and [discover] apply at start)."""
        return self.config_file.current()

    # ---- reads ----------------------------------------------------------------------------

    def decorate(self, record: Record) -> Record:
        """The wire record, with staleness for records owned by a machine we cannot reach."""
        wire = to_wire(record)
        owner = record["machine"]
        if owner != self.machine and not self.links.is_connected(owner):
            wire["stale"] = True
            wire["lastContact"] = self.links.last_contact(owner)
        return wire

    @op("ping", NoArgs)
    async def op_ping(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Which daemon answers (machine and pid)."""
        return {"machine": self.machine, "pid": os.getpid()}

    @op("status", NoArgs)
    async def op_status(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The daemon's own state: store, counters, peers and their links, doctor checks."""
        records = self.sessions.all()
        return {
            "machine": self.machine,
            "pid": os.getpid(),
            "uptimeS": round(time.monotonic() - self.started_at, 1),
            "sessions": sum(1 for r in records if not r.get("deleted")),
            "records": len(records),
            "schemaVersion": self.store.schema_version,
            "epoch": self.store.epoch,
            "originSeq": self.store.own_seq,
            "recovering": self.store.recovering,
            "listen": self.listen,
            "home": str(self.home),
            "peers": self.links.status(),
            "doctor": self.links.doctor(),
            "vector": self.links.vector(),
        }

    @op("list", ListArgs)
    async def op_list(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Sessions of the whole mesh, newest first, filtered by machine, agent, tag."""
        agent = args.get("agent")
        if agent is not None:
            check_agent_name(agent)
        found = self.sessions.select(
            machine=args.get("machine"),
            agent=agent,
            tag=args.get("tag"),
            archived=bool(args.get("archived")),
        )
        if args.get("archived_only"):
            found = [r for r in found if r.get("archived")]
        return self.with_short_ids(found)

    def with_short_ids(self, records: list[Record]) -> list[Record]:
        """Wire records plus `shortId`, the id `list` shows: unique across the mesh (ids.short_ids)."""
        short = self.sessions.short_ids()
        return [{**self.decorate(r), "shortId": short.get(r["uuid"], r["uuid"][:8])} for r in records]

    @op("find", FindArgs)
    async def op_find(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Sessions whose uuid or agent conversation id starts with a prefix."""
        prefix = ids.check_prefix(str(args.get("prefix", "")))
        found = self.sessions.select(prefix=prefix, machine=args.get("machine"))
        return self.with_short_ids(found)

    @op("info", SessionArgs)
    async def op_info(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """One session's record."""
        return self.decorate(self.sessions.resolve(str(args["uuid"])))

    @op("state", SessionArgs)
    async def op_state(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """One session's live state: turn status, its source, needs-input, context, model."""
        record = self.sessions.resolve(str(args["uuid"]))
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

    @op("tags", MachineFilter)
    async def op_tags(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Every tag in use, with how many sessions carry it."""
        counts: dict[str, int] = {}
        for record in self.sessions.select(machine=args.get("machine"), archived=True):
            for tag in record.get("tags", []):
                counts[tag] = counts.get(tag, 0) + 1
        return [{"tag": tag, "count": counts[tag]} for tag in sorted(counts)]

    # ---- writes ---------------------------------------------------------------------------

    @op("register", RegisterArgs)
    async def op_register(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Record an agent conversation that runs on this machine as a session."""
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
        for existing in self.sessions.owned_here():
            if agent_id and existing.get("agent") == agent and existing.get("agentSessionId") == agent_id:
                return existing
        if uuid is None:
            taken = self.sessions.get(agent_id) if agent_id else None
            uuid = agent_id if agent_id and taken is None else ids.new_uuid()
        elif uuid in self.sessions:
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
        if self.after_register is not None:
            await self.after_register(written)
        return self.sessions.get(uuid) or written

    @op("mutate", MutateArgs, route="owner")
    async def op_mutate(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """rename/tag/untag/retag/archive/unarchive/autoname-toggle/delete, at the owner."""
        op_args = dict(args.get("args") or {})
        return await self.mutate_local(str(args["uuid"]), str(args["op"]), op_args, key=args.get("key"))

    async def mutate_local(self, uuid: str, op: str, op_args: dict[str, Any], key: str | None = None) -> Any:
        if key:
            remembered = await self.store.recall_result(key)
            if remembered is not None:
                return remembered
        before = self.sessions.get(uuid) or {}
        if op == "delete" and op_args.get("force") and before.get("live") and before.get("machine") == self.machine:
            # --force is for orphans whose owner is away; here the owner is us and the agent runs:
            # a tombstone would leave it running in a pane that no session owns.
            raise SeshError(f"session {uuid} is live in a pane on this machine; --force does not delete a "
                            "running agent", f"stop it first: sesh stop {uuid[:8]}, then sesh delete {uuid[:8]}")
        written = await self.store.write_local(uuid, mutations.build(op, op_args, clock.now_iso()))
        result = self.decorate(written if written is not None else self.sessions[uuid])
        if op == "delete" and op_args.get("purge"):
            result["purged"] = await asyncio.to_thread(_purge_transcript, before)
        if key:
            await self.store.remember_result(key, result)
        return result

    async def mutate_unreachable_owner(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """`delete --force` of a session whose owner has no live link: tombstone the orphan under
        our own origin (the owner adopts it when it returns). Anything else needs the owner."""
        op_args = dict(args.get("args") or {})
        record = self.sessions[str(args["uuid"])]
        owner = record["machine"]
        if not (args.get("op") == "delete" and op_args.get("force")):
            return await self.ops.forward(owner, "mutate", args, ctx)
        apply = mutations.build("delete", {**op_args, "force": True}, clock.now_iso())

        def as_tombstone(current: Record | None) -> Record | None:
            new = apply(current)
            if new is not None:
                new["machine"] = owner
            return new

        written = await self.store.write_local(record["uuid"], as_tombstone)
        return self.decorate(written if written is not None else record)

    async def forward(self, machine: str, op: str, args: dict[str, Any], key: str | None = None) -> Any:
        return await self.ops.forward(machine, op, args, {}, key=key)

    @op("import", ImportArgs)
    async def op_import(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Records from a legacy sessions.json (a list, or an object keyed by uuid)."""
        path = Path(str(args.get("path") or self.home / "sessions.json"))
        try:
            raw = wire.decode(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SeshError(f"no such file {path}", "pass the path of a legacy sessions.json") from exc
        except (OSError, ValueError) as exc:
            raise SeshError(f"cannot read {path}: {exc}", "pass a JSON list or uuid-keyed object") from exc
        if isinstance(raw, dict):
            entries: list[tuple[str, str | None, Any]] = [
                (f"entry {_shown_key(key)}", key, value) for key, value in raw.items()]
        elif isinstance(raw, list):
            entries = [(f"entry {index}", None, entry) for index, entry in enumerate(raw, start=1)]
        else:
            raise SeshError(f"{path} is neither a list nor an object of records", "check the file")
        return await self.import_records(entries, path)

    async def import_records(self, entries: list[tuple[str, str | None, Any]], path: Path) -> dict[str, Any]:
        """`entries` are (label, key, entry): the label names the entry in `invalidEntries`; the key
        (of a uuid-keyed file) is the entry's uuid when the entry does not repeat it."""
        skipped, foreign, invalid = 0, 0, 0
        problems: list[str] = []
        pending: list[tuple[str, mutations_fn]] = []
        now = clock.now_iso()
        for label, key, entry in entries:
            try:
                record = _legacy_record(entry if key is None else _keyed_entry(key, entry), self.machine, now)
            except UsageError as exc:
                invalid += 1
                if len(problems) < IMPORT_PROBLEMS_SHOWN:
                    problems.append(f"{label}: {exc.what}")
                continue
            if record["machine"] != self.machine:
                foreign += 1
                continue
            if record["uuid"] in self.sessions:
                skipped += 1
                continue
            pending.append((record["uuid"], _insert_only(record)))
        written = await self.store.write_local_many(pending)
        return {
            "file": str(path),
            "imported": len(written),
            "alreadyPresent": skipped,
            "otherMachines": foreign,
            "invalid": invalid,
            "invalidEntries": problems,
        }

    @op("on-machine", OnMachineArgs, stream=True)
    async def op_on_machine(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """Run another op on `machine` (the CLI's --machine): here when it is us."""
        machine = args.get("machine")
        return await self.ops.run_on(machine, str(args["op"]), dict(args.get("args") or {}), ctx, emit)

    @op("daemon-stop", NoArgs, forwardable=False)
    async def op_daemon_stop(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Stop this daemon (local only)."""
        self.stop_requested.set()
        return {"stopping": True, "pid": os.getpid()}

    # ---- streams --------------------------------------------------------------------------

    @op("subscribe", SubscribeArgs, stream=True)
    async def stream_subscribe(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """Every record change, as it is committed, until the client goes away."""
        # Changes wait here while the client is slow to read (a suspended TUI), keyed by uuid: a
        # record changed again replaces its pending version, so what waits is bounded by the
        # number of sessions, never by the number of commits.
        pending: dict[str, Record] = {}
        changed = asyncio.Event()

        def on_commit(record: Record) -> None:
            pending.pop(record["uuid"], None)
            pending[record["uuid"]] = record
            changed.set()

        unsubscribe = self.store.subscribe(on_commit)
        # `stale` is derived from the links, not stored: when a peer goes away or comes back no
        # record changes, so the records of each machine whose reachability flipped are re-sent.
        owners = {str(r["machine"]) for r in self.sessions.all()} - {self.machine}
        unreachable = {owner for owner in owners if not self.links.is_connected(owner)}
        try:
            if args.get("snapshot"):
                await emit({"snapshot": [self.decorate(r) for r in self.sessions.all()]})
            while not self.stop_requested.is_set():
                routes = self.links.routes_event()
                await first_of(changed, routes)
                changed.clear()
                batch = list(pending.values())
                pending.clear()
                arrived = {str(r["machine"]) for r in batch} - owners - {self.machine}
                if routes.is_set() or arrived:
                    owners |= arrived
                    now_unreachable = {owner for owner in owners if not self.links.is_connected(owner)}
                    flipped = (unreachable ^ now_unreachable) - arrived
                    unreachable = now_unreachable
                    if flipped:
                        held = {r["uuid"] for r in batch}
                        batch += [r for r in self.sessions.all() if r["machine"] in flipped and r["uuid"] not in held]
                if batch:
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


IMPORT_PROBLEMS_SHOWN = 20
"""`import` names why the first entries were refused; the count covers all of them."""


def _shown_key(key: str) -> str:
    """An import file's key, cut short: the file is untrusted input."""
    return repr(key if len(key) <= 40 else key[:40] + "…")


def _keyed_entry(key: str, value: Any) -> Any:
    """A v1 sessions.json is keyed by uuid and its values need not repeat it: the key is the uuid."""
    if not isinstance(value, dict):
        return value
    if value.get("uuid") is None:
        return {**value, "uuid": key}
    if isinstance(value["uuid"], str) and value["uuid"].lower() != key.lower():
        raise UsageError(f"its uuid {_shown_key(value['uuid'])} is not its key", "make the key and the uuid agree")
    return value


def _legacy_record(entry: Any, machine: str, now: str) -> Record:
    """Through the same checks as the API (docs/mesh-protocol.md, "Hostile input")."""
    return validation.from_legacy(entry, machine, now)
