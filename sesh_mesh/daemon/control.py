"""Agent control: new, send, await, abort, compact, pane-keys, stop, resume, delegate, report.

Pane sessions are driven through tmux with the submit rules the agent CLIs need (leave any
mode, paste, pause, a separate Enter, then verify the turn started). Sessions with no live
pane take headless turns (`headless.py`). Replies always come from the transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh import clock, ids
from sesh_mesh.agent_names import check_agent_name
from sesh_mesh.agents import binaries, launch, pane_typing, tmux
from sesh_mesh.agents.base import sandbox_mode
from sesh_mesh.agents.registry import get_adapter
from sesh_mesh.daemon import turn_reply
from sesh_mesh.daemon.headless import HeadlessRunner, compact_pi
from sesh_mesh.daemon.live_state import Reported
from sesh_mesh.daemon.ops import op
from sesh_mesh.daemon.service import Service, SessionArgs
from sesh_mesh.daemon.sessions import Sessions
from sesh_mesh.daemon.turn_events import WaitStopped
from sesh_mesh.daemon.watcher import Watcher
from sesh_mesh.errors import (
    SeshError,
    TimedOut,
    TurnFailed,
    Unconfirmed,
    UsageError,
    empty_message,
    headless_without_msg,
    missing_cwd,
)
from sesh_mesh.store import mutations
from sesh_mesh.store.record import Record

log = logging.getLogger(__name__)

SUBMIT_PAUSE_S = 0.3
"""A typed slash command, then this pause (twice), then Enter: its popup must settle. A message's
Enter waits for the paste to show instead (pane_typing)."""

TURN_START_S = 6.0
"""A submitted message must show as a started turn within this, else Enter is retried once."""

INTERRUPT_WAIT_S = 15.0
"""`send --interrupt`: the running turn must end this soon after Escape."""

LIVE_WAIT_S = 30.0
READY_WAIT_S = 60.0
COMPACT_WAIT_S = 600.0
"""A headless compaction with no --timeout is stopped after this: it shows busy meanwhile, and a
wedged one must not hold the session busy for ever."""
NO_TIME_S = 0.001
"""A wait whose --timeout is already used up: a timeout of 0 would mean no limit."""
STOP_GRACE_S = 10.0

INHERITED = (
    "PATH", "HOME", "LANG", "LC_ALL", "TERM", "USER", "SHELL", "TMPDIR", "CLAUDE_CONFIG_DIR", "CODEX_HOME",
    "PI_CODING_AGENT_DIR", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "FAKE_API_KEY",
    "IS_SANDBOX", "DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY", "DISABLE_ERROR_REPORTING",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "PI_OFFLINE", "PI_TELEMETRY", "PI_SKIP_VERSION_CHECK", "TMUX_TMPDIR",
)  # fmt: skip
"""Variables a launched agent takes from the caller, over the daemon's own."""


def report_bin() -> str:
    launcher = Path(sys.executable).parent / "sesh"
    return str(launcher) if launcher.exists() else "sesh"


@dataclass(frozen=True)
class NewArgs:
    agent: str | None = None
    cwd: str | None = None
    name: str | None = None
    tags: list[str] | None = None
    model: str | None = None
    target: str | None = None
    """Where the pane opens: socket:session[:window]."""
    msg: str | None = None
    """The first message."""
    headless: bool | None = None
    dryRun: bool | None = None
    noLaunch: bool | None = None
    sessionId: str | None = None
    sandbox: str | None = None
    """read-only, workspace-write or danger-full-access (default: the agent's own)."""
    agentArgs: list[str] | None = None
    timeout: float | None = None
    machine: str | None = None
    """The machine to start it on (default: this one)."""
    cwdHint: str | None = None
    """Without `cwd`: the caller's working directory, used when it exists on the machine the
    session starts on (else that machine's home directory)."""
    ephemeral: bool | None = None
    """With `headless`: delete the session once its turn ended, however it ended (delegate)."""


@dataclass(frozen=True)
class SendArgs:
    uuid: str
    message: str
    timeout: float | None = None
    noWait: bool | None = None
    interrupt: bool | None = None
    """Stop the running turn first instead of waiting for it to end (the busy rule)."""


@dataclass(frozen=True)
class TimeoutArgs:
    uuid: str
    timeout: float | None = None
    """Seconds to wait at most."""


@dataclass(frozen=True)
class PaneKeysArgs:
    uuid: str
    keys: list[str]
    """tmux key names, e.g. Enter, Escape, C-c, Down."""


@dataclass(frozen=True)
class ResumeArgs:
    uuid: str
    target: str | None = None


