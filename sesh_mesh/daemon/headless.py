"""Headless turns: one agent process per turn, its conversation id and reply read back.

While a turn runs the session reports busy (stateSource hook); it never runs on a conversation
that is live in a pane (the caller checks), since that would fork it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sesh_mesh.agents import proc_kill
from sesh_mesh.agents.base import AgentAdapter, sandbox_mode
from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.daemon import turn_reply
from sesh_mesh.daemon.live_state import Reported
from sesh_mesh.daemon.transcripts import TranscriptTail, read_all
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.errors import SeshError, TimedOut, TurnFailed
from sesh_mesh.store.record import Record
from sesh_mesh.store.store import Store

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 3

FINISH_WAIT_S = 5.0
"""After its process tree is gone, a turn's result (transcript read, record write) is waited for
this long at most."""

LineListener = Callable[[dict[str, Any]], None]

STOP_ABORTED = "aborted"
STOP_TIMED_OUT = "timed out"
STOP_DAEMON = "daemon stopping"


def _stopped_error(why: str, agent: str) -> SeshError:
    if why == STOP_TIMED_OUT:
        return TimedOut(f"the headless {agent} turn timed out and was stopped", "raise --timeout")
    if why == STOP_DAEMON:
        return TurnFailed(f"the daemon stopped during the headless {agent} turn, which was killed",
                          "send it again once the daemon is back")
    return TurnFailed(f"the headless {agent} turn was aborted (sesh abort)", "send the message again to retry")


class HeadlessRunner:
    def __init__(self, store: Store, watcher: Watcher) -> None:
        self.store = store
        self.watcher = watcher
        self.running: dict[str, asyncio.subprocess.Process] = {}
        self.stopped: dict[str, str] = {}
        """Turns sesh itself ended, and why (STOP_ABORTED, STOP_TIMED_OUT, STOP_DAEMON)."""
        self._turns: dict[str, asyncio.Future[Any]] = {}
        """The task that awaits each running turn's process and reads its result."""
        self._tasks: set[asyncio.Future[Any]] = set()
        self.listeners: dict[str, LineListener] = {}
        """Per session: called with each JSON line of its next turns' stdout as it is written
        (the streaming op, daemon/stream_ops.py). Without one, stdout is read whole at the end."""

    async def abort(self, uuid: str, why: str = "") -> bool:
        """End the session's running turn: its whole process tree (proc_kill), then wait until
        its end is recorded. False when no turn runs."""
        proc = self.running.get(uuid)
        if proc is None or proc.returncode is not None:
            return False
        self.stopped.setdefault(uuid, why or STOP_ABORTED)
        await proc_kill.kill_tree(proc.pid)
        turn = self._turns.get(uuid)
        if turn is not None:
            await asyncio.wait({turn}, timeout=FINISH_WAIT_S)
        if why != STOP_DAEMON:  # a stopping daemon's watcher may write nothing more
            await self.recorded(uuid)
        return True

    async def recorded(self, uuid: str) -> None:
        """Until the store shows how the session's turn ended. `_report` hands the end to the
        watcher, whose next pass would write it: a reply (or a timeout) sent before that let a
        script's next `sesh info` still read busy. So the watcher looks at the session now,
        after any look in progress, and the reply goes out after that write."""
        try:
            await self.watcher.look_now({uuid})
        except Exception:  # the bookkeeping must never replace the turn's own reply or error
            log.exception("headless: looking at %s after its turn failed", uuid)
            return
        record = self.store.get(uuid)
        if record is not None and record.get("turnStatus") == "busy" and uuid not in self.running:
            log.warning("headless: %s still reads busy after its turn ended", uuid)

    async def shutdown(self) -> list[str]:
        """The daemon stops: end every running turn (nothing outlives the daemon, orphaned to
        pid 1) and record each as aborted. Returns the sessions whose turn was ended."""
        ended = list(self.running)
        await asyncio.gather(*(self.abort(uuid, STOP_DAEMON) for uuid in ended))
        return ended

    def _report(self, uuid: str, status: str, outcome: str | None = None) -> None:
        watcher = self.watcher
        watcher.reported[uuid] = Reported(status, "headless", time.monotonic(), outcome=outcome)
        watcher.wake.set()
        # `running` changed just before this: a wait on the session (`await`) re-checks now.
        watcher.turn_events.changed(uuid)

    async def run(self, record: Record, message: str, env: dict[str, str], binary: str, *, first: bool,
                  timeout: Any, wait: bool = True, command: bool = False) -> dict[str, Any]:
        uuid = record["uuid"]
        if uuid in self.running:
            raise SeshError(f"session {uuid[:8]} is already running a headless turn", f"sesh await {uuid[:8]}")
        adapter = get_adapter(record["agent"])
        resume_id = None if first else (record.get("agentSessionId") or None)
        if not first and not adapter.resumes_from_file and not resume_id:
            raise SeshError(f"session {uuid[:8]} has no conversation id to resume",
                            "it never finished a first turn; start a new one with `sesh new`")
        argv = adapter.headless_argv(binary, message, session_id=uuid, resume_id=resume_id,
                                     model=record.get("model"), sandbox=sandbox_mode(record.get("sandbox")),
                                     session_file=record.get("filePath"))
        stdin_text = message.encode() if adapter.headless_message_on_stdin else None
        # Where the transcript ends now: the turn this message opens is found after it (turn_reply).
        expected = turn_reply.Expected(message, turn_reply.mark_of(
            Path(record["filePath"]) if record.get("filePath") else None), command)
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=str(record["cwd"]), env=env,
            stdin=asyncio.subprocess.DEVNULL if stdin_text is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        self.running[uuid] = proc
        self.stopped.pop(uuid, None)
        self._report(uuid, "busy")
        turn = asyncio.ensure_future(self._finish(record, proc, env, stdin_text, expected))
        self._turns[uuid] = turn
        turn.add_done_callback(lambda done: self._turns.pop(uuid, None) if self._turns.get(uuid) is done else None)
        if not wait:
            self._tasks.add(turn)
            turn.add_done_callback(self._unwaited_done)
            return {"reply": None, "usage": None, "delivery": turn_reply.DELIVERED, "via": "headless"}
        limit = float(timeout) if timeout else None
        try:
            return await asyncio.wait_for(asyncio.shield(turn), limit)
        except TimeoutError:
            await self.abort(uuid, STOP_TIMED_OUT)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(turn, FINISH_WAIT_S)
            raise TimedOut(f"the headless turn took longer than {limit:.0f}s and was stopped",
                           "raise --timeout") from None
        finally:
            # Whatever the outcome. After abort's own look this one finds nothing changed.
            await self.recorded(uuid)

    def _unwaited_done(self, turn: asyncio.Future[Any]) -> None:
        """A `--no-wait` turn ended: nobody awaits its result, so its failure is logged here."""
        self._tasks.discard(turn)
        if not turn.cancelled() and turn.exception() is not None:
            log.info("headless turn ended without a waiter: %s", turn.exception())

    async def _finish(self, record: Record, proc: asyncio.subprocess.Process, env: dict[str, str],
                      stdin_text: bytes | None, expected: turn_reply.Expected) -> dict[str, Any]:
        uuid = record["uuid"]
        agent = str(record["agent"])
        try:
            listener = self.listeners.get(uuid)
            if listener is None:
                out, err = await proc.communicate(stdin_text)
            else:
                out, err = await _communicate_lines(proc, stdin_text, listener)
        finally:
            self.running.pop(uuid, None)
            why = self.stopped.pop(uuid, None)
            # An exit 0 may still be a failed turn (pi prints a model error and exits 0): then
            # the transcript's own outcome is the one the turn ends with.
            self._report(uuid, "idle", "aborted" if why else (None if proc.returncode == 0 else "failed"))
        text = out.decode(errors="replace")
        adapter = get_adapter(agent)
        agent_id = _conversation_id_from_output(adapter, text) or record.get("agentSessionId")
        data_dir = adapter.data_dir(env)
        path: Path | None = Path(record["filePath"]) if record.get("filePath") else None
        if (path is None or not path.exists()) and agent_id:
            path = adapter.transcript_path_for(data_dir, str(record["cwd"]), agent_id)
        changes: dict[str, Any] = {}
        if agent_id and agent_id != record.get("agentSessionId"):
            changes["agentSessionId"] = agent_id
        if path is not None and path.exists():
            changes["filePath"] = str(path)
            self.watcher.tails.pop(uuid, None)
        if changes:
            await self.store.write_local(uuid, lambda cur: None if cur is None else {**cur, **changes})
        if why is not None:
            raise _stopped_error(why, agent)
        state = None
        if path is not None and path.exists():
            state = await asyncio.to_thread(read_all, agent, path)
            tail = TranscriptTail(agent, path)
            await asyncio.to_thread(tail.refresh)
            self.watcher.tails[uuid] = tail
        self.watcher.wake.set()
        lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
        detail = " / ".join(lines[-STDERR_TAIL_LINES:]) or _error_from_output(agent, text) or "no output"
        return turn_reply.settle_headless(agent, uuid, state, path, expected, proc.returncode, detail)


