"""autoname: a short name and a one-line summary for a session, derived from its transcript by the
namer `[autoname]` configures on the session's owner (a headless turn of an agent, or a command
reading the excerpt on stdin; with neither, the first installed of DEFAULT_NAMERS). The config is
read afresh at each naming. Only sessions with autoRename=true are renamed. With
`[autoname] every_turns = N` the owner renames its sessions itself every N completed turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from sesh_mesh import clock
from sesh_mesh.agents import binaries
from sesh_mesh.agents.registry import DEFAULT_NAMERS
from sesh_mesh.daemon.ops import op
from sesh_mesh.daemon.service import Service
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.transcript_ops import TranscriptOps
from sesh_mesh.daemon.transcripts import read_all
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.services import namer
from sesh_mesh.store.record import Record

log = logging.getLogger(__name__)

AUTO_POLL_S = 2.0
"""With every_turns set, sessions are checked this often; naming waits for an idle turn anyway."""

RETRY_AFTER_FAILURE_S = 600.0
"""An automatic rename that failed (namer down, no answer) is not retried for this long."""

NO_TEXT = "has no messages to name it by yet"


@dataclass(frozen=True)
class AutonameArgs:
    uuid: str | None = None
    all: bool | None = None
    """Every session of the mesh (each named at its owner)."""
    localOnly: bool | None = None
    """With all: only this machine's sessions."""


