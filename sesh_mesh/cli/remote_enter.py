"""Entering a session another machine owns, and carrying one here (`sesh resume --here`).

Entering: the owner relaunches a detached session (the `resume` op, forwarded by the op table),
a batch-mode ssh preflight runs the owner's `sesh resume <uuid> --attach --check`, then ssh
runs `sesh resume <uuid> --attach` there: in a new local tmux window named after the session
when this CLI runs inside tmux, in the foreground otherwise. Detaching ends ssh, which closes
that window, and tmux shows the window you were in. The owner's sesh does the remote half
(`cli/attach.py`), so nothing here knows the owner's tmux layout. docs/remote-enter.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from sesh_mesh.cli.context import Context
from sesh_mesh.errors import SeshError
from sesh_mesh.ssh_target import SshSettings, SshTarget, classify_failure, ssh_argv, ssh_settings
from sesh_mesh.store.record import Record

PREFLIGHT_TIMEOUT_S = 60.0
"""The owner's `--attach --check` answers in about a second; this bounds a wedged ssh."""

MOVED_TAG = "moved-to:"
"""`--here` tags the owner's archived copy `moved-to:<this machine>`."""


ATTACH_MARK = "⇄"
"""A TUI row live on another machine: Enter attaches to its pane over ssh."""
RELAUNCH_MARK = "↻"
"""Detached on another machine: Enter relaunches it there, then attaches."""
NO_SSH_MARK = "✗ssh"
"""Another machine with no ssh target (not a peer): Enter fails with the fix."""


def marker(here: str, ssh_machines: set[str]) -> Callable[[Record], str]:
    """What Enter will do with a row, shown after its machine name when Enter enters."""

    def mark(record: Record) -> str:
        machine = record.get("machine")
        if not machine or machine == here:
            return ""
        if machine not in ssh_machines:
            return NO_SSH_MARK
        return ATTACH_MARK if record.get("live") else RELAUNCH_MARK

    return mark


# ---- how to reach the owner ---------------------------------------------------------------------


def reach(ctx: Context, owner: str) -> tuple[SshSettings, SshTarget]:
    """The `[ssh]` settings and the owner's ssh target, or the one line saying what to add."""
    from sesh_mesh.config import load_config
    from sesh_mesh.daemon.peers import load_peers

    config = load_config(ctx.home)
    settings = ssh_settings(config.raw, config.path, ctx.home)
    peer = load_peers(ctx.home).get(owner)
    target = peer.ssh_target() if peer is not None else None
    if target is None:
        raise SeshError(f"no ssh target for machine {owner!r}: it is not a peer of this machine",
                        f"sesh peer add {owner} ws://HOST:PORT --token T --ssh [user@]host[:port]")
    return settings, target


def terminal_here() -> str:
    """'tmux' inside tmux, 'tty' on a terminal; no terminal is the one-line failure."""
    if os.environ.get("TMUX") and os.environ.get("TMUX_PANE"):
        return "tmux"
    if sys.stdin.isatty() and sys.stdout.isatty():
        return "tty"
    raise SeshError("no terminal to enter the session in",
                    "run it inside tmux or from a terminal (stdin and stdout a tty)")


# ---- entering ---------------------------------------------------------------------------------


def enter_remote(ctx: Context, record: Record) -> int:
    owner = str(record.get("machine"))
    uuid = str(record["uuid"])
    settings, target = reach(ctx, owner)
    where = terminal_here()
    if not record.get("live"):
        # Relaunched into the owner's tmux by the owner's daemon, as `resume` does locally.
        ctx.call("resume", {"uuid": uuid, "target": getattr(ctx.args, "target", None)})
    preflight(settings, target, owner, uuid)
    argv = ssh_argv(settings, target, ["resume", uuid, "--attach"], batch=False, tty=True)
    name = str(record.get("name") or record.get("agent") or uuid[:8])
    if where == "tmux":
        return open_local_window(name, argv)
    return subprocess.run(argv, check=False).returncode


