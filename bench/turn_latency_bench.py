"""Delay from an agent finishing a turn to `turnStatus: idle` in the daemon's store, per agent.

Each agent (claude, codex, pi: the real CLIs) runs in a private tmux pane against the fake model
server, registered with the daemon. For every turn a short prompt is typed; the fake server logs
when it sent the last byte of the reply (`last_byte_at`, time.time()). The daemon's change feed
(`subscribe`, no snapshot) is read in a thread and every change stamped with time.time() on
arrival. The turn's idle is the first change of the session stamped after the request started
whose turnStatus is idle and whose lastActivity is not older than the request, so a write made
from the user's message alone (before the reply) never counts. Delay = that stamp - last_byte_at.
Goal: p99 ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import uuid as uuid_mod
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import Feed, agent_bed, load, start_and_register
from bench.common import median, ms, pct
from tests.fake_llm import LoggedRequest

GOAL_S = 0.5
TURN_TIMEOUT_S = 60.0
IDLE_TIMEOUT_S = 10.0
"""A turn whose idle has not reached the store this long after the reply counts as missed."""
TS_SLACK_S = 0.002
"""lastActivity has millisecond resolution."""


def epoch(iso: Any) -> float:
    if not isinstance(iso, str) or not iso:
        return 0.0
    return datetime.fromisoformat(iso).timestamp()


def is_turn(marker: str, request: LoggedRequest) -> bool:
    return request.kind == "turn" and marker in (request.user_text or "")


def reflects_reply(started: float, record: dict[str, Any]) -> bool:
    return record.get("turnStatus") == "idle" and epoch(record.get("lastActivity")) >= started - TS_SLACK_S


def run_agent(agent: str, turns: int, gap: float) -> dict[str, Any]:
    delays: list[float] = []
    sources: collections.Counter[str] = collections.Counter()
    busy_seen = 0
    missed: list[str] = []
    with agent_bed() as bed:
        pane, uuid = start_and_register(bed, agent)
        time.sleep(1.0)  # let the first exchange's writes settle
        feed = Feed(bed.alpha).start()
        for n in range(turns):
            marker = f"lat{n}-{uuid_mod.uuid4().hex[:6]}"
            sent = time.time()
            bed.send(pane, marker)
            request = bed.llm.wait_for_request(partial(is_turn, marker), timeout=TURN_TIMEOUT_S, finished=True)
            assert request.last_byte_at is not None
            started = request.started_at
            found = feed.wait_for(uuid, started, partial(reflects_reply, started), IDLE_TIMEOUT_S)
            if found is None:
                missed.append(marker)
                continue
            stamp, record = found
            delays.append(stamp - request.last_byte_at)
            sources[str(record.get("stateSource"))] += 1
            if any(r.get("turnStatus") == "busy" for s, r in feed.since(uuid, sent) if s <= stamp):
                busy_seen += 1
            bed.tmux.wait_for_text(pane, f"ECHO: {marker}", timeout=TURN_TIMEOUT_S)
            time.sleep(gap)
    return {"delays": delays, "sources": sources, "busy_seen": busy_seen, "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between a turn's idle and the next prompt")
    parser.add_argument("--agents", default="claude,codex,pi")
    opts = parser.parse_args()
    print(f"turn end (fake server's last byte) -> turnStatus idle in the store, {opts.turns} turns per agent "
          f"(load average {load()})")
    worst = 0.0
    for agent in opts.agents.split(","):
        result = run_agent(agent, opts.turns, opts.gap)
        delays: list[float] = result["delays"]
        if not delays:
            print(f"  {agent:<6} no idle observed ({len(result['missed'])} missed)")
            worst = float("inf")
            continue
        p99 = pct(delays, 0.99)
        worst = max(worst, p99, float("inf") if result["missed"] else 0.0)
        sources = ", ".join(f"{k} x{v}" for k, v in result["sources"].most_common())
        print(f"  {agent:<6} p50 {ms(median(delays)):>9}  p99 {ms(p99):>9}  min {ms(min(delays)):>9}  "
              f"max {ms(max(delays)):>9}  n={len(delays)} missed={len(result['missed'])}  "
              f"busy seen in {result['busy_seen']}/{len(delays)}  stateSource: {sources}")
    print(f"  goal: p99 ≤ {GOAL_S * 1000:.0f} ms for every agent -> {'met' if worst <= GOAL_S else 'MISSED'}")


if __name__ == "__main__":
    main()
