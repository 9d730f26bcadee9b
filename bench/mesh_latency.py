"""Write on A, visible on C through B (a chain; A and C not linked): p50 and p99 over 200 writes.

Each write is a `register` on A's socket (it returns once committed); visibility is the moment
C's change feed (`subscribe`, pushed by the daemon) delivers the record, read in a thread.
Writes are spaced so each travels on its own rather than in one coalesced burst.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ms, pct
from tests.harness import uid
from tests.mesh.helpers import link, mesh_daemon, wait_converged, wait_linked

WAIT_S = 10.0
"""How long the last write may take to reach C before the run is declared broken."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=20.0, help="pause between writes")
    opts = parser.parse_args()
    a, b, c = mesh_daemon("alpha"), mesh_daemon("beta"), mesh_daemon("gamma")
    link(a, b)
    link(b, c)
    seen: dict[str, float] = {}
    done = threading.Event()
    try:
        for daemon in (a, b, c):
            daemon.start()
        wait_linked(b, "alpha", "gamma")
        wait_converged(a, b, c)

        def watch() -> None:
            for kind, item in c.client().stream("subscribe", {}):
                if kind != "item":
                    continue
                for record in item.get("changes", []):
                    seen.setdefault(record["uuid"], time.perf_counter())
                if len(seen) >= opts.writes:
                    done.set()
                    return

        threading.Thread(target=watch, name="gamma-feed", daemon=True).start()
        time.sleep(0.2)  # the feed is subscribed before the first write
        written: dict[str, float] = {}
        for n in range(opts.writes):
            uuid = uid(500_000 + n)
            written[uuid] = time.perf_counter()
            a.call("register", {"agent": "claude", "sessionId": uuid, "cwd": "/tmp", "name": f"w{n}"})
            time.sleep(opts.gap_ms / 1000)
        if not done.wait(WAIT_S):
            raise SystemExit(f"only {len(seen)} of {opts.writes} writes reached gamma")
        latencies = [seen[u] - t for u, t in written.items()]
        print(f"write on alpha → visible on gamma via beta, {opts.writes} writes, {opts.gap_ms:.0f} ms apart: "
              f"p50 {ms(pct(latencies, 0.5))}, p99 {ms(pct(latencies, 0.99))}, max {ms(max(latencies))}")
    finally:
        for daemon in (a, b, c):
            daemon.stop()
            shutil.rmtree(daemon.home, ignore_errors=True)


if __name__ == "__main__":
    main()