async def _communicate_lines(proc: asyncio.subprocess.Process, stdin_text: bytes | None,
                             listener: LineListener) -> tuple[bytes, bytes]:
    """`communicate`, with each complete stdout line's JSON passed to `listener` as it arrives.
    Read in chunks, not readline: one line (claude's init, with every tool) may pass its limit."""
    assert proc.stdout is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(proc.stderr.read())
    try:
        if proc.stdin is not None:
            if stdin_text:
                proc.stdin.write(stdin_text)
                with contextlib.suppress(ConnectionError):
                    await proc.stdin.drain()
            proc.stdin.close()
        out = bytearray()
        start = 0
        while chunk := await proc.stdout.read(65536):
            out += chunk
            end = out.rfind(b"\n")
            if end >= start:
                for item in _json_lines(out[start:end].decode(errors="replace")):
                    try:
                        listener(item)
                    except Exception:  # a listener's bug must not lose the turn
                        log.exception("headless stream listener failed")
                start = end + 1
        err = await err_task
    finally:
        err_task.cancel()
    await proc.wait()
    return bytes(out), err


RPC_COMPACT_ID = "sesh-compact"


async def compact_pi(runner: HeadlessRunner, record: Record, env: dict[str, str], binary: str,
                     timeout: float | None) -> dict[str, Any]:
    """pi compacts only through its RPC mode (stdin/stdout JSONL): run it on the session file,
    send one `compact` command, wait for its response, and let it exit."""
    uuid = record["uuid"]
    if not record.get("filePath"):
        raise SeshError(f"session {uuid[:8]} has no transcript to compact", "it never finished a first turn")
    argv = [binary, "--mode", "rpc", "--session", str(record["filePath"])]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=str(record["cwd"]), env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=16 * 1024 * 1024,
    )  # fmt: skip
    runner.running[uuid] = proc
    runner._report(uuid, "busy")
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(json.dumps({"id": RPC_COMPACT_ID, "type": "compact"}).encode() + b"\n")
        await proc.stdin.drain()

        async def response() -> dict[str, Any]:
            assert proc.stdout is not None
            while True:
                line = await proc.stdout.readline()
                if not line:
                    raise SeshError("pi exited before it answered the compact command", "see `sesh tail`")
                for item in _json_lines(line.decode(errors="replace")):
                    if item.get("id") == RPC_COMPACT_ID and item.get("type") == "response":
                        return item

        answer = await asyncio.wait_for(response(), timeout)
    except TimeoutError:
        runner.stopped.setdefault(uuid, STOP_TIMED_OUT)
        await proc_kill.kill_tree(proc.pid)
        raise TimedOut("pi did not finish compacting in time and was stopped", "raise --timeout") from None
    finally:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            await proc_kill.kill_tree(proc.pid)
            await proc.wait()
        runner.running.pop(uuid, None)
        why = runner.stopped.pop(uuid, None)
        runner._report(uuid, "idle", "aborted" if why else "completed")
        await runner.recorded(uuid)  # the answer or the error goes out after the store shows the end
    if not answer.get("success"):
        raise SeshError(f"pi refused to compact: {answer.get('error') or answer}", "see `sesh tail`")
    summary = str((answer.get("data") or {}).get("summary") or "")
    return {"uuid": uuid, "compact": "done", "summary": summary[:500]}


def _json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _conversation_id_from_output(adapter: AgentAdapter, text: str) -> str | None:
    for item in _json_lines(text):
        found = adapter.conversation_id_from_output(item)
        if found:
            return found
    return None


def _error_from_output(agent: str, text: str) -> str | None:
    for item in reversed(_json_lines(text)):
        if item.get("is_error") and item.get("result"):
            return str(item["result"])[:300]
        if item.get("type") in ("error", "turn.failed"):
            return json.dumps(item)[:300]
    return None
