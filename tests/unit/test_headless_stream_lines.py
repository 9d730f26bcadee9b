"""The headless runner's line reader: a real child process's stdout, each complete JSON line
handed to the listener in order as it is written, a line longer than asyncio's readline limit
included, and the whole output still returned for the turn's own parsing."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from sesh_mesh.daemon.headless import _communicate_lines

CHILD = r"""
import json, os, sys, time
sys.stdout.write(json.dumps({"n": 1}) + "\n"); sys.stdout.flush()
# The listener answers line 1 by creating this file: seen while we still run, not after.
until = time.monotonic() + 20
while not os.path.exists(sys.argv[1]) and time.monotonic() < until:
    time.sleep(0.05)
sys.stdout.write(json.dumps({"n": 2, "big": "x" * 200000}) + "\nnot json\n"); sys.stdout.flush()
sys.stderr.write("warning on stderr\n")
sys.stdout.write(json.dumps({"n": 3, "stdin": sys.stdin.read(), "answered": os.path.exists(sys.argv[1])}) + "\n")
"""


def test_lines_reach_the_listener_in_order(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []
    answer = tmp_path / "answer"

    def listen(item: dict[str, Any]) -> None:
        seen.append(item)
        answer.touch()

    async def run() -> tuple[bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, str(answer), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        return await _communicate_lines(proc, b"the message", listen)

    out, err = asyncio.run(run())
    assert [item["n"] for item in seen] == [1, 2, 3]
    assert len(seen[1]["big"]) == 200000 and seen[2]["stdin"] == "the message" and seen[2]["answered"]
    assert [json.loads(line)["n"] for line in out.decode().splitlines() if line.startswith("{")] == [1, 2, 3]
    assert err.decode() == "warning on stderr\n"
