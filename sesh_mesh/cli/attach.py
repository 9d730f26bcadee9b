"""`sesh resume <uuid> --attach`: the owner's half of entering a session from another machine.

Run over ssh by the entering machine (`cli/remote_enter.py`), so the client never knows this
machine's tmux layout. It attaches this terminal to the session's pane through a session of its
own, grouped with the pane's session: the owner user's clients keep their current window, and
the grouped session is killed once this client has exited (docs/remote-enter.md).
`--check` verifies everything but the terminal and prints JSON, for the client's preflight.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from typing import Any

from sesh_mesh.agents import proctree
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
    if not check_only:
        _sweep_stale_groups(tmux_bin, socket)
    ids = _tmux(tmux_bin, socket, "display-message", "-p", "-t", pane, "#{session_id}\t#{window_id}\t#{session_group}")
    session_id, window_id, group_name = [*ids.strip().split("\t"), "", ""][:3]
    if not session_id or not window_id:
        raise SeshError(f"pane {pane} of session {short} is gone on {here}", f"see `sesh info {short}` there")
    session_id = _group_anchor(tmux_bin, socket, session_id, group_name)
    if check_only:
        _print({"uuid": record["uuid"], "machine": here, "tmux": location, "session": session_id,
                "window": window_id, "tmuxBin": tmux_bin})
        return 0
    group = f"{GROUP_PREFIX}{short}-{os.getpid()}"
    # One tmux command line: only the grouped session's own current window moves to the pane.
    # Not `destroy-unattached`: tmux before 3.7 destroys such a session while a detaching client
    # still points at it whenever any other client (a daemon's list-panes) comes or goes in that
    # moment, and the server then crashes on its next loop, taking every session with it. So
    # this process outlives the client and kills the session itself (kill-session clears
    # clients properly).
    argv = [tmux_bin, "-S", socket, "new-session", "-t", session_id, "-s", group, ";",
            "select-window", "-t", f"={group}:{window_id}", ";",
            "select-pane", "-t", pane]
    env = {key: value for key, value in os.environ.items() if key not in ("TMUX", "TMUX_PANE")}
    sys.stdout.flush()
    return _attach_then_kill(tmux_bin, socket, group, argv, env)


def _attach_then_kill(tmux_bin: str, socket: str, group: str, argv: list[str], env: dict[str, str]) -> int:
    """Run the attaching client to its end, then kill its grouped session.

    ^C and a TERM reach the client, which exits on its own; here they only must not end this
    process before the kill. A hangup (ssh gone) kills the group at once instead of waiting for
    the client: when this process is the session leader (a shell that exec'd it), the kernel
    sends the hangup to it alone, and the client then depends on the tmux server noticing the
    lost tty. Killing the session ends the client in any case."""
    caught = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM)
    saved = {sig: signal.signal(sig, _note_signal) for sig in caught}
    child: subprocess.Popen[bytes] | None = None
    code = 128 + signal.SIGHUP
    try:
        child = subprocess.Popen(argv, env=env)
        code = child.wait()
    except _HungUp:
        pass
    finally:
        signal.signal(signal.SIGHUP, _ignore_signal)  # a second hangup must not stop the cleanup
        subprocess.run([tmux_bin, "-S", socket, "kill-session", "-t", f"={group}"], capture_output=True,
                       timeout=TMUX_TIMEOUT_S, check=False)
        if child is not None:
            try:
                child.wait(timeout=TMUX_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    return code


class _HungUp(Exception):
    """The terminal hung up while the client ran."""


def _ignore_signal(signum: int, frame: object) -> None:
    """Nothing: the cleanup runs to its end."""


def _note_signal(signum: int, frame: object) -> None:
    """A handler, not SIG_IGN: the tmux child gets default dispositions back at exec."""
    if signum == signal.SIGHUP:
        raise _HungUp


def _sweep_stale_groups(tmux_bin: str, socket: str) -> None:
    """Kill grouped sessions left by an attach whose sesh was killed before its cleanup: no
    client attached and the pid in its name gone."""
    with contextlib.suppress(SeshError):
        listing = _tmux(tmux_bin, socket, "list-sessions", "-F", "#{session_attached}\t#{session_name}")
        for line in listing.splitlines():
            attached, _, name = line.partition("\t")
            pid = name.rpartition("-")[2]
            if attached == "0" and name.startswith(GROUP_PREFIX) and pid.isdigit() and not proctree.alive(int(pid)):
                subprocess.run([tmux_bin, "-S", socket, "kill-session", "-t", f"={name}"], capture_output=True,
                               timeout=TMUX_TIMEOUT_S, check=False)


def _group_anchor(tmux_bin: str, socket: str, session_id: str, group_name: str) -> str:
    """The session to group with: tmux may name another attach's grouped session as the pane's,
    and should that one end before `new-session -t` runs, tmux 3.3a takes the missing target for
    a new group's name and opens a fresh shell window in it. So a member of the pane's group
    that no attach made, when there is one."""
    if not group_name:
        return session_id
    listing = _tmux(tmux_bin, socket, "list-sessions", "-F", "#{session_id}\t#{session_group}\t#{session_name}")
    for line in listing.splitlines():
        candidate, group, name = [*line.split("\t", 2), "", ""][:3]
        if group == group_name and not name.startswith(GROUP_PREFIX):
            return candidate
    return session_id


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