@dataclass(frozen=True)
class ReportArgs:
    state: str
    """busy, idle or needs-input."""
    uuid: str | None = None
    at: int | None = None
    """When it happened, in ms since the epoch."""


class Control:
    def __init__(self, service: Service, sessions: Sessions, watcher: Watcher) -> None:
        self.service = service
        self.sessions = sessions
        self.watcher = watcher
        self.headless = HeadlessRunner(service.store, watcher)
        self.pending_turns: dict[str, tuple[int, int]] = {}
        """Turns delivered with --no-wait: the transcript's turn count and the watcher's turn number
        before them, so `await` waits for them even before the agent's state has flipped to busy."""

    async def shutdown(self) -> None:
        """The daemon stops: every running headless turn is killed, whole process tree, and its
        end recorded before the store closes; none is left orphaned to pid 1."""
        if not await self.headless.shutdown():
            return
        try:
            # Also a pause: the `send`s that awaited those turns write their replies (how the
            # turn ended) before the API closes their connections.
            await self.watcher.tick()
        except Exception:
            # The records then say busy until the next start re-derives them; the agents are gone.
            log.exception("stop: the ends of the killed headless turns were not recorded")

    # ---- shared helpers ----------------------------------------------------------------------

    def record(self, uuid: str) -> Record:
        record = self.sessions.resolve(uuid)
        if record.get("deleted"):
            raise SeshError(f"session {record['uuid']} is deleted", "nothing to do")
        return record

    def launch_env(self, ctx: dict[str, Any], uuid: str) -> dict[str, str]:
        env = dict(os.environ)
        if not ctx.get("forwardedFrom"):
            caller = ctx.get("env") or {}
            env.update({k: str(v) for k, v in caller.items() if k in INHERITED})
        for key in ("TMUX", "TMUX_PANE"):
            env.pop(key, None)
        env["SESH_SESSION_ID"] = uuid
        env["SESH_HOME"] = str(self.service.home)
        env["SESH_MACHINE"] = self.service.machine
        env["SESH_REPORT_BIN"] = report_bin()
        return env

    async def binary(self, agent: str, env: dict[str, str]) -> str:
        """`[agents].<agent>`, else the agent on the launch's PATH or in the usual install dirs."""
        config = self.service.config
        found = await asyncio.to_thread(binaries.locate, agent, config.agents.get(agent), env, config.path)
        return found.path

    def turn_count(self, uuid: str) -> int:
        tail = self.watcher.tails.get(uuid)
        state = None if tail is None else tail.state
        return 0 if state is None else state.turns_completed + state.turns_aborted + state.turns_failed

    def activity(self, uuid: str) -> int:
        tail = self.watcher.tails.get(uuid)
        return 0 if tail is None else tail.state.records

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None, uuid: str | None = None) -> bool:
        """True once `predicate()` holds, False after `timeout` (None or 0: never). It is re-checked
        on each turn event, observed change or commit of session `uuid` (None: of any session)."""
        try:
            return await self.watcher.turn_events.wait_until(predicate, timeout, self.service.stop_requested, uuid)
        except WaitStopped:
            raise SeshError("the daemon is stopping", "retry when it is back") from None

    # ---- new ---------------------------------------------------------------------------------

    @op("new", NewArgs, route="machine")
    async def op_new(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Start a new agent session: in tmux, headless, or only registered."""
        agent = check_agent_name(str(args.get("agent") or ""))
        adapter = get_adapter(agent)
        headless = bool(args.get("headless"))
        message = args.get("msg")
        if headless and not (message and str(message).strip()):
            raise headless_without_msg()
        if message is not None and args.get("noLaunch"):
            raise UsageError("--msg needs a launched agent, and --no-launch only registers",
                             "drop --no-launch, or register now and `sesh send` the message later")
        cwd = self.new_cwd(args, ctx)
        uuid = ids.check_uuid(str(args["sessionId"])) if args.get("sessionId") else ids.new_uuid()
        if uuid in self.sessions:
            raise SeshError(f"session id {uuid} is already in use", "pick another --session-id or omit it")
        env = self.launch_env(ctx, uuid)
        binary = await self.binary(agent, env)
        model = launch.choose_model(agent, args.get("model"), self.service.config.models)
        sandbox = sandbox_mode(args.get("sandbox"))
        data_dir = adapter.data_dir(env)
        new_file = adapter.new_session_file(data_dir, cwd, _utcnow())
        session_file = str(new_file) if new_file is not None else None
        passthrough = [str(a) for a in args.get("agentArgs") or []]
        target = None if headless else self.placement(args.get("target"), ctx)
        if headless:
            argv = adapter.headless_argv(binary, str(message), session_id=uuid, resume_id=None, model=model,
                                         sandbox=sandbox, session_file=session_file, passthrough=passthrough)
        else:
            argv = adapter.interactive_argv(binary, session_id=uuid, resume_id=None, model=model, sandbox=sandbox,
                                            report_bin=report_bin(), session_file=session_file,
                                            passthrough=passthrough)
        if args.get("dryRun"):
            shown_env = {k: v for k, v in env.items() if k.startswith("SESH_") or k in INHERITED}
            return {"argv": argv, "env": shown_env, "cwd": cwd, "tmux": target, "uuid": uuid,
                    "machine": self.service.machine}
        tags = list(args.get("tags") or [])
        extra: dict[str, Any] = {"model": model, "headless": headless, "sandbox": sandbox,
                                 "agentDataDir": str(data_dir)}
        if args.get("name"):
            extra["autoRename"] = False  # a name given at birth is kept, as `rename` keeps one
        if session_file:
            extra["filePath"] = session_file
        if ctx.get("sessionId") and not ctx.get("forwardedFrom"):
            extra["parent"] = ctx["sessionId"]
        if target is not None:
            extra["spawnSocket"] = target["socket"]
        record = await self.service.register_session(
            agent, uuid if adapter.takes_session_id else None, cwd, name=str(args.get("name") or ""), tags=tags,
            uuid=uuid, extra=extra,
        )
        if args.get("noLaunch"):
            return self.service.decorate(record)
        if headless:
            try:
                result = await self.headless.run(self.sessions[uuid], str(message), env, binary,
                                                 first=True, timeout=args.get("timeout"))
            except BaseException:
                if args.get("ephemeral"):
                    # A failed or timed-out one-shot worker leaves nothing behind either.
                    try:
                        await self.service.mutate_local(uuid, "delete", {})
                    except SeshError as exc:
                        log.warning("delegate: the failed worker %s was not deleted: %s", uuid, exc.what)
                raise
            if args.get("ephemeral"):
                try:
                    await self.service.mutate_local(uuid, "delete", {})
                except SeshError as exc:  # the reply is still the answer; the CLI says what was kept
                    result = {**result, "notDeleted": exc.what}
            return {**self.service.decorate(self.sessions[uuid]), **result}
        assert target is not None
        # --timeout bounds the whole of `new`: the launch, the readiness wait and the first turn.
        deadline = time.monotonic() + float(args["timeout"]) if args.get("timeout") else None
        await self.launch_or_forget(uuid, target, cwd, env, argv, name=str(args.get("name") or agent),
                                    deadline=deadline)
        if message:
            where = f"session {uuid} was started on {self.service.machine}"
            try:
                await self.wait_ready(uuid, deadline)
            except SeshError as exc:
                raise type(exc)(f"{where}, but the first message was not delivered: {exc.what}", exc.fix) from exc
            try:
                result = await self.send_to_pane(self.sessions[uuid], str(message), wait=True,
                                                 timeout=_left(deadline))
            except TimedOut:
                raise
            except SeshError as exc:
                raise type(exc)(f"{where}, but its first message failed: {exc.what}", exc.fix) from exc
            return {**self.service.decorate(self.sessions[uuid]), **result}
        return self.service.decorate(self.sessions[uuid])

    def new_cwd(self, args: dict[str, Any], ctx: dict[str, Any]) -> str:
        """`cwd` (which must exist here), else the caller's directory when it exists here, else
        this machine's home: a `new --machine M` from elsewhere must not start in a path of the
        caller's machine that M does not have."""
        given = os.path.expanduser(str(args.get("cwd") or ""))
        if given:
            if not given.startswith("/") or not Path(given).is_dir():
                if args.get("machine") or ctx.get("forwardedFrom"):
                    raise UsageError(f"cwd {given!r} does not exist on machine {self.service.machine}",
                                     f"pass --cwd with a directory that exists on {self.service.machine}")
                raise missing_cwd(given)
            return os.path.realpath(given)
        hint = str(args.get("cwdHint") or "")
        if hint.startswith("/") and Path(hint).is_dir():
            return os.path.realpath(hint)
        home = Path.home()
        if home.is_dir():
            return os.path.realpath(home)
        raise UsageError(f"no working directory for the new session on {self.service.machine}: {hint or '$PWD'} "
                         f"does not exist there, and neither does its home {home}",
                         f"pass --cwd with a directory that exists on {self.service.machine}")

    async def launch_or_forget(self, uuid: str, target: dict[str, str], cwd: str, env: dict[str, str],
                               argv: list[str], name: str, deadline: float | None = None) -> None:
        """Open the agent's window and wait until it is live; a launch that fails leaves no
        record behind (the tombstone says it never ran) and no window either."""
        agent = str(self.sessions[uuid]["agent"])
        try:
            pane = await self.open_in_tmux(target, cwd, env, argv, name=name)
        except tmux.TmuxError as exc:
            await self.forget(uuid, target["socket"], None)
            raise SeshError(f"cannot open a tmux window for {agent}: {exc}",
                            "check tmux (`tmux -V`, the socket's directory), or pass --target SOCKET:SESSION") from exc
        within = LIVE_WAIT_S if deadline is None else min(LIVE_WAIT_S, max(0.0, deadline - time.monotonic()))
        if not await self.wait_for(lambda: bool(self.sessions[uuid].get("live")), within or NO_TIME_S, uuid):
            await self.forget(uuid, target["socket"], pane)
            if within < LIVE_WAIT_S:
                raise TimedOut(f"{agent} did not show up as live within --timeout (its window was closed and "
                               "nothing was registered)", "raise --timeout")
            raise SeshError(f"{agent} was started in tmux but never showed up as live (its window was closed and "
                            "nothing was registered)", f"run `{argv[0]}` by hand in {cwd} to see why")

    async def forget(self, uuid: str, socket: str, pane: str | None) -> None:
        """Undo a failed launch: close its pane (when it opened one) and tombstone its record."""
        if pane:
            with contextlib.suppress(tmux.TmuxError):
                await tmux.run_command(socket, "kill-pane", "-t", pane)
        delete = mutations.build("delete", {"force": True}, clock.now_iso())
        await self.service.store.write_local(uuid, lambda current: None if current is None else delete(current))

    def placement(self, target: Any, ctx: dict[str, Any]) -> dict[str, str]:
        """`--target socket:sess[:window]`, else the caller's tmux session, else session "sesh"."""
        if target:
            parts = str(target).split(":")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise UsageError(f"bad --target {target!r}", "write socket:session, e.g. default:work")
            return {"socket": tmux.socket_from_name(parts[0]), "session": parts[1],
                    "window": parts[2] if len(parts) == 3 else ""}
        socket = tmux.socket_from_tmux_env(ctx.get("tmux")) if not ctx.get("forwardedFrom") else None
        if socket and ctx.get("tmuxPane"):
            return {"socket": socket, "session": "", "window": "", "pane": str(ctx["tmuxPane"])}
        return {"socket": tmux.socket_from_name("default"), "session": "sesh", "window": ""}

    async def open_in_tmux(self, target: dict[str, str], cwd: str, env: dict[str, str], argv: list[str],
                           name: str) -> str:
        passed_env = {k: v for k, v in env.items() if k in INHERITED or k.startswith("SESH_")}
        try:
            return await tmux.open_window(target, name=name, cwd=cwd, env=passed_env, argv=argv)
        except FileNotFoundError as exc:  # no tmux binary at all
            raise tmux.TmuxError(f"tmux is not installed or not on the daemon's PATH ({exc})") from exc

    async def wait_ready(self, uuid: str, deadline: float | None = None) -> None:
        """Until the agent's pane takes input (READY_WAIT_S at most; less when `deadline`, on the
        monotonic clock, comes first: then it is a timeout)."""
        adapter = get_adapter(str(self.sessions[uuid]["agent"]))

        async def probe() -> tuple[bool, bool]:
            loc = self.sessions[uuid].get("tmux") or {}
            if not loc:
                return False, False
            text = await tmux.capture(loc["socket"], loc["pane"])
            found = adapter.probe_pane(text)
            return found.ready, found.needs_input

        own = time.monotonic() + READY_WAIT_S
        until = own if deadline is None else min(own, deadline)
        while time.monotonic() < until:
            ready, needs_input = await probe()
            if needs_input:
                raise SeshError("the agent shows a dialog and waits for an answer",
                                f"look with `sesh pane-capture {uuid[:8]}`, answer with `sesh pane-keys {uuid[:8]} …`")
            if ready:
                return
            await asyncio.sleep(min(0.2, max(0.0, until - time.monotonic())))
        if until < own:
            raise TimedOut("the agent did not become ready for input within --timeout",
                           f"raise --timeout; look with `sesh pane-capture {uuid[:8]}`")
        raise SeshError("the agent did not become ready for input", f"look with `sesh pane-capture {uuid[:8]}`")

    # ---- send / await ------------------------------------------------------------------------

    @op("send", SendArgs, route="owner")
    async def op_send(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Send a message to a session and return the reply of that turn."""
        message = str(args.get("message") or "")
        if not message.strip():
            raise empty_message()
        record = self.record(str(args["uuid"]))
        started = time.monotonic()
        wait = not args.get("noWait")
        interrupt = bool(args.get("interrupt"))
        if record.get("live"):
            result = await self.send_to_pane(record, message, wait=wait, timeout=args.get("timeout"),
                                             interrupt=interrupt)
        else:
            if self._live_elsewhere(record):
                raise SeshError("the conversation is live in a pane sesh cannot type into",
                                "send from the machine and tmux server that runs it")
            check_cwd(record)
            await self._until_headless_idle(record["uuid"], args.get("timeout"), interrupt)
            env = self.launch_env(ctx, record["uuid"])
            result = await self.headless.run(record, message, env, await self.binary(str(record["agent"]), env),
                                             first=False, timeout=args.get("timeout"), wait=wait)
        return {"uuid": record["uuid"], **result, "durationMs": int((time.monotonic() - started) * 1000)}

    async def _until_headless_idle(self, uuid: str, timeout: Any, interrupt: bool) -> None:
        """The busy rule for a session with no pane: a running headless turn is waited for (or,
        with `interrupt`, stopped) before the next one starts."""
        if uuid not in self.headless.running:
            return
        if interrupt:
            await self.headless.abort(uuid)
        limit = INTERRUPT_WAIT_S if interrupt else (float(timeout) if timeout else None)
        if not await self.wait_for(lambda: uuid not in self.headless.running, limit, uuid):
            raise TimedOut(f"session {uuid[:8]} is still running a headless turn; the message was not sent",
                           "wait longer (--timeout), or steer it with --interrupt")

    def _live_elsewhere(self, record: Record) -> bool:
        agent_id = record.get("agentSessionId")
        return bool(agent_id) and any(a.agent_session_id == agent_id for a in self.watcher.live.values())

    async def send_to_pane(self, record: Record, message: str, *, wait: bool, timeout: Any,
                           interrupt: bool = False) -> dict[str, Any]:
        """Type `message` into the session's pane and answer with the reply of the turn it opened.

        The busy rule (docs/live-state.md): a busy agent is waited for until idle, then typed to;
        `interrupt` stops its running turn first instead. Whatever draft sits in the input line is
        cleared before typing, so it never merges into the message."""
        uuid = record["uuid"]
        agent = str(record["agent"])
        adapter = get_adapter(agent)
        loc = record.get("tmux") or {}
        socket, pane = loc["socket"], loc["pane"]
        if message.lstrip()[:1] and message.lstrip()[0] in adapter.untypable_chars:
            raise SeshError(f"{agent} runs typed text that starts with {message.lstrip()[0]!r} as its own command, "
                            "so the message cannot reach the model through the pane",
                            "reword its start, or `sesh stop` the session and send it headless")
        typed = " " + message if message[:1] in adapter.command_chars else message
        limit = float(timeout) if timeout else None
        deadline = None if limit is None else time.monotonic() + limit
        await self._until_idle(record, deadline, interrupt)
        tail = self.watcher.tails.get(uuid)
        mark = turn_reply.mark_of(tail.path if tail is not None else
                                  (Path(record["filePath"]) if record.get("filePath") else None))
        turns = self.turn_count(uuid)
        turn_mark = self.watcher.turn_events.turn(uuid)

        def ours() -> Any:
            tail = self.watcher.tails.get(uuid)
            return None if tail is None else turn_reply.find_turn(tail.state, tail.path, mark, message)

        def started() -> bool:
            # Idle before typing (the busy rule), so busy now is this message's turn.
            current = self.sessions[uuid]
            return (ours() is not None or current.get("turnStatus") == "busy"
                    or self.watcher.turn_events.turn(uuid) > turn_mark or not current.get("live"))

        # Enter goes once the pane shows the paste, not after a fixed pause (pane_typing).
        await pane_typing.type_message(socket, pane, adapter.clear_input_keys, typed, buffer=f"sesh-{uuid[:8]}",
                                       input_is_empty=adapter.input_is_empty)
        if not await self.wait_for(started, _start_wait(deadline), uuid):
            log.warning("send: turn did not start in %s, retrying Enter", pane)
            await tmux.leave_mode(socket, pane)
            await tmux.send_keys(socket, pane, ["Enter"])
            if not await self.wait_for(started, _start_wait(deadline), uuid):
                raise Unconfirmed("the message was typed into the pane but no turn start was seen",
                                  f"look with `sesh pane-capture {uuid[:8]}` before sending it again")
        if not wait:
            self.pending_turns[uuid] = (turns, turn_mark)
            return {"reply": None, "usage": None, "delivery": turn_reply.DELIVERED, "via": "pane"}

        def other() -> Any:
            """A turn that opened after the mark and ended with another prompt, the agent now idle:
            the text was typed but the turn the agent ran is not this message's."""
            tail = self.watcher.tails.get(uuid)
            if tail is None or self.sessions[uuid].get("turnStatus") == "busy":
                return None
            start = mark.offset if mark.path == tail.path else 0
            return next((t for t in tail.state.turns_after(start) if t.outcome is not None), None)

        def finished() -> bool:
            turn = ours()
            return ((turn is not None and turn.outcome is not None) or not self.sessions[uuid].get("live")
                    or other() is not None)

        remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
        if not await self.wait_for(finished, remaining, uuid):
            late = TimedOut(f"no reply within {limit:.0f}s",
                            f"the turn goes on; `sesh await {uuid[:8]}` waits for it")
            late.delivery = turn_reply.DELIVERED
            raise late
        turn = ours()
        stray = other() if turn is None else None
        if stray is not None:
            raise Unconfirmed(f"the message was typed, but the turn {agent} ran has another prompt: "
                              f"{turn_reply.preview(stray.prompt)}",
                              f"look with `sesh pane-capture {uuid[:8]}` and `sesh tail {uuid[:8]}`")
        if turn is None or turn.outcome is None:
            raise TurnFailed(f"{agent} exited before the turn ended",
                             f"see `sesh tail {uuid[:8]}`; `sesh resume {uuid[:8]}` starts it again")
        tail = self.watcher.tails[uuid]
        return turn_reply.result_of(agent, uuid, turn, tail.state, "pane")

    async def _until_idle(self, record: Record, deadline: float | None, interrupt: bool) -> None:
        """Return once the session is not busy: wait for its turn to end, or with `interrupt` stop it."""
        uuid = record["uuid"]

        def idle() -> bool:
            current = self.sessions[uuid]
            if not current.get("live"):
                return True
            if current.get("turnStatus") == "busy":
                return False
            pending = self.pending_turns.get(uuid)
            if pending is not None:
                # A --no-wait turn whose start the state has not caught up with yet is busy too.
                turns, turn_mark = pending
                return self.turn_count(uuid) > turns or self.watcher.turn_events.turn(uuid) > turn_mark
            return True

        if idle():
            return
        if interrupt:
            socket, pane = self._pane(record)
            await tmux.leave_mode(socket, pane)
            await tmux.send_keys(socket, pane, ["Escape"])
            if await self.wait_for(idle, INTERRUPT_WAIT_S, uuid):
                return
            raise SeshError(f"session {uuid[:8]} did not stop its running turn; the message was not typed",
                            f"look with `sesh pane-capture {uuid[:8]}`")
        remaining = None if deadline is None else max(0.001, deadline - time.monotonic())
        if not await self.wait_for(idle, remaining, uuid):
            raise TimedOut(f"session {uuid[:8]} stayed busy; the message was not typed",
                           "wait longer (--timeout), or steer the running turn with --interrupt")

    @op("await", TimeoutArgs, route="owner")
    async def op_await(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Wait until the session is idle (its delivered turn ended)."""
        record = self.record(str(args["uuid"]))
        uuid = record["uuid"]
        limit = float(args.get("timeout") or 0) or None

        def idle() -> bool:
            record = self.sessions[uuid]
            busy = record.get("turnStatus") == "busy"
            pending = self.pending_turns.get(uuid)
            if pending is not None:
                turns, turn_mark = pending
                seen_started = busy or self.watcher.turn_events.turn(uuid) > turn_mark
                # Until the delivered turn was seen busy (or has ended), it has not started yet.
                if not seen_started and self.turn_count(uuid) <= turns and record.get("live"):
                    return False
            return not busy and uuid not in self.headless.running

        if not await self.wait_for(idle, limit, uuid):
            raise TimedOut(f"session {uuid[:8]} is still busy after {limit:.0f}s", "wait longer or abort it")
        self.pending_turns.pop(uuid, None)
        current = self.sessions[uuid]
        return {"uuid": uuid, "turnStatus": current.get("turnStatus"), "stateSource": current.get("stateSource")}

    # ---- abort / compact / keys / stop -------------------------------------------------------

    def _pane(self, record: Record) -> tuple[str, str]:
        loc = record.get("tmux") or {}
        if not record.get("live") or not loc:
            raise SeshError(f"session {record['uuid'][:8]} is not live in a pane", "resume it with `sesh resume`")
        return loc["socket"], loc["pane"]

    @op("abort", SessionArgs, route="owner")
    async def op_abort(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Interrupt the running turn (Escape in the pane, or kill the headless turn)."""
        record = self.record(str(args["uuid"]))
        uuid = record["uuid"]
        self.pending_turns.pop(uuid, None)
        if uuid in self.headless.running:
            await self.headless.abort(uuid)
            return {"uuid": uuid, "aborted": "headless"}
        socket, pane = self._pane(record)
        await tmux.leave_mode(socket, pane)
        await tmux.send_keys(socket, pane, ["Escape"])
        return {"uuid": uuid, "aborted": "pane"}

    @op("compact", TimeoutArgs, route="owner")
    async def op_compact(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Compact the conversation's context (in the pane, or a headless turn)."""
        record = self.record(str(args["uuid"]))
        if not record.get("live"):
            agent = str(record.get("agent"))
            adapter = get_adapter(agent)
            how = adapter.headless_compact()
            if record["uuid"] in self.headless.running:
                raise SeshError(f"session {record['uuid'][:8]} is running a headless turn",
                                f"sesh await {record['uuid'][:8]}, then compact")
            check_cwd(record)
            env = self.launch_env(ctx, record["uuid"])
            given = args.get("timeout")
            timeout = COMPACT_WAIT_S if given is None else (float(given) or None)  # 0: no limit
            if how == "rpc":
                return await compact_pi(self.headless, record, env, await self.binary(agent, env), timeout)
            result = await self.headless.run(record, adapter.compact_command, env, await self.binary(agent, env),
                                             first=False, timeout=timeout, command=True)
            return {"uuid": record["uuid"], "compact": "done", "summary": str(result.get("reply") or "")[:500]}
        socket, pane = self._pane(record)
        await tmux.leave_mode(socket, pane)
        await tmux.send_keys(socket, pane, [get_adapter(record["agent"]).compact_command], literal=True)
        await asyncio.sleep(SUBMIT_PAUSE_S * 2)  # the slash-command popup must settle before Enter
        await tmux.send_keys(socket, pane, ["Enter"])
        return {"uuid": record["uuid"], "compact": "requested"}

    @op("pane-keys", PaneKeysArgs, route="owner")
    async def op_pane_keys(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Send tmux keys to the session's pane (answer a dialog, navigate)."""
        keys = [str(k) for k in args.get("keys") or []]
        if not keys:
            raise UsageError("pane-keys needs at least one key", "e.g. sesh pane-keys a808 Enter")
        record = self.record(str(args["uuid"]))
        socket, pane = self._pane(record)
        await tmux.leave_mode(socket, pane)
        try:
            await tmux.send_keys(socket, pane, keys)
        except tmux.TmuxError as exc:
            raise SeshError(str(exc), "use tmux key names, e.g. Enter, Escape, C-c, Down") from exc
        return {"uuid": record["uuid"], "sent": keys}

    @op("stop", SessionArgs, route="owner")
    async def op_stop(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Quit the session's agent (gracefully, then by signal)."""
        record = self.record(str(args["uuid"]))
        uuid = record["uuid"]
        if uuid in self.headless.running:
            await self.headless.abort(uuid)
        if not record.get("live"):
            return self.service.decorate(self.sessions[uuid])
        socket, pane = self._pane(record)
        await tmux.leave_mode(socket, pane)
        await tmux.send_keys(socket, pane, [get_adapter(record["agent"]).quit_command], literal=True)
        await asyncio.sleep(SUBMIT_PAUSE_S * 2)
        await tmux.send_keys(socket, pane, ["Enter"])
        gone = lambda: not self.sessions[uuid].get("live")  # noqa: E731
        if not await self.wait_for(gone, STOP_GRACE_S, uuid):
            agent = next((a for a in self.watcher.live.values() if a.pane.pane == pane and a.pane.socket == socket),
                         None)
            if agent is not None:
                log.warning("stop: %s did not quit; terminating pid %s", uuid, agent.pid)
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.kill(agent.pid, sig)
                    except ProcessLookupError:
                        break
                    if await self.wait_for(gone, 3.0, uuid):
                        break
        await self.wait_for(gone, 3.0, uuid)
        return self.service.decorate(self.sessions[uuid])

    # ---- resume ------------------------------------------------------------------------------

    @op("resume", ResumeArgs, route="owner")
    async def op_resume(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """Live → where it is; not live → relaunched in tmux resuming its conversation (at the owner)."""
        record = self.record(str(args["uuid"]))
        if record["machine"] != self.service.machine:
            raise SeshError(
                f"session {record['uuid'][:8]} runs on machine {record['machine']!r}",
                f"enter it there: ssh to {record['machine']} and run `sesh resume {record['uuid'][:8]}`",
            )
        uuid = record["uuid"]
        if record.get("live"):
            return {"action": "goto", "tmux": record["tmux"], "uuid": uuid}
        if uuid in self.headless.running:
            # A pane opened now would resume the conversation beside the running turn: a fork.
            raise SeshError(f"session {uuid[:8]} is running a headless turn; a pane opened now would fork "
                            "its conversation", f"wait for it (`sesh await {uuid[:8]}`) or stop it "
                            f"(`sesh abort {uuid[:8]}`), then resume")
        agent = str(record["agent"])
        adapter = get_adapter(agent)
        resume_id = record.get("agentSessionId")
        if not adapter.resumes_from_file and not resume_id:
            raise SeshError(f"session {uuid[:8]} has no conversation id to resume yet",
                            "it never got a first message; start a new one with `sesh new`")
        if adapter.resumes_from_file and not record.get("filePath"):
            raise SeshError(f"session {uuid[:8]} has no transcript to resume", "start a new one with `sesh new`")
        check_cwd(record)
        env = self.launch_env(ctx, uuid)
        binary = await self.binary(agent, env)
        target = self.placement(args.get("target"), ctx)
        argv = adapter.interactive_argv(binary, session_id=None, resume_id=None if adapter.resumes_from_file
                                        else str(resume_id), model=record.get("model"),
                                        sandbox=sandbox_mode(record.get("sandbox")), report_bin=report_bin(),
                                        session_file=record.get("filePath"))
        await self.service.store.write_local(uuid, lambda cur: None if cur is None else
                                             {**cur, "spawnSocket": target["socket"], "headless": False})
        try:
            await self.open_in_tmux(target, str(record["cwd"]), env, argv, name=str(record.get("name") or agent))
        except tmux.TmuxError as exc:
            raise SeshError(f"cannot open a tmux window to resume {uuid[:8]}: {exc}",
                            "check tmux (`tmux -V`, the socket's directory), or pass --target SOCKET:SESSION") from exc
        if not await self.wait_for(lambda: bool(self.sessions[uuid].get("live")), LIVE_WAIT_S, uuid):
            raise SeshError(f"{agent} was relaunched but never showed up as live", "see `sesh agents`")
        return {"action": "goto", "tmux": self.sessions[uuid]["tmux"], "uuid": uuid}

    # ---- reporters ---------------------------------------------------------------------------

    @op("report", ReportArgs, forwardable=False)
    async def op_report(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """A reporter hook's turn state for a session this daemon launched (local only)."""
        uuid = str(args.get("uuid") or ctx.get("sessionId") or "")
        state = str(args.get("state") or "")
        if state not in ("busy", "idle", "needs-input"):
            raise UsageError(f"bad report state {state!r}", "use busy, idle or needs-input")
        if uuid not in self.sessions:
            raise SeshError(f"no session {uuid!r} here to report for", "reporters run in panes sesh launched")
        status = "idle" if state == "needs-input" else state
        now = time.monotonic()
        at = now
        if isinstance(args.get("at"), int):
            # The event's own time on our monotonic clock: a report that arrives late must not
            # outrank what the transcript showed after it, nor a later report.
            at = min(now, now - (time.time() - args["at"] / 1000.0))
        previous = self.watcher.reported.get(uuid)
        if previous is not None and previous.source == "hook" and previous.at > at:
            return {"uuid": uuid, "state": state, "ignored": "a later report is already in"}
        self.watcher.reported[uuid] = Reported(status, "hook", at, needs_input=state == "needs-input")
        self.watcher.wake.set()
        return {"uuid": uuid, "state": state}


def check_cwd(record: Record) -> None:
    """A session's agent runs in its cwd: one that was removed since is a clear error, not a
    FileNotFoundError from the launch."""
    cwd = str(record.get("cwd") or "")
    if not os.path.isdir(cwd):
        short = record["uuid"][:8]
        raise SeshError(f"session {short}'s working directory {cwd} no longer exists",
                        f"recreate it (mkdir -p {cwd}), or start a new session elsewhere with `sesh new --cwd DIR`")


def _start_wait(deadline: float | None) -> float:
    """TURN_START_S, or less when --timeout ends first: --timeout bounds every wait of `send`."""
    left = _left(deadline)
    return TURN_START_S if left is None else min(TURN_START_S, left)


def _left(deadline: float | None) -> float | None:
    """Seconds left until `deadline` (monotonic), at least a hair so 0 never means "no limit"."""
    return None if deadline is None else max(NO_TIME_S, deadline - time.monotonic())


def _utcnow() -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(clock.now_s(), UTC)
