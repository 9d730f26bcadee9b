"""The owner's `sesh` of a remote enter, hung up while its tmux client runs: it kills the grouped
session at once, without waiting for the client to notice, and reaps the client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.polling import eventually

REPO = Path(__file__).resolve().parents[2]


def test_a_hangup_kills_the_group_at_once_and_reaps_the_client(tmp_path: Path) -> None:
    calls = tmp_path / "tmux-calls"
    fake_tmux = tmp_path / "tmux"
    fake_tmux.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")
    fake_tmux.chmod(0o755)
    script = textwrap.dedent(f"""
        import sys
        from sesh_mesh.cli import attach
        attach.TMUX_TIMEOUT_S = 1.0  # the stand-in client (sleep) does not end with its session
        code = attach._attach_then_kill({str(fake_tmux)!r}, "sock", "sesh-enter-x-1",
                                        ["sleep", "60"], {{}})
        print(code, flush=True)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        def client() -> int | None:
            found = subprocess.run(["pgrep", "-P", str(owner.pid), "sleep"], capture_output=True, text=True,
                                   check=False).stdout.split()
            return int(found[0]) if found else None

        sleeper = eventually(client, 20, what="the stand-in client to start")
        hung_up = time.monotonic()
        owner.send_signal(signal.SIGHUP)
        out, _ = owner.communicate(timeout=20)
        assert time.monotonic() - hung_up < 10, "the owner waited for the client after the hangup"
        assert out.strip() == str(128 + signal.SIGHUP)
        assert "kill-session -t =sesh-enter-x-1" in calls.read_text()
        assert not Path(f"/proc/{sleeper}").exists(), "the client was left running"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
