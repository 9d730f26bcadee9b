"""What typed op arguments cost: importing the checker, and checking one request.

Compares sesh's dataclass checker (sesh_mesh/daemon/op_args.py) with pydantic when pydantic is
importable by the interpreter named in $PYDANTIC_PYTHON (default: this one), so the choice in
op_args.py's docstring stays a measured one. Prints medians over many runs.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMPORT_RUNS = 15
CHECK_RUNS = 20000

SEND = {"uuid": "a8081234", "message": "hello there", "timeout": 30.0, "noWait": False}

PYDANTIC_SNIPPET = """
import time, statistics
t0 = time.perf_counter()
import pydantic
from pydantic import BaseModel
t1 = time.perf_counter()
class SendArgs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)
    uuid: str
    message: str
    timeout: float | None = None
    noWait: bool | None = None
args = {"uuid": "a8081234", "message": "hello there", "timeout": 30.0, "noWait": False}
samples = []
for _ in range(CHECK_RUNS):
    s = time.perf_counter(); SendArgs.model_validate(args); samples.append(time.perf_counter() - s)
print((t1 - t0) * 1000, statistics.median(samples) * 1e6)
""".replace("CHECK_RUNS", str(CHECK_RUNS))


def import_ms(python: str, module: str) -> float:
    """Median wall time of importing `module` in a fresh interpreter, minus a bare start."""
    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - started

    bare = statistics.median(run("pass") for _ in range(IMPORT_RUNS))
    loaded = statistics.median(run(f"import {module}") for _ in range(IMPORT_RUNS))
    return (loaded - bare) * 1000


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from sesh_mesh.daemon import op_args
    from sesh_mesh.daemon.control import SendArgs

    op_args.check("send", SendArgs, SEND)  # warm the field cache, as the daemon's first request does
    samples = []
    for _ in range(CHECK_RUNS):
        started = time.perf_counter()
        op_args.check("send", SendArgs, SEND)
        samples.append(time.perf_counter() - started)
    own_import = import_ms(sys.executable, "sesh_mesh.daemon.op_args")
    print("typed op arguments (send's 4 fields)")
    print(f"  sesh op_args: import {own_import:6.1f} ms   check {statistics.median(samples) * 1e6:6.2f} µs")
    python = os.environ.get("PYDANTIC_PYTHON", sys.executable)
    probe = subprocess.run([python, "-c", "import pydantic"], capture_output=True, check=False)
    if probe.returncode != 0:
        print(f"  pydantic:     not importable by {python} (set PYDANTIC_PYTHON to compare)")
        return 0
    out = subprocess.run([python, "-c", PYDANTIC_SNIPPET], capture_output=True, text=True, check=True).stdout
    imported, check_us = (float(x) for x in out.split())
    print(f"  pydantic:     import {import_ms(python, 'pydantic.main'):6.1f} ms   check {check_us:6.2f} µs"
          f"   (in-process first import {imported:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
