"""`sesh tui` with 10,000 sessions: launch to first frame, one filter keystroke, RSS.

Measured end to end in a real terminal (a tmux pane on a private server, read with
capture-pane, so each figure includes a ~5 ms polling step), beside `sesh list --json` in the
same run. A headless section times the filter's own work per keystroke (score, rank, render the
visible lines) without the terminal round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, ms, pct, seeded_daemon, time_command
from tests.harness import Daemon
from tests.polling import eventually
from tests.tmux_helpers import PrivateTmux
from tests.tui.helpers import make_app, quiet, until

POLL_S = 0.005
QUERY = "session-12"


def wait_pane(tmux: PrivateTmux, pane: str, needle: str, timeout: float = 30.0) -> float:
    """Seconds until `needle` shows in the pane."""
    start = time.perf_counter()
    try:
        eventually(lambda: needle in tmux.capture(pane), timeout, interval=POLL_S, what=f"{needle!r} in the pane")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; pane:\n{tmux.capture(pane)}") from None
    return time.perf_counter() - start


def rss_kib(pane_pid: int) -> int:
    """VmRSS of the pane's python child (the TUI process)."""
    children = Path(f"/proc/{pane_pid}/task/{pane_pid}/children").read_text().split()
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def terminal_run(daemon: Daemon) -> tuple[float, list[float], int]:
    """One launch: first frame (s), per-keystroke re-render times (s), RSS (KiB)."""
    with PrivateTmux() as tmux:
        env = {**daemon.env, "TERM": "xterm-256color"}
        argv = ["sh", "-c", f"{shlex.quote(sys.executable)} -m sesh_mesh tui; sleep 600"]
        start = time.perf_counter()
        pane = tmux.new_session(argv, env, daemon.home, width=160, height=50)
        wait_pane(tmux, pane, "session-", timeout=60)
        first_frame = time.perf_counter() - start
        tmux.run("send-keys", "-t", pane, "/")
        keys = []
        typed = ""
        for char in QUERY:
            typed += char
            tmux.run("send-keys", "-t", pane, "-l", char)
            keys.append(wait_pane(tmux, pane, f"filter: {typed} "))
        rss = rss_kib(tmux.pane_pid(pane))
        tmux.run("send-keys", "-t", pane, "Escape", "q")
        return first_frame, keys, rss


async def headless(daemon: Daemon) -> tuple[float, list[tuple[str, float, int]]]:
    app = make_app(daemon)
    start = time.perf_counter()
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.loaded, within=60)
        loaded = time.perf_counter() - start
        steps = []
        query = ""
        for char in [*QUERY, "\b", "\b", "4", "\b", "\b", " ", "p"]:
            query = query[:-1] if char == "\b" else query + char
            began = time.perf_counter()
            app.rowset.set_query(query)
            app.table.rows_changed(remeasure=False)
            for y in range(app.table.size.height):
                app.table.render_line(y)
            steps.append((query, time.perf_counter() - began, len(app.rowset.visible)))
        return loaded, steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    opts = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tui_bench: needs tmux")
    daemon, _ = seeded_daemon(opts.records)
    try:
        quiet(daemon, settle=1.0, timeout=300)  # the daemon re-derives every imported record's state
        env = daemon.env
        list_times = time_command([sys.executable, "-m", "sesh_mesh", "list", "--json"], env, opts.runs)
        runs = [terminal_run(daemon) for _ in range(opts.runs)]
        frames = [run[0] for run in runs]
        keys = [key for run in runs for key in run[1]]
        rss = [run[2] for run in runs]
        print(f"records: {opts.records}, runs: {opts.runs} (medians; terminal figures include ~{POLL_S * 1000:.0f} ms "
              "capture-pane polling)")
        print(f"sesh list --json:              {ms(median(list_times)):>10}")
        print(f"sesh tui, launch to first frame: {ms(median(frames)):>8}   (min {ms(min(frames))}, "
              f"max {ms(max(frames))}; ratio to list --json {median(frames) / median(list_times):.2f}x)")
        print(f"filter keystroke to re-render: {ms(median(keys)):>10}   (p90 {ms(pct(keys, 0.9))}, "
              f"max {ms(max(keys))}, {len(keys)} keys typing {QUERY!r}); per key, median over runs:")
        typed = ""
        for place, char in enumerate(QUERY):  # the same key across runs: which keys cost most
            typed += char
            print(f"  {typed!r:<16} {ms(median([run[1][place] for run in runs])):>9}")
        print(f"RSS of the TUI process:        {median(rss) / 1024:>7.1f} MiB")
        loaded, steps = asyncio.run(headless(daemon))
        print(f"headless: snapshot applied {ms(loaded)} after app start; per keystroke (score+rank+render):")
        for query, seconds, shown in steps:
            print(f"  {query!r:<16} {ms(seconds):>9}  {shown:>6} rows")
    finally:
        daemon.stop()
        shutil.rmtree(daemon.home, ignore_errors=True)


if __name__ == "__main__":
    main()
