"""`[[hooks]]`: run a program, or POST to a URL, on each event a hook names.

A command gets the event as JSON on stdin and as `SESH_EVENT_*` variables; it runs with no shell,
in its own process group, killed after its timeout. A URL gets the event JSON as a POST body,
signed with the hook's secret, retried after a network error, a timeout or a 5xx. Each hook has
its own bounded queue and worker, so a slow hook delays only itself, and events it cannot keep up
with are dropped and counted in the log. Every failure is logged. docs/events.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import json
import logging
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sesh_mesh import __version__
from sesh_mesh.daemon.events import Dropped, Event, EventHub
from sesh_mesh.daemon.ops import op
from sesh_mesh.event_config import EventSettings, Hook

log = logging.getLogger(__name__)

HOOK_QUEUE = 100
"""Events waiting for one hook; beyond this the newest are dropped (and counted in the log)."""

KILL_GRACE_S = 2.0
"""After a command's timeout: SIGTERM to its process group, then SIGKILL after this."""

RETRY_DELAY_S = 0.5
"""Before the first retry of a failed POST; doubled before each further one."""

OUTPUT_KEPT = 400
"""How much of a failed command's stderr the log line quotes."""


def event_env(event: Event) -> dict[str, str]:
    """The `SESH_EVENT_*` variables of an event (docs/events.md lists them)."""
    detail = event.detail
    env = {
        "SESH_EVENT_KIND": event.kind,
        "SESH_EVENT_MACHINE": event.machine,
        "SESH_EVENT_UUID": event.uuid or "",
        "SESH_EVENT_NAME": event.name or "",
        "SESH_EVENT_AGENT": event.agent or "",
        "SESH_EVENT_TIME": event.time,
        "SESH_EVENT_ID": str(event.id),
        "SESH_EVENT_SEEN_ON": event.seen_on,
    }
    text = detail.get("reply") if event.kind == "turn-ended" else detail.get("question")
    if isinstance(text, str):
        env["SESH_EVENT_TEXT"] = text
    return env


def event_body(event: Event) -> bytes:
    return json.dumps(event.to_wire(), ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class HookOutcome:
    """What a hook did lately (counters for logs and tests)."""

    def __init__(self) -> None:
        self.runs = 0
        self.failures = 0
        self.dropped = 0
        self.last_error: str | None = None


async def run_command(hook: Hook, event: Event, cwd: Path) -> str | None:
    """Run the hook's argv for `event`; None on success, else why it failed."""
    body = event_body(event)
    try:
        proc = await asyncio.create_subprocess_exec(
            *hook.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **event_env(event)}, cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return f"cannot run {hook.command[0]}: {exc.strerror or exc}"
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(body), hook.timeout_s)
    except TimeoutError:
        await _kill_group(proc)
        return f"timed out after {hook.timeout_s:g}s (killed)"
    except asyncio.CancelledError:
        # The daemon stops past its grace: the hook must not outlive it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    except BrokenPipeError:
        # It exited without reading stdin: its exit status still says whether it worked.
        stderr = b""
        await proc.wait()
    if proc.returncode != 0:
        said = stderr.decode(errors="replace").strip()[-OUTPUT_KEPT:]
        return f"exited with {proc.returncode}" + (f": {said}" if said else "")
    return None


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
            return
        except TimeoutError:
            continue


def _post(hook: Hook, body: bytes, kind: str) -> str | None:
    """One POST (blocking; run in a thread). None on a 2xx; else why, prefixed `retry:` when
    another try may help."""
    assert hook.url is not None
    headers = {"Content-Type": "application/json", "User-Agent": f"sesh/{__version__}", "X-Sesh-Event": kind,
               **dict(hook.headers)}
    if hook.secret:
        headers["X-Sesh-Signature-256"] = signature(hook.secret, body)
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout_s) as response:
            response.read(OUTPUT_KEPT)
        return None
    except urllib.error.HTTPError as exc:
        return f"{'retry:' if exc.code >= 500 else ''}HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return f"retry:{reason}"