def preflight(settings: SshSettings, target: SshTarget, owner: str, uuid: str) -> dict[str, Any]:
    """The owner's `--attach --check` over batch-mode ssh: ssh, sesh, tmux and the pane all work."""
    import json

    argv = ssh_argv(settings, target, ["resume", uuid, "--attach", "--check"], batch=True, tty=False)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=PREFLIGHT_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError as exc:
        raise SeshError(f"cannot run {settings.command[0]}: not found",
                        'install an ssh client, or set [ssh] command = "…" in config.toml') from exc
    except subprocess.TimeoutExpired as exc:
        raise SeshError(f"ssh to {owner} ({target}) did not answer in {PREFLIGHT_TIMEOUT_S:.0f}s",
                        f"check with `ssh {target} true`") from exc
    if done.returncode != 0:
        raise classify_failure(owner, target, done.returncode, done.stderr)
    try:
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise SeshError(f"{owner}'s sesh answered {done.stdout.strip()[:80]!r} to --attach --check",
                        f"update sesh on {owner}") from exc
    return answer


def open_local_window(name: str, argv: list[str]) -> int:
    """A window of the caller's tmux session, named `name` literally, running `argv`, selected."""
    import asyncio

    from sesh_mesh.agents import tmux

    socket = tmux.socket_from_tmux_env(os.environ.get("TMUX"))
    assert socket is not None
    passed = {key: os.environ[key] for key in ("SSH_AUTH_SOCK", "TERM", "LANG", "LC_ALL") if os.environ.get(key)}
    try:
        pane = asyncio.run(tmux.open_window({"socket": socket, "pane": os.environ["TMUX_PANE"]}, name=name,
                                            cwd=os.getcwd(), env=passed, argv=argv))
        asyncio.run(tmux.run_command(socket, "select-window", "-t", pane))
    except tmux.TmuxError as exc:
        raise SeshError(str(exc), "is this tmux server still running?") from exc
    sys.stdout.write(f"{pane}\n")
    return 0


# ---- carrying a conversation here ------------------------------------------------------------


def carry_here(ctx: Context, record: Record) -> str:
    """Copy the owner's conversation here (cwd rewritten by `[paths]`), register it, archive the
    owner's copy tagged `moved-to:<here>`; the new local session's uuid. Refused while the
    conversation is live or busy on its owner: two agents on one conversation fork it."""
    from sesh_mesh.config import load_config, path_rules, rewrite_for_here

    here = str(ctx.call("ping").get("machine"))
    owner = str(record.get("machine"))
    short = str(record["uuid"])[:8]
    if owner == here:
        return str(record["uuid"])
    current: Record = ctx.call("forward", {"machine": owner, "op": "info", "args": {"uuid": record["uuid"]}})
    if current.get("live") or current.get("turnStatus") == "busy":
        state = "live in a pane" if current.get("live") else "busy"
        raise SeshError(f"session {short} is {state} on {owner}: carrying it here would fork the conversation",
                        f"stop it there first (sesh stop {short}), or enter it where it runs: sesh resume {short}")
    cwd = str(current.get("cwd") or "")
    rule = rewrite_for_here(path_rules(load_config(ctx.home)), cwd)
    new_cwd = cwd if rule is None else rule[1] + cwd[len(rule[0]):]
    if not os.path.isdir(new_cwd):
        raise SeshError(f"session {short}'s directory {new_cwd} does not exist here",
                        f'create it, or map it in config.toml: [paths] "{cwd}" = "/its/path/here"')
    copied = ctx.call("copy", {"uuid": record["uuid"], "to": here, "rewriteCwd": None if rule is None else list(rule)})
    for op, args in (("tag", {"tags": [f"{MOVED_TAG}{here}"]}), ("archive", {})):
        ctx.call("mutate", {"uuid": record["uuid"], "op": op, "args": args})
    return str(copied["uuid"])
