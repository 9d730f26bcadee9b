"""Delay from an agent finishing a turn to a `turn-ended` command hook running, per agent.

Each agent (claude, codex, pi: the real CLIs) runs in a private tmux pane against the fake model
server, registered with a real daemon whose config.toml has one `[[hooks]]` on turn-ended: a
bash command that appends `$EPOCHREALTIME` (bash's own clock read, no extra process) and the
event's reply. For every turn a short prompt is typed; the fake server logs when it sent the
last byte of the reply (`last_byte_at`, time.time()). Delay = the hook's clock - last_byte_at:
the daemon noticing the end (watcher), writing the record, deriving the event, and spawning the
hook. Also shown: the part until the daemon stamped the event (its `time`). docs/events.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid as uuid_mod
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import agent_bed, load, start_and_register
from bench.common import median, ms, pct
from tests.fake_llm import LoggedRequest

TURN_TIMEOUT_S = 60.0
HOOK_TIMEOUT_S = 15.0
"""A turn whose hook has not run this long after the reply counts as missed."""

HOOK = ('printf "%s\\t%s\\t%s\\n" "$EPOCHREALTIME" "$SESH_EVENT_TIME" "$SESH_EVENT_TEXT" >> "$1"')


def is_turn(marker: str, request: LoggedRequest) -> bool:
    return request.kind == "turn" and marker in (request.user_text or "")


def hook_line(out: Path, reply: str) -> tuple[float, float] | None:
    """(the hook's clock, the event's time) for the turn-ended whose reply is `reply`."""
    if not out.exists():
        return None
    for line in out.read_text().splitlines():
        ran, seen, text = line.split("\t", 2)
        if text == reply:
            return float(ran), datetime.fromisoformat(seen).timestamp()
    return None


def run_agent(agent: str, turns: int, gap: float) -> dict[str, Any]:
    delays: list[float] = []
    to_event: list[float] = []
    missed: list[str] = []
    with agent_bed() as bed:
        out = bed.root / "hook.tsv"
        (bed.alpha.home / "config.toml").write_text(
            f'[[hooks]]\non = "turn-ended"\ncommand = ["bash", "-c", {json.dumps(HOOK)}, "hook", "{out}"]\n')
        pane, _ = start_and_register(bed, agent)
        time.sleep(1.0)  # let the first exchange's writes settle
        for n in range(turns):
            marker = f"hook{n}-{uuid_mod.uuid4().hex[:6]}"
            bed.send(pane, marker)
            request = bed.llm.wait_for_request(partial(is_turn, marker), timeout=TURN_TIMEOUT_S, finished=True)
            assert request.last_byte_at is not None
            deadline = time.monotonic() + HOOK_TIMEOUT_S
            found = None
            while found is None and time.monotonic() < deadline:
                found = hook_line(out, f"ECHO: {marker}")
                if found is None:
                    time.sleep(0.01)
            if found is None:
                missed.append(marker)
            else:
                delays.append(found[0] - request.last_byte_at)
                to_event.append(found[1] - request.last_byte_at)
            bed.tmux.wait_for_text(pane, f"ECHO: {marker}", timeout=TURN_TIMEOUT_S)
            time.sleep(gap)
    return {"delays": delays, "to_event": to_event, "missed": missed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between a turn's end and the next prompt")
    parser.add_argument("--agents", default="claude,codex,pi")
    opts = parser.parse_args()
    print(f"turn end (fake server's last byte) -> turn-ended command hook running, {opts.turns} turns per agent "
          f"(load average {load()})")
    for agent in opts.agents.split(","):
        result = run_agent(agent, opts.turns, opts.gap)
        delays: list[float] = result["delays"]
        if not delays:
            print(f"  {agent:<6} no hook run observed ({len(result['missed'])} missed)")
            continue
        seen: list[float] = result["to_event"]
        print(f"  {agent:<6} hook: p50 {ms(median(delays)):>9}  p99 {ms(pct(delays, 0.99)):>9}  "
              f"max {ms(max(delays)):>9}   event stamped: p50 {ms(median(seen)):>9}  p99 {ms(pct(seen, 0.99)):>9}  "
              f"n={len(delays)} missed={len(result['missed'])}")


if __name__ == "__main__":
    main()