async def post_url(hook: Hook, event: Event) -> str | None:
    body = event_body(event)
    delay = RETRY_DELAY_S
    problem: str | None = None
    for attempt in range(hook.retries + 1):
        problem = await asyncio.to_thread(_post, hook, body, event.kind)
        if problem is None:
            return None
        if not problem.startswith("retry:") or attempt == hook.retries:
            break
        await asyncio.sleep(delay)
        delay *= 2
    assert problem is not None
    tries = f" (after {hook.retries + 1} tries)" if problem.startswith("retry:") and hook.retries else ""
    return problem.removeprefix("retry:") + tries


class _Worker:
    """One hook's queue and the task that empties it, in order."""

    def __init__(self, hook: Hook) -> None:
        self.hook = hook
        self.queue: collections.deque[Event] = collections.deque()
        self.ready = asyncio.Event()
        self.outcome = HookOutcome()
        self.task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> None:
        if len(self.queue) >= HOOK_QUEUE:
            self.outcome.dropped += 1
            if self.outcome.dropped == 1 or self.outcome.dropped % HOOK_QUEUE == 0:
                log.warning("events: %s cannot keep up: %d events dropped so far", self.hook.describe(),
                            self.outcome.dropped)
            return
        self.queue.append(event)
        self.ready.set()


class Hooks:
    """Runs every configured hook for the events it names, as `settings()` says now."""

    def __init__(self, hub: EventHub, settings: Callable[[], EventSettings], cwd: Path) -> None:
        self.hub = hub
        self.settings = settings
        self.cwd = cwd
        self.workers: dict[Hook, _Worker] = {}
        self.events = hub.subscribe()
        """Taken at construction: nothing published before `run` starts is missed."""

    @op("hooks")
    async def op_hooks(self, args: dict[str, Any], ctx: dict[str, Any]) -> Any:
        """The configured [[hooks]] and how each fared since the daemon started (runs, failures, last error)."""
        out = []
        for hook in self.settings().hooks:
            worker = self.workers.get(hook)
            outcome = worker.outcome if worker is not None else HookOutcome()
            out.append({
                "index": hook.index, "on": sorted(hook.on) or ["*"], "command": list(hook.command) or None,
                "url": hook.url, "machine": hook.machine, "timeout": hook.timeout_s, "runs": outcome.runs,
                "failures": outcome.failures, "dropped": outcome.dropped, "lastError": outcome.last_error,
                "queued": len(worker.queue) if worker is not None else 0,
            })
        return out

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            with self.events as events:
                async for item in events:
                    if isinstance(item, Dropped):
                        log.warning("events: hooks fell behind: %d events dropped", item.count)
                        continue
                    self._dispatch(item, group)
            for worker in self.workers.values():
                worker.ready.set()  # the hub closed: each worker finishes its queue, then ends

    def _dispatch(self, event: Event, group: asyncio.TaskGroup) -> None:
        hooks = self.settings().hooks
        for gone in set(self.workers) - set(hooks):
            worker = self.workers.pop(gone)
            if worker.task is not None:
                worker.task.cancel()
        for hook in hooks:
            if not hook.wants(event.kind, event.machine):
                continue
            known = self.workers.get(hook)
            if known is None:
                worker = self.workers[hook] = _Worker(hook)
                worker.task = group.create_task(self._work(worker), name=f"events:hook-{hook.index}")
            else:
                worker = known
            worker.offer(event)

    async def _work(self, worker: _Worker) -> None:
        while True:
            if not worker.queue:
                if self.hub.closed:
                    return
                worker.ready.clear()
                await worker.ready.wait()
                continue
            event = worker.queue.popleft()
            hook = worker.hook
            started = time.monotonic()
            try:
                problem = await (post_url(hook, event) if hook.url else run_command(hook, event, self.cwd))
            except Exception as exc:  # noqa: BLE001 - a hook's failure is logged, never the daemon's
                problem = repr(exc)
            worker.outcome.runs += 1
            if problem is None:
                log.debug("events: %s ran for %s %s in %.3fs", hook.describe(), event.kind, event.uuid,
                          time.monotonic() - started)
                continue
            worker.outcome.failures += 1
            worker.outcome.last_error = problem
            log.warning("events: %s failed for %s of %s: %s", hook.describe(), event.kind, event.uuid or event.machine,
                        problem)
