"""`sesh resume <uuid> --attach`: the owner's half of entering a session from another machine.

Run over ssh by the entering machine (`cli/remote_enter.py`), so the client never knows this
machine's tmux layout. It attaches this terminal to the session's pane through a session of its
own, grouped with the pane's session: the owner user's clients keep their current window, and
the grouped session is destroyed when this client detaches (docs/remote-enter.md).
`--check` verifies everything but the terminal and prints JSON, for the client's preflight.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from typing import Any

from sesh_mesh.cli.context import Context
from sesh_mesh.errors import SeshError
from sesh_mesh.store.record import Record

TMUX_TIMEOUT_S = 10.0
GROUP_PREFIX = "sesh-enter-"
"""The owner's tmux shows these sessions while someone from another machine is attached."""


def attach_here(ctx: Context, uuid: str, *, check_only: bool) -> int:
    here = str(ctx.call("ping").get("machine"))
    record: Record = ctx.call("info", {"uuid": uuid})
    short = str(record["uuid"])[:8]
    if record.get("deleted"):
        raise SeshError(f"session {short} is deleted", "nothing to attach to")
    if record.get("machine") != here:
        raise SeshError(f"session {short} runs on {record.get('machine')!r}, not on {here!r}",
                        f"ssh to {record.get('machine')} instead")
    tmux_bin = shutil.which("tmux")
    if tmux_bin is None:
        raise SeshError(f"tmux is not installed on {here}", f"install tmux on {here} (e.g. apt install tmux)")
    if not check_only and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise SeshError("no terminal to attach", "run it with a terminal: ssh -t HOST sesh resume UUID --attach")
    if not record.get("live"):
        placed = ctx.call("resume", {"uuid": record["uuid"], "target": getattr(ctx.args, "target", None)})
        record = {**record, "live": True, "tmux": placed["tmux"]}
    location = record.get("tmux") or {}
    socket, pane = str(location.get("socket") or ""), str(location.get("pane") or "")
    if not socket or not pane:
        raise SeshError(f"session {short} is live but in no tmux pane on {here}", f"see `sesh info {short}` there")
    ids = _tmux(tmux_bin, socket, "display-message", "-p", "-t", pane, "#{session_id}\t#{window_id}")
    session_id, _, window_id = ids.strip().partition("\t")
    if not session_id or not window_id:
        raise SeshError(f"pane {pane} of session {short} is gone on {here}", f"see `sesh info {short}` there")
    if check_only:
        _print({"uuid": record["uuid"], "machine": here, "tmux": location, "session": session_id,
                "window": window_id, "tmuxBin": tmux_bin})
        return 0
    group = f"{GROUP_PREFIX}{short}-{os.getpid()}"
    # One tmux command line: the grouped session exists only while this client is attached
    # (destroy-unattached), and only its own current window moves to the pane.
    argv = [tmux_bin, "-S", socket, "new-session", "-t", session_id, "-s", group, ";",
            "set-option", "destroy-unattached", "on", ";",
            "select-window", "-t", f"={group}:{window_id}", ";",
            "select-pane", "-t", pane]
    env = {key: value for key, value in os.environ.items() if key not in ("TMUX", "TMUX_PANE")}
    sys.stdout.flush()
    os.execve(tmux_bin, argv, env)


def _tmux(tmux_bin: str, socket: str, *args: str) -> str:
    try:
        done = subprocess.run([tmux_bin, "-S", socket, *args], capture_output=True, text=True,
                              timeout=TMUX_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SeshError(f"cannot run tmux: {exc}", "check the tmux install") from exc
    if done.returncode != 0:
        raise SeshError(f"tmux on {socket}: {done.stderr.strip() or done.returncode}",
                        "the pane may have closed; try again")
    return done.stdout


def _print(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document) + "\n")
