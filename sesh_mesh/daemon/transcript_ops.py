"""Transcripts as files, across the mesh: fetch one from its owner, receive one (copy it here and
register it), adopt one the CLI placed, copy one to another machine, back every one up.

Search and autoname (their own modules) read transcripts through `TranscriptOps.local_file`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh import clock, ids
from sesh_mesh.agent_names import check_agent_name
from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.daemon.ops import Emit, op
from sesh_mesh.daemon.service import Service
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.services import placement
from sesh_mesh.services.backup_file import BackupFile, SessionInfo, sha256_hex
from sesh_mesh.store.record import Record

log = logging.getLogger(__name__)

CARRIED_FIELDS = ("summary", "autoRename", "lastAutoNameTurnCount")
"""Record fields a copy or restore carries over besides name and tags."""


@dataclass(frozen=True)
class FetchArgs:
    uuid: str
    have: list[str] | None = None
    """sha256 digests the caller already holds: the content is left out when it matches one."""


@dataclass(frozen=True)
class ReceiveArgs:
    record: dict[str, Any]
    content: str
    """The transcript, base64."""
    fileName: str | None = None
    sha256: str | None = None
    rewriteCwd: list[str] | None = None
    """[OLD, NEW]: the cwd prefix to rewrite inside the transcript."""
    force: bool | None = None


@dataclass(frozen=True)
class AdoptArgs:
    record: dict[str, Any]
    filePath: str
    agentDataDir: str
    agentSessionId: str | None = None
    cwd: str | None = None
    keepUuid: bool | None = None
    via: str | None = None


@dataclass(frozen=True)
class CopyArgs:
    uuid: str
    to: str
    """The machine to copy the session to."""
    force: bool | None = None
    rewriteCwd: list[str] | None = None


@dataclass(frozen=True)
class BackupArgs:
    to: str | None = None
    """The backup file (absolute path; default $SESH_HOME/backup.sqlite)."""
    allMachines: bool | None = None


class TranscriptOps:
    def __init__(self, service: Service, sessions: Sessions, watcher: Watcher) -> None:
        self.service = service
        self.sessions = sessions
        self.watcher = watcher

    # ---- finding a local transcript ------------------------------------------------------------

    def local_file(self, record: Record) -> Path | None:
        """The transcript of a session owned here, if it exists on disk."""
        tail = self.watcher.tails.get(record["uuid"])
        path: Path | None = tail.path if tail is not None else None
        if path is None and record.get("filePath"):
            path = Path(record["filePath"])
        if (path is None or not path.is_file()) and record.get("agentSessionId") and record.get("cwd"):
            adapter = get_adapter(str(record["agent"]))
            data_dir = Path(record["agentDataDir"]) if record.get("agentDataDir") else adapter.data_dir(os.environ)
            path = adapter.transcript_path_for(data_dir, str(record["cwd"]), str(record["agentSessionId"]))
        return path if path is not None and path.is_file() else None

    def require_file(self, record: Record) -> Path:
        path = self.local_file(record)
        if path is None:
            raise SeshError(f"session {record['uuid'][:8]} has no transcript yet",
                            "the agent writes it at the first message")
        return path

    async def read_snapshot(self, record: Record) -> tuple[Path, bytes]:
        path = self.require_file(record)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise SeshError(f"cannot read {path}: {exc.strerror}", "check the file") from exc
        return path, placement.complete_lines(data)

    # ---- fetch / receive / adopt ---------------------------------------------------------------

    @op("transcript-fetch", FetchArgs, route="owner")
    async def op_transcript_fetch(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The session's transcript bytes (base64) from its owner; `content` is null when the caller
        already holds a version with the same sha256 (`have`)."""
        record = self.sessions[str(args["uuid"])]
        if record.get("deleted"):
            raise SeshError(f"session {record['uuid'][:8]} is deleted", "nothing to fetch")
        path, content = await self.read_snapshot(record)
        digest = await asyncio.to_thread(sha256_hex, content)
        have = set(args.get("have") or [])
        shipped = None if digest in have else placement.encode_content(content)
        return {"record": self.service.decorate(record), "fileName": path.name, "sourcePath": str(path),
                "sha256": digest, "size": len(content), "content": shipped}

    @op("transcript-receive", ReceiveArgs)
    async def op_transcript_receive(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Place a transcript from another machine where this machine's agent resumes it, and
        register it here (a new session of the same agent)."""
        source = dict(args["record"])
        agent = check_agent_name(str(source.get("agent")), fix="update sesh on both machines")
        content = placement.decode_content(args)
        cwd = str(source.get("cwd") or "")
        rewrite = args.get("rewriteCwd")
        if rewrite:
            old, new = placement.parse_rewrite(f"{rewrite[0]}={rewrite[1]}")
            content = await asyncio.to_thread(placement.rewrite_cwd, content, old, new)
            cwd = placement.rewrite_path(cwd, old, new)
        file_name = Path(str(args.get("fileName") or "")).name
        if not file_name.endswith(".jsonl"):
            raise UsageError(f"bad transcript file name {file_name!r}", "update sesh on both machines")
        dest = placement.native_path(agent, os.environ, cwd, file_name, content)
        action = await asyncio.to_thread(placement.write_transcript, dest, content, force=bool(args.get("force")))
        described = placement.describe(agent, content)
        record, registered = await self.adopt(source, described.agent_session_id, cwd, dest,
                                              get_adapter(agent).data_dir(os.environ), keep_uuid=False,
                                              via="copiedFrom")
        return {"uuid": record["uuid"], "machine": self.service.machine, "agent": agent, "path": str(dest),
                "action": action, "registered": registered, "record": self.service.decorate(record)}

    @op("adopt-transcript", AdoptArgs)
    async def op_adopt_transcript(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Register a transcript the CLI placed in this machine's native location (restore, copy)."""
        source = dict(args["record"])
        path = Path(str(args["filePath"]))
        if not path.is_absolute() or not path.is_file():
            raise UsageError(f"no transcript at {path}", "place it first")
        record, registered = await self.adopt(
            source, args.get("agentSessionId"), str(args.get("cwd") or source.get("cwd") or ""), path,
            Path(str(args["agentDataDir"])), keep_uuid=bool(args.get("keepUuid")),
            via=str(args.get("via") or "restoredFrom"))
        return {"uuid": record["uuid"], "registered": registered, "record": self.service.decorate(record)}

    async def adopt(self, source: Record, agent_id: object, cwd: str, path: Path, data_dir: Path, *,
                    keep_uuid: bool, via: str) -> tuple[Record, bool]:
        """The session of this transcript here: the existing one with its agent id, else a new
        registration (the source's uuid when `keep_uuid` and it is free in the mesh)."""
        agent = str(source.get("agent"))
        session_id = str(agent_id or source.get("agentSessionId") or "")
        if not ids.is_full_uuid(session_id):
            raise SeshError("the transcript names no conversation id", "it may be damaged; check the file")
        if not cwd.startswith("/"):
            raise UsageError(f"cwd {cwd!r} is not an absolute path", "pass --rewrite-cwd OLD=NEW")
        for existing in self.sessions.all():
            if (existing["machine"] == self.service.machine and existing.get("agent") == agent
                    and existing.get("agentSessionId") == session_id and not existing.get("deleted")):
                return existing, False
        uuid = str(source.get("uuid") or "")
        preferred = uuid if keep_uuid and ids.is_full_uuid(uuid) and uuid not in self.sessions else None
        extra: dict[str, Any] = {key: source[key] for key in CARRIED_FIELDS if source.get(key) is not None}
        extra.update(filePath=str(path), agentDataDir=str(data_dir))
        extra[via] = {"uuid": uuid, "machine": source.get("machine")}
        record = await self.service.register_session(
            agent, session_id, cwd, name=str(source.get("name") or ""),
            tags=[t for t in source.get("tags") or [] if isinstance(t, str) and t.strip()],
            uuid=preferred, extra=extra)
        return record, True

    # ---- copy to another machine ---------------------------------------------------------------

    @op("copy", CopyArgs)
    async def op_copy(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Copy a session's transcript to another machine and register it there."""
        record = self.sessions.resolve(str(args["uuid"]))
        target = str(args.get("to") or "")
        if record.get("deleted"):
            raise SeshError(f"session {record['uuid'][:8]} is deleted", "restore it from a backup instead")
        if target == record["machine"]:
            raise SeshError(f"session {record['uuid'][:8]} already lives on {target}",
                            "copy it to another machine, or use --to-dir DIR")
        fetched = await self.service.ops.run("transcript-fetch", {"uuid": record["uuid"]}, ctx)
        payload = {"record": fetched["record"], "fileName": fetched["fileName"], "content": fetched["content"],
                   "sha256": fetched["sha256"], "rewriteCwd": args.get("rewriteCwd"), "force": bool(args.get("force"))}
        if target == self.service.machine:
            return await self.op_transcript_receive(payload, ctx)
        return await self.service.forward(target, "transcript-receive", payload)

    # ---- backup --------------------------------------------------------------------------------

    @op("backup", BackupArgs, stream=True)
    async def stream_backup(self, args: dict[str, Any], ctx: dict[str, Any], emit: Emit) -> Any:
        """Every transcript of every local session (all machines' with `allMachines`) into one
        backup file; streams `{done, total, uuid, bytes}` after each session."""
        target = Path(str(args.get("to") or self.service.home / "backup.sqlite"))
        if not target.is_absolute():
            raise UsageError(f"backup path {target} is not absolute", "pass an absolute --to path")
        all_machines = bool(args.get("allMachines"))
        me = self.service.machine
        records = sorted(
            (r for r in self.sessions.all()
             if not r.get("deleted") and (all_machines or r["machine"] == me)),
            key=lambda r: (r["machine"] != me, r["machine"], r["uuid"]))
        started = time.monotonic()
        backup = await asyncio.to_thread(BackupFile.open, target, create=True)
        summary: dict[str, Any] = {"file": str(target), "sessions": len(records), "newVersions": 0, "unchanged": 0,
                                   "bytesRead": 0, "bytesStored": 0, "skipped": [], "failed": []}
        down: dict[str, str] = {}
        try:
            for done, record in enumerate(records, start=1):
                try:
                    await self._backup_one(backup, record, summary, down)
                except SeshError as exc:
                    summary["failed"].append({"uuid": record["uuid"], "machine": record["machine"], "error": exc.what})
                await emit({"done": done, "total": len(records), "uuid": record["uuid"], "bytes": summary["bytesRead"]})
            summary["totals"] = await asyncio.to_thread(backup.stats)
        finally:
            await asyncio.to_thread(backup.close)
        summary["seconds"] = round(time.monotonic() - started, 3)
        return summary

    async def _backup_one(self, backup: BackupFile, record: Record, summary: dict[str, Any],
                          down: dict[str, str]) -> None:
        owner = record["machine"]
        if owner == self.service.machine:
            path = self.local_file(record)
            if path is None:
                summary["skipped"].append({"uuid": record["uuid"], "machine": owner, "reason": "no transcript yet"})
                return
            path, content = await self.read_snapshot(record)
            file_name, source_path = path.name, str(path)
        else:
            if owner in down:
                raise SeshError(down[owner])
            if not self.service.links.is_connected(owner):
                down[owner] = f"machine {owner} is unreachable"
                raise SeshError(down[owner])
            have = await asyncio.to_thread(backup.versions_of, record["uuid"])
            try:
                fetched = await self.service.forward(owner, "transcript-fetch", {"uuid": record["uuid"], "have": have})
            except SeshError as exc:
                if "no transcript yet" in exc.what:
                    summary["skipped"].append({"uuid": record["uuid"], "machine": owner, "reason": "no transcript yet"})
                    return
                raise
            if fetched.get("content") is None:
                summary["unchanged"] += 1
                return
            content = placement.decode_content(fetched)
            file_name, source_path = str(fetched["fileName"]), str(fetched["sourcePath"])
        info = SessionInfo(uuid=record["uuid"], machine=owner, agent=str(record["agent"]),
                           agent_session_id=record.get("agentSessionId"), cwd=str(record.get("cwd") or ""),
                           file_name=file_name, source_path=source_path, record=self.service.decorate(record))
        added = await asyncio.to_thread(backup.add, info, content, clock.now_iso())
        summary["bytesRead"] += len(content)
        summary["bytesStored"] += added.stored_bytes
        if added.new_snapshot:
            summary["newVersions"] += 1
        else:
            summary["unchanged"] += 1
