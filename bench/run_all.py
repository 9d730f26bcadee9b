"""Run every benchmark script in bench/ in turn and print each one's output.

A bench script is any bench/*.py with a `__main__` block (helpers such as common.py have none),
so scripts added later (mesh_*, tui_*, ...) are picked up without editing this file. Each runs
in its own interpreter with a time limit; a failing one is reported and the rest still run.
`--only a,b` runs the scripts whose names contain a or b; `--list` just lists them.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
LIMIT_S = 1800.0
"""One script's time limit (the idle-CPU bench starts 30 agents, then watches for a minute)."""
GRACE_S = 60.0
"""How long a timed-out script gets to clean up after SIGINT before it is killed."""


def scripts() -> list[Path]:
    found = []
    for path in sorted(BENCH.glob("*.py")):
        if path.name == Path(__file__).name:
            continue
        if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8"):
            found.append(path)
    return found


def run(path: Path) -> int:
    """Run one script; past the limit, SIGINT first so its context managers tear down tmux and daemons."""
    proc = subprocess.Popen([sys.executable, str(path)], cwd=BENCH.parent, stdout=sys.stdout, stderr=subprocess.STDOUT)
    try:
        return proc.wait(LIMIT_S)
    except subprocess.TimeoutExpired:
        print(f"   timed out after {LIMIT_S:.0f} s", flush=True)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return -1
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        proc.wait(GRACE_S)
        raise


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="", help="comma-separated name fragments")
    parser.add_argument("--list", action="store_true")
    opts = parser.parse_args()
    wanted = [s for s in opts.only.split(",") if s]
    chosen = [p for p in scripts() if not wanted or any(w in p.stem for w in wanted)]
    if opts.list:
        print("\n".join(p.name for p in chosen))
        return 0
    failed = []
    for path in chosen:
        print(f"== {path.name}", flush=True)
        start = time.monotonic()
        code = run(path)
        took = time.monotonic() - start
        print(f"   ({path.name}: exit {code}, {took:.0f} s)\n", flush=True)
        if code != 0:
            failed.append(path.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
