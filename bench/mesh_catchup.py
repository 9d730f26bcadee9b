"""A fresh daemon catches up N records (default 10,000) from a peer: seconds and records per second.

The peer holds N records of its own (seeded by `sesh import`, one transaction). Each run starts
a new empty daemon, adds the peer with a live `peers-reload`, and times from that request until
the new daemon logs that it caught up (then checks that it holds all N records: waiting reads the
log, because a status poll would load the very loop it times). Bytes on the wire are counted
by a TCP proxy between them; the new daemon's CPU time comes from /proc.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import cpu_seconds, median
from tests.harness import Daemon
from tests.mesh.helpers import NOBODY, Proxy, add_peer, log_line, mesh_daemon, new_token, seed

POLL_S = 0.02
"""Log poll interval while waiting: small next to a catch-up of hundreds of milliseconds."""
CATCHUP_LIMIT_S = 600.0
"""A run that has not caught up by then is broken, not slow: fail instead of hanging."""


def holds(daemon: Daemon, count: int) -> bool:
    return int(daemon.call("status")["records"]) >= count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    source = mesh_daemon("source").start()
    assert source.port
    proxy = Proxy(source.port)
    try:
        started = time.perf_counter()
        seed(source, opts.records)
        print(f"seeded {opts.records} records on the source in {time.perf_counter() - started:.2f}s")
        times, wire, linked, cpu = [], [], [], []
        for run in range(opts.runs):
            fresh = mesh_daemon(f"fresh{run}", listen=False).start()
            token = new_token()
            try:
                add_peer(source, fresh.machine, NOBODY, token)
                proxy.up = proxy.down = 0
                assert fresh.process is not None
                cpu_before = cpu_seconds(fresh.process.pid)
                started = time.perf_counter()
                add_peer(fresh, "source", proxy.url, token)  # live reload: the clock starts here
                # Waiting reads the new daemon's log, not its status: a status poll walks every
                # record on the daemon's loop, and polling it every 20 ms slowed the catch-up it timed.
                line = log_line(fresh, "caught up with source in", CATCHUP_LIMIT_S, POLL_S)
                elapsed = time.perf_counter() - started
                cpu.append(cpu_seconds(fresh.process.pid) - cpu_before)
                if not holds(fresh, opts.records):
                    raise SystemExit(f"{fresh.machine} logged its catch-up but holds fewer than {opts.records} records")
                times.append(elapsed)
                wire.append(proxy.up + proxy.down)
                own = float(line.rsplit(" in ", 1)[1].rstrip("s"))
                linked.append(own)
                print(f"run {run + 1}: {elapsed:.3f}s ({own:.2f}s from the link's opening, "
                      f"{cpu[-1]:.2f} CPU s in the new daemon), "
                      f"{opts.records / elapsed:,.0f} records/s, "
                      f"{(proxy.up + proxy.down) / 1e6:.2f} MB on the wire")
            finally:
                fresh.stop()
                shutil.rmtree(fresh.home, ignore_errors=True)
        best = median(times)
        print(f"catch-up of {opts.records} records: median {best:.3f}s = {opts.records / best:,.0f} records/s, "
              f"{median(wire) / opts.records:.0f} bytes/record on the wire (compressed); "
              f"from the link's opening (the daemon's own log) median {median(linked):.2f}s; "
              f"the new daemon's CPU median {median(cpu):.2f}s")
    finally:
        proxy.close()
        source.stop()
        shutil.rmtree(source.home, ignore_errors=True)


if __name__ == "__main__":
    main()
