"""Helpers shared by the benchmarks: a throwaway daemon seeded with N records, and timing."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.harness import Daemon  # noqa: E402


def seed_legacy_file(path: Path, count: int, machine: str) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    records = [
        {"uuid": u, "agent": ("claude", "codex", "pi")[i % 3], "machine": machine, "name": f"session-{i}",
         "cwd": f"/home/me/src/project-{i % 50}", "tags": [f"t{i % 7}"]}
        for i, u in enumerate(ids)
    ]
    path.write_text(json.dumps(records))
    return ids


def seeded_daemon(count: int, machine: str = "bench") -> tuple[Daemon, list[str]]:
    daemon = Daemon(machine).start()
    legacy = daemon.home / "seed.json"
    ids = seed_legacy_file(legacy, count, machine)
    daemon.call("import", {"path": str(legacy)})
    return daemon, ids


def time_command(argv: Sequence[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def time_call(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)

def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
