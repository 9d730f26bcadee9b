"""Directory trees watched with Linux inotify, read on the event loop: no thread, no polling.

Why not watchfiles: its Rust loop wakes every `step` ms and takes the GIL to check its stop
event, even when nothing changes. At 100 live panes that alone cost 0.2 to 0.4 % of a core, a third
of the daemon's idle budget (docs/live-state.md, Idle cost), and its step and debounce (20 and 50 ms) held
back every turn's end. An inotify descriptor costs nothing until the kernel has an event,
and the loop reads it the moment it does.

The watch is recursive: a directory created inside a watched tree is watched at once, and the
files already in it are reported, since they may have been written before its watch existed.
When the kernel's queue overflows, or a directory cannot be watched (the `max_user_watches`
limit), the loss is logged and every file under the trees is reported once; the watcher's 1 s
safety tick covers anything later.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import functools
import logging
import os
import struct
from collections.abc import Callable, Iterable
from pathlib import Path

from sesh_mesh.daemon.waiting import first_of

log = logging.getLogger(__name__)

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

WATCH_MASK = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
              | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
READ_BYTES = 64 * 1024
MAX_TREE_DIRS = 4096
"""One tree is watched down to this many directories; beyond that the tick covers it (a data dir
is a few hundred directories even after years of codex's YYYY/MM/DD layout)."""

@functools.cache
def _lib() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    return libc


class TreeWatch:
    """An inotify descriptor over some directory trees; `wake` gets the changed paths."""

    def __init__(self, roots: Iterable[Path], wake: Callable[[set[Path]], None]) -> None:
        fd = _lib().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"inotify_init1: {os.strerror(code)}")
        self.fd = fd
        self.roots = sorted({Path(root) for root in roots})
        self.wake = wake
        self.dirs: dict[int, Path] = {}
        self.lost: str | None = None
        """Why some change may have gone unseen (a full queue, the watch limit), until reported."""
        self.root_gone = asyncio.Event()
        """A root was deleted or moved: its watch is gone or names another place now, and the
        caller re-arms on the paths as they are."""
        for root in self.roots:
            self._add_tree(root, report=False)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _add_dir(self, path: Path) -> bool:
        wd = _lib().inotify_add_watch(self.fd, os.fsencode(path), WATCH_MASK)
        if wd < 0:
            code = ctypes.get_errno()
            if code in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                return False  # gone already, or not ours to read: nothing to watch there
            self.lost = f"cannot watch {path}: {os.strerror(code)}" + (
                " (raise fs.inotify.max_user_watches)" if code == errno.ENOSPC else "")
            return False
        self.dirs[wd] = path
        return True

    def _add_tree(self, root: Path, report: bool) -> set[Path]:
        """Watch `root` and the directories under it; the files found there when `report`."""
        found: set[Path] = set()
        pending, watched = [root], 0
        while pending:
            path = pending.pop()
            if watched >= MAX_TREE_DIRS:
                self.lost = f"more than {MAX_TREE_DIRS} directories under {root}: the rest are not watched"
                break
            if not self._add_dir(path):
                continue
            watched += 1
            try:
                with os.scandir(path) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            pending.append(Path(entry.path))
                        elif report:
                            found.add(Path(entry.path))
            except OSError:
                continue
        return found

    def _everything(self) -> set[Path]:
        found: set[Path] = set()
        for root in self.roots:
            for base, _dirs, files in os.walk(root):
                found.update(Path(base, name) for name in files)
        return found

    def read(self) -> None:
        """Drain the descriptor (the loop calls it when readable) and wake once with every path."""
        changed: set[Path] = set()
        overflow = False
        while True:
            try:
                data = os.read(self.fd, READ_BYTES)
            except BlockingIOError:
                break
            except OSError as exc:
                self.lost = f"reading inotify events: {exc}"
                break
            if not data:
                break
            offset = 0
            while offset + _HEADER.size <= len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                offset += _HEADER.size
                name = data[offset:offset + length].split(b"\0", 1)[0]
                offset += length
                if mask & IN_Q_OVERFLOW:
                    overflow = True
                    continue
                base = self.dirs.get(wd)
                if mask & IN_IGNORED:
                    if self.dirs.pop(wd, None) in self.roots:
                        self.root_gone.set()
                    continue
                if base is None:
                    continue
                if mask & IN_MOVE_SELF and base in self.roots:
                    self.root_gone.set()  # inotify follows the directory, not the path we watch
                path = base / os.fsdecode(name) if name else base
                changed.add(path)
                if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                    changed |= self._add_tree(path, report=True)
        if overflow:
            self.lost = "the kernel's inotify queue overflowed"
        if self.lost is not None:
            log.warning("transcript watch: %s; reporting every file once, the 1 s tick covers the rest", self.lost)
            self.lost = None
            changed |= self._everything()
        if changed:
            self.wake(changed)


async def watch_trees(roots: Iterable[Path], wake: Callable[[set[Path]], None], *until: asyncio.Event) -> bool:
    """Watch `roots` recursively until one of `until` is set (True) or a root goes away (False);
    raises OSError when inotify is unusable."""
    watch = TreeWatch(roots, wake)
    loop = asyncio.get_running_loop()
    try:
        if watch.lost is not None:
            watch.read()  # reports the loss (a limit hit while arming) at once
        loop.add_reader(watch.fd, watch.read)
        await first_of(*until, watch.root_gone)
        return any(event.is_set() for event in until)
    finally:
        loop.remove_reader(watch.fd)
        watch.close()
