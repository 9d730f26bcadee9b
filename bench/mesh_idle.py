"""Bytes on the wire per minute for an idle, fully linked three-daemon mesh.

Every directed link (six: each daemon dials both others; the mesh keeps one connection per
pair) goes through a counting TCP proxy, so the figure is websocket traffic (frames with their
headers, pings and pongs included), not counting TCP/IP headers and ACKs. After the mesh has
linked and caught up, the counters are reset and read again after the window; the per-minute
figure is extrapolated from the window (default 60 s, i.e. measured, not extrapolated).
Keepalive and the anti-entropy exchange run at their production defaults (`HEARTBEAT_S`,
`ANTI_ENTROPY_S`), never the tests' shortened ones; with a window of a whole number of
anti-entropy intervals every link's probes and vectors are counted once per interval.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sesh_mesh.daemon.mesh import HEARTBEAT_S
from sesh_mesh.daemon.mesh_link import ANTI_ENTROPY_S
from tests.harness import Daemon, free_port, uid
from tests.mesh.helpers import Proxy, add_peer, new_token, register, wait_converged, wait_linked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement window")
    parser.add_argument("--records", type=int, default=100, help="records per daemon before going idle")
    opts = parser.parse_args()
    daemons = [Daemon(name, listen=f"127.0.0.1:{free_port()}") for name in ("alpha", "beta", "gamma")]
    proxies: list[Proxy] = []
    tokens = {frozenset(pair): new_token() for pair in itertools.combinations([d.machine for d in daemons], 2)}
    try:
        for here, there in itertools.permutations(daemons, 2):
            assert there.port
            proxy = Proxy(there.port)
            proxies.append(proxy)
            add_peer(here, there.machine, proxy.url, tokens[frozenset((here.machine, there.machine))])
        for daemon in daemons:
            daemon.start()
        for index, daemon in enumerate(daemons):
            for n in range(opts.records):
                register(daemon, uid(index * 100_000 + n))
        for daemon in daemons:
            wait_linked(daemon, *(d.machine for d in daemons if d is not daemon))
        wait_converged(*daemons)
        time.sleep(1.0)  # let the last pushes and acknowledgements drain before counting
        for proxy in proxies:
            proxy.up = proxy.down = 0
        connections = sum(p.accepted for p in proxies)
        time.sleep(opts.seconds)
        total = sum(p.up + p.down for p in proxies)
        assert sum(p.accepted for p in proxies) == connections, "a link reconnected during the window"
        print(f"idle 3-daemon mesh ({3 * opts.records} records, keepalive every {HEARTBEAT_S:.0f}s, "
              f"anti-entropy every {ANTI_ENTROPY_S:.0f}s): "
              f"{total} bytes in {opts.seconds:.0f}s = {total * 60 / opts.seconds:.0f} bytes/min "
              f"(websocket layer, all three links together)")
    finally:
        for daemon in daemons:
            daemon.stop()
            shutil.rmtree(daemon.home, ignore_errors=True)
        for proxy in proxies:
            proxy.close()


if __name__ == "__main__":
    main()
