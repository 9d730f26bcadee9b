"""The HTTP API's cost: `GET /sessions` at 10,000 records beside the Unix-socket `list` op and
`sesh list --json`, and `POST /sessions/{id}/message` overhead beside `sesh send` in the same run
(wall time minus the fake model's own reply time, alternating the two doors turn by turn).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid as uuid_mod
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import load
from bench.common import median, ms, pct, seed_legacy_file, time_call, time_command
from tests.agents_e2e.bed import Bed, make_bed
from tests.harness import Daemon
from tests.web.helpers import client, enable_http, token_of


def bench_list(count: int, runs: int) -> None:
    daemon = Daemon("bench")
    url = enable_http(daemon)
    daemon.start()
    try:
        legacy = daemon.home / "seed.json"
        seed_legacy_file(legacy, count, "bench")
        daemon.call("import", {"path": str(legacy)})
        with client(url, token_of(daemon)) as http:
            assert len(http.get("/sessions").json()) == count
            rows = [
                ("GET /sessions (httpx2, keep-alive, parsed)", time_call(lambda: http.get("/sessions").json(), runs)),
                ("list op on the Unix socket", time_call(lambda: daemon.call("list"), runs)),
                ("sesh list --json (CLI process)", time_command([sys.executable, "-m", "sesh_mesh", "list", "--json"],
                                                                daemon.env, max(3, runs // 4))),
            ]
        print(f"{count} records, {runs} runs (load {load()})")
        for name, times in rows:
            print(f"  {name:<44} p50 {ms(median(times)):>10}   p99 {ms(pct(times, 0.99)):>10}")
    finally:
        daemon.stop()


def model_time(bed: Bed, word: str) -> float:
    calls = [r for r in bed.llm.requests() if r.user_text and word in r.user_text and r.last_byte_at]
    return sum(r.last_byte_at - r.started_at for r in calls if r.last_byte_at is not None)


def bench_message(agent: str, turns: int) -> None:
    with make_bed(with_remote=False) as bed:
        bed.alpha.stop()
        url = enable_http(bed.alpha)
        bed.alpha.start()
        bed.keep_server_up()
        made = bed.alpha.sesh("new", "--agent", agent, "--target", f"{bed.tmux.socket_path}:work", "--msg", "warm",
                              "--json", cwd=bed.cwd, env=bed.env, timeout=120)
        if made.code != 0:
            raise RuntimeError(made.err)
        uuid = made.json()["uuid"]
        overhead: dict[str, list[float]] = {"http": [], "cli": []}
        with client(url, token_of(bed.alpha)) as http:
            for _ in range(turns):
                for door in ("http", "cli"):
                    word = f"bench-{uuid_mod.uuid4().hex[:8]}"
                    start = time.perf_counter()
                    if door == "http":
                        response = http.post(f"/sessions/{uuid}/message", json={"message": word})
                        ok = response.status_code == 200 and word in response.json()["response"]
                    else:
                        run = bed.alpha.sesh("send", uuid, word, cwd=bed.cwd, env=bed.env)
                        ok = run.code == 0 and word in run.out
                    wall = time.perf_counter() - start
                    if not ok:
                        detail = response.text if door == "http" else run.err + run.out
                        raise RuntimeError(f"{door} turn failed: {detail}")
                    overhead[door].append(wall - model_time(bed, word))
        print(f"{agent} pane turn overhead (wall - model), p50 over {turns} turns each (load {load()})")
        for door, name in (("http", "POST /sessions/{id}/message"), ("cli", "sesh send")):
            print(f"  {name:<30} p50 {ms(median(overhead[door])):>10}   max {ms(max(overhead[door])):>10}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--agent", default="claude")
    opts = parser.parse_args()
    bench_list(opts.records, opts.runs)
    if opts.turns:
        bench_message(opts.agent, opts.turns)


if __name__ == "__main__":
    main()
