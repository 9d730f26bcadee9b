"""A snapshot of the process tree from /proc: children, comm, argv, cwd, environ, open files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    comm: str
    start_ticks: int


@dataclass
class ProcTree:
    procs: dict[int, Proc] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)

    def descendants(self, pid: int, limit: int = 200) -> list[Proc]:
        """`pid` itself and everything under it, breadth first (bounded: a fork bomb is not our job)."""
        out: list[Proc] = []
        queue = [pid]
        while queue and len(out) < limit:
            current = queue.pop(0)
            proc = self.procs.get(current)
            if proc is not None:
                out.append(proc)
            queue.extend(self.children.get(current, []))
        return out


def _stat(pid: int) -> Proc | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # comm is in parentheses and may itself contain spaces or ')'.
    open_paren, close_paren = raw.find(b"("), raw.rfind(b")")
    comm = raw[open_paren + 1 : close_paren].decode(errors="replace")
    fields = raw[close_paren + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        # A zombie has exited: its pid and start time stay until its parent reaps it, which tmux
        # does not do for a remain-on-exit pane, so an exited agent would look alive forever.
        return None
    return Proc(pid=pid, ppid=int(fields[1]), comm=comm, start_ticks=int(fields[19]))


def snapshot() -> ProcTree:
    tree = ProcTree()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        proc = _stat(int(entry.name))
        if proc is None:
            continue
        tree.procs[proc.pid] = proc
        tree.children.setdefault(proc.ppid, []).append(proc.pid)
    return tree


def argv(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")] if raw else []


def cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def open_files(pid: int, suffix: str = ".jsonl") -> list[str]:
    """Paths of regular files the process holds open that end with `suffix`."""
    found = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.endswith(suffix):
            found.append(target)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # os-level, not pathlib: every scan asks this of every live agent (half the cost at 100).
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        try:
            raw = os.read(fd, 1024)  # the state is the first field after the name, well within
        finally:
            os.close(fd)
    except OSError:
        return False
    # A zombie has exited; only its parent's wait is missing (a test's child daemon, say).
    return raw[raw.rfind(b")") + 2 :][:1] != b"Z"
