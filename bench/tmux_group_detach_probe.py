"""Does this tmux survive grouped sessions detaching while other clients come and go?

Why `sesh resume --attach` kills its grouped session itself instead of setting tmux's
`destroy-unattached` (docs/remote-enter.md): tmux before 3.7 destroys such a session while a
detaching client still points at it when any other client ends in that moment, and the server
segfaults. This attaches a grouped session from a pseudo-terminal and detaches it, N times,
while three loops run `list-sessions` (as a daemon's scans do), once each way:

    python -m bench.tmux_group_detach_probe [--rounds 60]

prints per mode whether the server was still up and after how many rounds it went.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pty
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def probe(mode: str, rounds: int, root: Path) -> str:
    tmux = ["tmux", "-f", "/dev/null", "-S", str(root / f"probe-{mode}")]
    subprocess.run([*tmux, "new-session", "-d", "-s", "user", "sleep", "9999"], check=True, timeout=10)
    subprocess.run([*tmux, "new-window", "-d", "-t", "user:", "sleep", "9999"], check=True, timeout=10)
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            subprocess.run([*tmux, "list-sessions"], capture_output=True, timeout=10, check=False)

    for _ in range(3):
        threading.Thread(target=hammer, daemon=True).start()
    gone_at = 0
    try:
        for n in range(1, rounds + 1):
            sid = subprocess.run([*tmux, "display-message", "-p", "-t", "user", "#{session_id}"],
                                 capture_output=True, text=True, timeout=10, check=False).stdout.strip()
            if not sid:
                gone_at = n
                break
            group = f"g{n}"
            argv = [*tmux, "new-session", "-t", sid, "-s", group]
            if mode == "destroy-unattached":
                argv += [";", "set-option", "destroy-unattached", "on"]
            master, slave = pty.openpty()
            client = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                      env={**os.environ, "TERM": "xterm"}, start_new_session=True)
            os.close(slave)
            threading.Thread(target=_drain, args=(master,), daemon=True).start()
            time.sleep(0.3)
            subprocess.run([*tmux, "detach-client", "-s", group], capture_output=True, timeout=10, check=False)
            client.wait(10)
            if mode == "kill-after":
                subprocess.run([*tmux, "kill-session", "-t", f"={group}"], capture_output=True, timeout=10,
                               check=False)
            os.close(master)
    finally:
        stop.set()
        alive = subprocess.run([*tmux, "list-sessions"], capture_output=True, timeout=10, check=False).returncode == 0
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=10, check=False)
    if alive and not gone_at:
        return f"{mode}: server up after {rounds} rounds"
    return f"{mode}: server GONE at round {gone_at or rounds}"


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 65536):
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    version = subprocess.run(["tmux", "-V"], capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    print(version)
    with tempfile.TemporaryDirectory(prefix="tgp") as tmp:
        for mode in ("destroy-unattached", "kill-after"):
            print(probe(mode, args.rounds, Path(tmp)))


if __name__ == "__main__":
    main()
