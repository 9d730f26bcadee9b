"""Enter → the remote agent's screen, over a real sshd on loopback, beside a bare `ssh host true`.

The bed is tests/remote's: two real daemons, a real pi live in the owner's tmux, a real tmux
client on the entering machine. One sample is `sesh resume <uuid>` run as from the entering
machine's tmux, until the new local window's capture shows the agent's footer; then the window
is detached (not timed). The baseline is the same ssh client, options and target running
`true`, so the difference is what sesh adds (CLI start, the mesh `resume`, the batch-mode
preflight ssh, the window, the owner's attach and the first redraw). Needs root (sshd).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agents_common import load
from bench.common import median, ms, pct
from tests.polling import eventually
from tests.remote.bed import READY, RemoteBed, make_remote_bed


def enter_once(bed: RemoteBed, uuid: str, name: str, agent: str) -> float:
    start = time.perf_counter()
    run = bed.here_sesh("resume", uuid)
    if run.code != 0:
        raise RuntimeError(f"resume failed: {run.err}")
    pane = bed.windows_here()[name]

    def screen() -> bool:
        return READY[agent] in bed.here_tmux.capture(pane)

    eventually(screen, 30, interval=0.01, what="the remote agent's screen")
    elapsed = time.perf_counter() - start
    detach(bed, pane, name)
    return elapsed


def detach(bed: RemoteBed, pane: str, name: str) -> None:
    """C-b d, again every 2 s: keys that arrive while the remote tmux client still reads its
    terminal's answers to its start-up queries can be taken as part of those answers."""
    for _ in range(8):
        bed.here_tmux.run("send-keys", "-t", pane, "C-b", "d", check=False)
        try:
            eventually(lambda: name not in bed.windows_here(), 2, what="the window to close")
            return
        except AssertionError:
            continue
    raise RuntimeError("the entered window did not close on detach")


def ssh_true(bed: RemoteBed) -> float:
    argv = ["ssh", "-o", "BatchMode=yes", *bed.sshd.client_options(), "-p", str(bed.sshd.port), "root@127.0.0.1",
            "--", "true"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--agent", default="pi")
    parser.add_argument("--multiplex", action="store_true", help="[ssh] multiplex = true: one login per Enter")
    opts = parser.parse_args()
    try:
        with make_remote_bed() as bed:
            made = bed.new_owner_session(opts.agent, "bench warm up")
            if opts.multiplex:
                config = bed.here.home / "config.toml"
                config.write_text(config.read_text().replace("[ssh]\n", "[ssh]\nmultiplex = true\n"))
            enter_once(bed, made["uuid"], made["name"], opts.agent)  # warm the caches once
            enters, bare = [], []
            for _ in range(opts.runs):
                bare.append(ssh_true(bed))
                enters.append(enter_once(bed, made["uuid"], made["name"], opts.agent))
            for sock in (bed.here.home / "ssh").glob("*"):
                subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True,
                               timeout=10, check=False)
    except BaseException as exc:
        if type(exc).__name__ == "Skipped":
            raise SystemExit(f"skipped: {exc}") from None
        raise
    mode = "multiplexed ssh" if opts.multiplex else "two ssh logins"
    print(f"remote enter ({opts.agent}, loopback sshd, {mode}), {opts.runs} runs, load {load()}")
    print(f"  Enter → remote agent's screen  p50 {ms(median(enters))}  p90 {ms(pct(enters, 0.9))}")
    print(f"  bare `ssh host true`           p50 {ms(median(bare))}  p90 {ms(pct(bare, 0.9))}")


if __name__ == "__main__":
    main()
