"""How finely a headless turn streams over `POST /sessions/{id}/message/stream`: for a reply the
fake model spreads over SLEEP seconds, the delay from the request to the first `text_delta`, the
number of text deltas, and the delay from the model's last byte to `done` (what the door adds
after the agent is finished: its exit, the transcript read, the summary). Local (alpha's own
API) and remote (beta's API for a session alpha owns, through the mesh's forward-stream).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid as uuid_mod
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import load
from bench.common import median, ms
from tests.agents_e2e.bed import make_bed
from tests.mesh.helpers import wait_linked
from tests.web.helpers import client, enable_http, sse_events, token_of


def one_turn(http: Any, uuid: str, message: str) -> tuple[float, int, float]:
    start = time.time()
    first: float | None = None
    deltas = 0
    for name, data in sse_events(http, "POST", f"/sessions/{uuid}/message/stream", json={"message": message}):
        if name == "text_delta":
            deltas += 1
            first = first if first is not None else time.time()
        if name == "error":
            raise RuntimeError(f"stream failed: {data}")
    assert first is not None
    return first - start, deltas, time.time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--sleep", type=float, default=2.0)
    parser.add_argument("--agents", default="claude,pi,codex")
    opts = parser.parse_args()
    with make_bed() as bed:
        assert bed.beta is not None
        urls = {}
        for where, daemon in (("local", bed.alpha), ("remote", bed.beta)):
            daemon.stop()
            urls[where] = enable_http(daemon)
            daemon.start()
        wait_linked(bed.alpha, "beta")
        wait_linked(bed.beta, "alpha")
        print(f"headless stream, reply spread over SLEEP {opts.sleep:g} s, {opts.turns} turns per cell (load {load()})")
        for agent in opts.agents.split(","):
            for where, daemon in (("local", bed.alpha), ("remote", bed.beta)):
                with client(urls[where], token_of(daemon)) as http:
                    made = http.post("/sessions", json={"agent": agent, "work_dir": str(bed.cwd), "headless": True,
                                                        "message": "warm", "machine": "alpha"})
                    if made.status_code != 201:
                        raise RuntimeError(made.text)
                    uuid = made.json()["uuid"]
                    firsts, counts, tails = [], [], []
                    for _ in range(opts.turns):
                        word = f"bench-{uuid_mod.uuid4().hex[:8]}"
                        first, count, done_at = one_turn(http, uuid, f"{word} SLEEP {opts.sleep:g}")
                        calls = [r for r in bed.llm.requests() if r.user_text and word in r.user_text]
                        last_byte = max(r.last_byte_at or 0.0 for r in calls)
                        firsts.append(first)
                        counts.append(count)
                        tails.append(done_at - last_byte)
                print(f"  {agent:<7} {where:<7} first text_delta p50 {ms(median(firsts)):>10}   "
                      f"text deltas p50 {median(counts):>4.0f}   model's last byte → done p50 {ms(median(tails)):>10}")


if __name__ == "__main__":
    main()
