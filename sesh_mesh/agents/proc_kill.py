"""Ending an agent process and everything it started: its process group, its session, its
descendants.

Agents launch helpers: codex's node launcher spawns the native codex binary (node 20 has no
execve), claude and pi run tools in shells. Killing only the process sesh started leaves those
running (orphaned to pid 1), holding the turn's stdout open, so the turn never ends. sesh starts
every agent process in a new session (`start_new_session`), so its pid is also its group and
session id, and whatever did not leave both is found by them; a descendant that did leave is
found by the ppid links of a snapshot taken before anything is signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from sesh_mesh.agents import proctree

TERM_GRACE_S = 2.0
"""After SIGTERM the tree gets this long to exit on its own (claude and codex record an
interrupted turn), then whatever is left gets SIGKILL."""

POLL_S = 0.05


def members(leader: int) -> set[int]:
    """Every live process of `leader`'s tree: its group, its session, its descendants."""
    tree = proctree.snapshot()
    found = {proc.pid for proc in tree.descendants(leader)}
    for pid in tree.procs:
        ids = _group_and_session(pid)
        if ids is not None and leader in ids:
            found.add(pid)
    return found


def _group_and_session(pid: int) -> tuple[int, int] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    state = fields[0]
    if state == b"Z":
        return None  # a zombie holds nothing open; its parent reaps it
    return int(fields[2]), int(fields[3])


def signal_tree(leader: int, pids: set[int], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


async def kill_tree(leader: int, grace: float = TERM_GRACE_S) -> set[int]:
    """SIGTERM `leader`'s whole tree, SIGKILL what is left after `grace`; returns the pids that
    were signalled. Returns once none of them lives (or after a bounded wait for SIGKILL)."""
    pids = await asyncio.to_thread(members, leader)
    pids.add(leader)
    signal_tree(leader, pids, signal.SIGTERM)
    if not await _gone(pids, grace):
        signal_tree(leader, pids | await asyncio.to_thread(members, leader), signal.SIGKILL)
        await _gone(pids, grace)
    return pids


async def _gone(pids: set[int], within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        alive = [pid for pid in pids if _group_and_session(pid) is not None]
        if not alive:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
