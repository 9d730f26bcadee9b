"""`sesh info <uuid> --json` and `sesh list --json` with 10,000 records, each beside its floor.

The floor is a bare `python3 -c` that sends one request over the Unix socket and reads the
reply, measured in the same run (interleaved with sesh's runs), so the ratio says what sesh's
own CLI costs. Both verbs take `cli.fast` (no argparse tree; the reply's bytes passed through).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, ms, seeded_daemon, time_command

FLOOR = (
    "import socket,json,sys;c=socket.socket(socket.AF_UNIX);c.connect(sys.argv[1]);"
    "c.sendall((json.dumps({'op':sys.argv[2],'args':json.loads(sys.argv[3])})+'\\n').encode());"
    "f=c.makefile('rb');sys.stdout.buffer.write(f.readline())"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    opts = parser.parse_args()
    daemon, ids = seeded_daemon(opts.records)
    try:
        env = daemon.env
        py = sys.executable
        target = ids[len(ids) // 2]
        cases = [
            ("info", [py, "-m", "sesh_mesh", "info", target, "--json"], f'{{"uuid":"{target}"}}'),
            ("list", [py, "-m", "sesh_mesh", "list", "--json"], "{}"),
        ]
        print(f"records: {opts.records}, runs: {opts.runs} (median wall time)")
        for name, argv, args in cases:
            # Interleaved, one of each in turn: on a shared machine the load drifts between blocks.
            floors: list[float] = []
            seshes: list[float] = []
            for _ in range(opts.runs):
                floors += time_command([py, "-c", FLOOR, str(daemon.socket), name, args], env, 1)
                seshes += time_command(argv, env, 1)
            floor, sesh = median(floors), median(seshes)
            print(f"sesh {name:<5} --json: {ms(sesh):>10}   floor: {ms(floor):>10}   ratio: {sesh / floor:.2f}x")
    finally:
        daemon.stop()
        shutil.rmtree(daemon.home, ignore_errors=True)


if __name__ == "__main__":
    main()
