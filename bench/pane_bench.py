"""`sesh pane` (the tmux status-bar fast path) beside a bare interpreter floor, same daemon, same run.

The pane belongs to a real agent (claude by default) started in a private tmux server by the
agent test bed and registered with `sesh register`, so the daemon answers from its pane-owner map
exactly as it would for a status line. The floor is `python -I -S` sending one line over the
daemon's Unix socket and reading the reply: what any client must pay. Runs are interleaved
(floor, sesh, not-registered, --json) so drift hits all of them alike. Goal: sesh ≤ 1.5x floor.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import agent_bed, start_and_register
from bench.common import median, ms, pct

VENV_BIN = Path(sys.executable).parent
FLOOR = 'import _socket as s;c=s.socket(s.AF_UNIX);c.connect({path!r});c.sendall(b"{{}}\\n");c.recv(4096)'
GOAL = 1.5


def timed(argv: list[str], env: dict[str, str], want_code: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, check=False, timeout=10)
    took = time.perf_counter() - start
    if proc.returncode != want_code:
        raise SystemExit(f"{argv} exited {proc.returncode}, wanted {want_code}: {proc.stderr.decode()!r}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--agent", default="claude", choices=("claude", "codex", "pi"))
    opts = parser.parse_args()
    with agent_bed() as bed:
        pane, _uuid = start_and_register(bed, opts.agent)
        socket_path = str(bed.tmux.socket_path)
        keeper = bed.tmux.run("list-panes", "-t", "keeper", "-F", "#{pane_id}").split()[0]
        env = bed.alpha.env
        sesh = str(VENV_BIN / "sesh")
        cases: list[tuple[str, list[str], int]] = [
            ("floor (python -I -S, _socket)",
             [str(VENV_BIN / "python"), "-I", "-S", "-c", FLOOR.format(path=str(bed.alpha.socket))], 0),
            ("sesh pane (registered)", [sesh, "pane", "--pane", pane, "--socket-path", socket_path], 0),
            ("sesh pane --json", [sesh, "pane", "--pane", pane, "--socket-path", socket_path, "--json"], 0),
            ("sesh pane (not registered, exit 3)", [sesh, "pane", "--pane", keeper, "--socket-path", socket_path], 3),
        ]
        shown = subprocess.run(cases[1][1], env=env, capture_output=True, text=True, check=False, timeout=10)
        times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        for _ in range(3):  # warm the page cache and the daemon's connection path
            for _name, argv, code in cases:
                timed(argv, env, code)
        for _ in range(opts.runs):
            for name, argv, code in cases:
                times[name].append(timed(argv, env, code))
    floor_med, floor_p90 = median(times[cases[0][0]]), pct(times[cases[0][0]], 0.9)
    print(f"sesh pane: {opts.agent} pane {pane}, {opts.runs} interleaved runs each; prints {shown.stdout.strip()!r}")
    for name, _argv, _code in cases:
        med, p90 = median(times[name]), pct(times[name], 0.9)
        print(f"  {name:<36} median {ms(med):>9}  p90 {ms(p90):>9}   ratio to floor: "
              f"median {med / floor_med:.2f}x  p90 {p90 / floor_p90:.2f}x")
    ratio = median(times[cases[1][0]]) / floor_med
    print(f"  goal: registered median ≤ {GOAL}x floor -> {'met' if ratio <= GOAL else 'MISSED'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
