"""Daemon CPU while N idle agent panes are watched (default 10 claude + 10 codex + 10 pi, 60 s).

Every agent is a real CLI in its own window of one private tmux server (the agent test bed),
has one exchange with the fake model server, and is registered, so the daemon watches its
process, pane and transcript. Once every session is idle and live, the daemon's utime+stime
(/proc/<pid>/stat) is read across the window and shown as % of one core. Shown beside it: the
daemon's reaped children (the tmux client commands it runs: cutime+cstime), the tmux server
(which answers those commands), and how many record changes the daemon published meanwhile
(an idle fleet should publish none). Goal: the daemon ≤ 1% of a core.

claude is a large native binary: before each start the free memory is checked against the
largest agent seen so far, and the count is lowered (and said so) when the machine can't hold it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import Bed, Feed, agent_bed, load, start_and_register
from tests.polling import eventually

GOAL_PCT = 1.0
RESERVE_BYTES = 3 << 30
"""Memory left free for the daemon, tmux and the system when deciding whether one more agent fits."""
TICKS = os.sysconf("SC_CLK_TCK")


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(utime+stime, cutime+cstime) of `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / TICKS, (cutime + cstime) / TICKS


def tree_rss(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in bytes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
        rss[int(entry.name)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo += children.get(current, [])
    return total


def all_idle(bed: Bed, uuids: list[str]) -> list[dict[str, Any]] | None:
    records = {r["uuid"]: r for r in bed.alpha.call("list", {})}
    mine = [records.get(u) or {} for u in uuids]
    ok = all(r.get("turnStatus") == "idle" and r.get("live") is True for r in mine)
    return mine if ok else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-agent", type=int, default=10, help="panes of each of claude, codex, pi")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0, help="quiet seconds after all are idle")
    opts = parser.parse_args()
    wanted = [agent for _ in range(opts.per_agent) for agent in ("claude", "codex", "pi")]
    print(f"memory available at start: {mem_available() / 2**30:.1f} GiB; cores: {os.cpu_count()}")
    with agent_bed() as bed:
        uuids: list[str] = []
        started: dict[str, int] = {"claude": 0, "codex": 0, "pi": 0}
        biggest = 0
        lowered = ""
        begin = time.monotonic()
        for agent in wanted:
            if mem_available() - biggest < RESERVE_BYTES:
                lowered = (f"LOWERED: memory ran short after {len(uuids)} of {len(wanted)} agents "
                           f"({mem_available() / 2**30:.1f} GiB free, largest agent {biggest / 2**20:.0f} MiB)")
                break
            pane, uuid = start_and_register(bed, agent)
            uuids.append(uuid)
            started[agent] += 1
            biggest = max(biggest, tree_rss(bed.tmux.pane_pid(pane)))
        print(f"started and registered {len(uuids)} agents ({', '.join(f'{k} {v}' for k, v in started.items())}) "
              f"in {time.monotonic() - begin:.0f} s; largest agent tree {biggest / 2**20:.0f} MiB; "
              f"memory available now {mem_available() / 2**30:.1f} GiB")
        if lowered:
            print(lowered)
        eventually(lambda: all_idle(bed, uuids), timeout=120, interval=0.5, what="every agent idle and live")
        time.sleep(opts.settle)
        records = all_idle(bed, uuids)
        assert records is not None, "an agent left idle during the settle time"
        sources: dict[str, int] = {}
        for record in records:
            sources[str(record.get("stateSource"))] = sources.get(str(record.get("stateSource")), 0) + 1
        assert bed.alpha.process is not None
        daemon_pid = bed.alpha.process.pid
        tmux_pid = int(bed.tmux.run("display-message", "-p", "-t", "keeper", "#{pid}").strip())
        feed = Feed(bed.alpha).start()
        load_before = load()
        wall0 = time.monotonic()
        own0, kids0 = cpu_seconds(daemon_pid)
        tmux0, _ = cpu_seconds(tmux_pid)
        time.sleep(opts.seconds)
        own1, kids1 = cpu_seconds(daemon_pid)
        tmux1, _ = cpu_seconds(tmux_pid)
        wall = time.monotonic() - wall0
        load_after = load()
        changes = feed.count()
        still_idle = all_idle(bed, uuids) is not None
        daemon_rss = tree_rss(daemon_pid)
    own = 100 * (own1 - own0) / wall
    kids = 100 * (kids1 - kids0) / wall
    tmux = 100 * (tmux1 - tmux0) / wall
    print(f"idle window {wall:.1f} s, {len(uuids)} registered idle panes (stateSource: "
          f"{', '.join(f'{k} x{v}' for k, v in sorted(sources.items()))}); still all idle after: {still_idle}")
    print(f"  machine load average before/after: {load_before} / {load_after}")
    print(f"  daemon utime+stime:                      {own:6.2f}% of one core (rss {daemon_rss / 2**20:.0f} MiB)")
    print(f"  daemon's tmux commands (cutime+cstime):  {kids:6.2f}%")
    print(f"  tmux server:                             {tmux:6.2f}%")
    print(f"  record changes published during the window: {changes}")
    print(f"  goal: daemon ≤ {GOAL_PCT}% of a core -> {'met' if own <= GOAL_PCT else 'MISSED'} ({own:.2f}%)"
          + (" [count lowered, see above]" if lowered else ""))


if __name__ == "__main__":
    main()