class Autonamer:
    def __init__(self, service: Service, sessions: Sessions, watcher: Watcher, files: TranscriptOps) -> None:
        self.service = service
        self.sessions = sessions
        self.watcher = watcher
        self.files = files
        self.failed_at: dict[str, float] = {}
        self.naming: set[str] = set()

    def config(self) -> namer.NamerConfig:
        return namer.load_namer_config(self.service.config.autoname, str(self.service.config.path))

    # ---- the operation -------------------------------------------------------------------------

    @op("autoname", AutonameArgs, route="owner")
    async def op_autoname(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """One session (at its owner): the renamed record. `all`: a report per session of the mesh
        (`localOnly`: of this machine), `[{uuid, machine, agent, name, summary, status, reason}]`."""
        if args.get("all"):
            return await self.name_all(local_only=bool(args.get("localOnly")))
        if not args.get("uuid"):
            raise UsageError("autoname needs a session (uuid) or all", "sesh autoname <uuid>, or --all")
        record = self.sessions[str(args["uuid"])]
        return self.service.decorate(await self.name_one(record))

    async def name_one(self, record: Record) -> Record:
        uuid = record["uuid"]
        short = uuid[:8]
        if record.get("deleted"):
            raise SeshError(f"session {short} is deleted", "nothing to name")
        if not record.get("autoRename", True):
            raise SeshError(f"session {short} has autoRename off (it was named by hand)",
                            f"turn it back on with `sesh autoname-toggle {short} --on`")
        config = self.config()
        path = self.files.require_file(record)
        state = await asyncio.to_thread(read_all, str(record["agent"]), path)
        excerpt = namer.excerpt(state.entries, state.first_prompt)
        if not excerpt:
            raise SeshError(f"session {short} {NO_TEXT}", "send it a first message")
        if uuid in self.naming:
            raise SeshError(f"session {short} is being named already", "wait for that to finish")
        self.naming.add(uuid)
        try:
            name, summary = await self.run_namer(config, record, excerpt)
        finally:
            self.naming.discard(uuid)
        turns = state.turns_completed

        def apply(current: Record | None) -> Record | None:
            if current is None or current.get("deleted"):
                raise SeshError(f"session {short} was deleted while being named", "nothing to name")
            if not current.get("autoRename", True):
                raise SeshError(f"session {short} was renamed by hand while being named", "its name stays")
            changed = {**current, "name": name, "summary": summary, "lastAutoNameTurnCount": turns}
            if changed == current:
                return None
            changed["updatedAt"] = clock.now_iso()
            return changed

        written = await self.service.store.write_local(uuid, apply)
        return written if written is not None else self.sessions[uuid]

    async def run_namer(self, config: namer.NamerConfig, record: Record, excerpt: str) -> tuple[str, str]:
        env = {**os.environ, "SESH_NAMING_UUID": record["uuid"], "SESH_NAMING_AGENT": str(record["agent"]),
               "SESH_NAMING_CWD": str(record.get("cwd") or "")}
        stdin: bytes | None = None
        if config.command is not None:
            argv = ["/bin/sh", "-c", config.command]
            stdin = excerpt.encode()
            what = f"the namer command {config.command!r}"
        else:
            agent, binary = await self.namer_agent(config, env)
            argv = namer.agent_argv(agent, binary, config.model, namer.prompt(excerpt))
            what = f"the namer ({agent})"
        # A scratch cwd: the naming turn must not touch (or be trusted in) the session's project.
        with tempfile.TemporaryDirectory(prefix="sesh-namer-") as scratch:
            out, err, code = await _run(argv, stdin, scratch, env, config.timeout_s, what)
        if code != 0:
            last = next((line for line in reversed(err.decode(errors="replace").splitlines()) if line.strip()), "")
            raise SeshError(f"{what} failed (exit {code}): {last.strip() or 'no error output'}",
                            "run it by hand to see why")
        return namer.parse_reply(out.decode(errors="replace"), plain_ok=config.command is not None)

    async def namer_agent(self, config: namer.NamerConfig, env: dict[str, str]) -> tuple[str, str]:
        """`[autoname].agent` and its binary; with no namer configured, the first of DEFAULT_NAMERS
        installed; a SeshError naming the config file when there is none."""
        service_config = self.service.config
        if config.agent is not None:
            agent = config.agent
            found = await asyncio.to_thread(binaries.locate, agent, service_config.agents.get(agent), env,
                                            service_config.path)
            return agent, found.path
        for agent in DEFAULT_NAMERS:
            configured = service_config.agents.get(agent)
            if configured:
                return agent, (await asyncio.to_thread(binaries.locate, agent, configured, env,
                                                       service_config.path)).path
            located = await asyncio.to_thread(binaries.find_binary, agent, env)
            if located is not None:
                return agent, located.path
        raise SeshError(f"no namer on machine {self.service.machine}: [autoname] names none and neither "
                        f"{' nor '.join(DEFAULT_NAMERS)} is installed (looked in {binaries.SEARCHED})",
                        f'add [autoname] agent = "…" or command = "…" to {service_config.path}')

    # ---- every session ---------------------------------------------------------------------------

    async def name_all(self, *, local_only: bool) -> list[dict[str, Any]]:
        me = self.service.machine
        records = [r for r in self.sessions.all() if not r.get("deleted")]
        report = await self._name_local([r for r in records if r["machine"] == me])
        if local_only:
            return report
        others = sorted({str(r["machine"]) for r in records} - {me})

        async def ask(machine: str) -> list[dict[str, Any]]:
            if not self.service.links.is_connected(machine):
                raise SeshError(f"machine {machine} is unreachable")
            return list(await self.service.forward(machine, "autoname", {"all": True, "localOnly": True}))

        answers = await asyncio.gather(*(ask(m) for m in others), return_exceptions=True)
        for machine, answer in zip(others, answers, strict=True):
            if isinstance(answer, BaseException):
                reason = answer.what if isinstance(answer, SeshError) else repr(answer)
                report += [_entry(r, "failed", reason) for r in records if r["machine"] == machine]
            else:
                report += answer
        return report

    async def _name_local(self, records: list[Record]) -> list[dict[str, Any]]:
        report = []
        for record in sorted(records, key=lambda r: r["uuid"]):
            if not record.get("autoRename", True):
                report.append(_entry(record, "skipped", "autoRename off"))
                continue
            if self.files.local_file(record) is None:
                report.append(_entry(record, "skipped", "no transcript yet"))
                continue
            turns = self._turns(record)
            if turns and turns == record.get("lastAutoNameTurnCount") and record.get("summary"):
                report.append(_entry(record, "skipped", f"already named at turn {turns}"))
                continue
            try:
                named = await self.name_one(record)
            except SeshError as exc:
                status = "skipped" if NO_TEXT in exc.what else "failed"
                report.append(_entry(record, status, exc.what))
                continue
            report.append(_entry(named, "named", None))
        return report

    def _turns(self, record: Record) -> int | None:
        tail = self.watcher.tails.get(record["uuid"])
        return int(tail.state.turns_completed) if tail is not None else None

    # ---- automatic renames -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), AUTO_POLL_S)
            try:
                await self.auto_pass()
            except Exception:
                # A namer or transcript problem costs one pass, never the daemon.
                log.exception("autoname: automatic pass failed")

    async def auto_pass(self) -> None:
        try:
            config = self.config()
        except SeshError as exc:
            log.warning("autoname: %s", exc.what)
            return
        if config.every_turns <= 0:
            return
        now = time.monotonic()
        for record in self.sessions.all():
            if (record["machine"] != self.service.machine or record.get("deleted") or not record.get("autoRename", True)
                    or record.get("turnStatus") == "busy"):
                continue
            turns = self._turns(record)
            named_at = int(record.get("lastAutoNameTurnCount") or 0)
            if turns is None or turns - named_at < config.every_turns:
                continue
            if now - self.failed_at.get(record["uuid"], -RETRY_AFTER_FAILURE_S) < RETRY_AFTER_FAILURE_S:
                continue
            try:
                await self.name_one(record)
                log.info("autoname: named %s at turn %s", record["uuid"], turns)
            except SeshError as exc:
                self.failed_at[record["uuid"]] = time.monotonic()
                log.warning("autoname: %s: %s", record["uuid"], exc.what)


def _entry(record: Record, status: str, reason: str | None) -> dict[str, Any]:
    return {"uuid": record["uuid"], "machine": record["machine"], "agent": record.get("agent"),
            "name": record.get("name") or "", "summary": record.get("summary") or "", "status": status,
            "reason": reason}


async def _run(argv: list[str], stdin: bytes | None, cwd: str, env: dict[str, str], timeout_s: float,
               what: str) -> tuple[bytes, bytes, int]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=cwd, env=env,
            start_new_session=True)
    except OSError as exc:
        raise SeshError(f"cannot run {what}: {exc.strerror}", "check the [autoname] config") from exc
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout_s)
    except BaseException as exc:
        # Timed out, or the caller went away: the namer's whole process group goes with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        if isinstance(exc, TimeoutError):
            raise SeshError(f"{what} did not answer within {timeout_s:g}s",
                            "raise [autoname].timeout or check the namer") from None
        raise
    return out, err, int(proc.returncode or 0)
