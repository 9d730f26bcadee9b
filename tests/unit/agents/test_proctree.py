"""The /proc snapshot: a process that exited is not in it, even before its parent reaps it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sesh_mesh.agents import proctree


def test_a_zombie_is_not_in_the_snapshot_nor_alive() -> None:
    child = os.fork()
    if child == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while b") Z" not in Path(f"/proc/{child}/stat").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b") Z" in Path(f"/proc/{child}/stat").read_bytes(), "the child did not become a zombie"
        tree = proctree.snapshot()
        assert child not in tree.procs
        assert child not in tree.children.get(os.getpid(), [])
        assert not proctree.alive(child)
        assert os.getpid() in tree.procs, "the snapshot holds running processes"
    finally:
        os.waitpid(child, 0)
