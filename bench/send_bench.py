"""`sesh send` round-trip overhead per agent: the CLI's wall time minus the fake model's own
reply time (request received → last byte sent), on the pane path and the headless path.

Overhead here is everything sesh adds (CLI start, socket, typing into the pane with the submit
pause, noticing the turn start and end, reading the reply from the transcript) plus the agent's
own work around the model call (startup for headless turns).

`--big-turns N` also sends a 100 KB message (3,200 lines, read from stdin with `send -`) N times
per agent and path: the cost of the text itself (the pane path pastes it through a tmux buffer
and the TUI takes it in; headless hands it to the agent's argv or stdin).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid as uuid_mod
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import load
from tests.agents_e2e.bed import Bed, make_bed

BIG_LINES = 3200
"""About 100 KB: each line is some 32 bytes."""


Sample = tuple[float, float, float, float]
"""wall, model, to model (CLI start → request at the fake model), after model (last byte → CLI exit)."""


def send_once(bed: Bed, uuid: str, big: bool = False) -> Sample:
    word = f"bench-{uuid_mod.uuid4().hex[:8]}"
    text = "".join(f"line {i:05d} of {word} message\n" for i in range(BIG_LINES)) if big else word
    start, epoch = time.perf_counter(), time.time()
    run = bed.alpha.sesh("send", uuid, "-" if big else word, cwd=bed.cwd, env=bed.env, timeout=300,
                         stdin=text if big else None)
    wall = time.perf_counter() - start
    ended = epoch + wall
    last = text.strip().splitlines()[-1]
    if run.code != 0 or last not in run.out:
        raise RuntimeError(f"send failed: exit {run.code}: {run.err}")
    calls = [r for r in bed.llm.requests() if r.user_text and word in r.user_text and r.last_byte_at]
    model = sum(r.last_byte_at - r.started_at for r in calls if r.last_byte_at is not None)
    first = min((r.started_at for r in calls), default=epoch)
    last = max((r.last_byte_at for r in calls if r.last_byte_at is not None), default=ended)
    return wall, model, first - epoch, ended - last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--agents", default="claude,codex,pi")
    parser.add_argument("--big-turns", type=int, default=3, help="100 KB sends per agent and path (0: none)")
    parser.add_argument("--paths", default="pane,headless", help="which paths to measure (pane, headless)")
    opts = parser.parse_args()
    print(f"sesh send overhead = wall - model reply time, p50 over {opts.turns} turns (load {load()})")
    for agent in opts.agents.split(","):
        with make_bed(with_remote=False) as bed:
            bed.tmux.new_session(["sleep", "86400"], bed.env, bed.cwd, name="keeper")
            target = f"{bed.tmux.socket_path}:work"
            made = bed.alpha.sesh("new", "--agent", agent, "--target", target, "--msg", "warm", "--json",
                                  cwd=bed.cwd, env=bed.env, timeout=120)
            if made.code != 0:
                raise RuntimeError(made.err)
            uuid = made.json()["uuid"]
            print(f"{agent:<6} cli floor (`sesh info`, full CLI round trip) p50 {cli_floor(bed, uuid) * 1000:5.0f} ms",
                  flush=True)
            for path in opts.paths.split(","):
                if path == "headless":
                    bed.alpha.sesh("stop", uuid, cwd=bed.cwd, env=bed.env)
                samples = [send_once(bed, uuid) for _ in range(opts.turns)]
                report(agent, path, samples)
                if opts.big_turns:
                    report(agent, f"{path}-100KB", [send_once(bed, uuid, big=True) for _ in range(opts.big_turns)])


def cli_floor(bed: Bed, uuid: str, runs: int = 5) -> float:
    """What any `sesh` command costs before the daemon does anything: start, import, one request."""
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        bed.alpha.sesh("info", uuid, cwd=bed.cwd, env=bed.env)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def report(agent: str, path: str, samples: list[Sample]) -> None:
    def p50(values: list[float]) -> float:
        return statistics.median(values) * 1000

    print(f"{agent:<6} {path:<14} overhead p50 {p50([s[0] - s[1] for s in samples]):7.0f} ms   "
          f"wall p50 {p50([s[0] for s in samples]):7.0f} ms   model p50 {p50([s[1] for s in samples]):5.0f} ms   "
          f"to model {p50([s[2] for s in samples]):5.0f} ms   after model {p50([s[3] for s in samples]):5.0f} ms",
          flush=True)


if __name__ == "__main__":
    main()
