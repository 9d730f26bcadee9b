"""`sesh tui`, `sesh pick`, and `sesh resume` without a uuid: the picker's CLI side.

This module never imports textual at import time: `sesh_mesh.tui` is imported only when a UI is
about to be shown, so `pick --select` stays a fast, scriptable path. Emit contract, as in the
original sesh: `--format json|kv|nul` (default json); exit 0 selected, 130 cancelled, 3 nothing
to pick or no match, 2 a `--cursor` that names no session.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sesh_mesh import ids
from sesh_mesh.cli.context import Context
from sesh_mesh.errors import ExitCode, NotFound, SeshError, UnknownSession, UsageError
from sesh_mesh.store.record import Record

if TYPE_CHECKING:
    from sesh_mesh.cli.parser import Commands

KEYS = (
    "uuid", "machine", "agent", "cwd", "name", "tmux_socket", "tmux_session", "tmux_window", "tmux_pane", "action",
)  # fmt: skip
"""The kv and nul order; scripts read the values by position, so it never changes."""
ENTER_VERBS = ("goto", "resume")
"""The actions `--enter` can perform; `--action` may name any verb when only printing."""
TMUX_TIMEOUT_S = 10.0


def register(commands: Commands) -> None:
    for name, text, examples, func in (
        ("tui", "the session manager: every session, live; Enter prints the selection (--enter: enters it)",
         ["sesh tui", "sesh tui --enter", "sesh tui a808", "sesh tui --cursor a808 --format kv"], cmd_tui),
        ("pick", "pick a session and print it (exit 0 picked, 130 cancelled, 3 nothing to pick or no match)",
         ["sel=$(sesh pick)", "sesh pick --select a808 --format kv", "sesh pick --enter"], cmd_pick),
    ):
        p = commands.add(name, text, examples, func)
        if name == "tui":
            p.add_argument("uuid", nargs="?", metavar="UUID", help="the same as --cursor UUID")
        p.add_argument("--format", choices=["json", "kv", "nul"], default="json",
                       help="json: one object (the default); kv: key=value lines; nul: the values NUL-terminated")
        p.add_argument("--action", metavar="VERB", help="the action to print instead of goto (live) / resume")
        p.add_argument("--cursor", metavar="UUID",
                       help="start with the cursor on this session (uuid or prefix; naming none is exit 2)")
        p.add_argument("--select", metavar="UUID", help="pick this session without showing the UI")
        p.add_argument("--enter", action="store_true", help="perform the action (goto/resume) instead of printing")
        p.add_argument("--columns", metavar="LIST",
                       help="table columns, comma-separated, of: glyph,id,name,agent,machine,cwd,tags,age,ctx,model,"
                            "activity,turns (default: [tui] columns in config.toml, else glyph..age)")
        p.add_argument("--preview", action="store_true", help="open with the preview shown (p toggles it)")
    p = commands.add("resume", "enter a session (goto if live, relaunch otherwise), on any machine (over ssh); "
                     "no uuid: pick one", ["sesh resume a808", "sesh resume", "sesh resume a808 --here",
                                           "sesh resume a808 --target default:work"], cmd_resume)
    p.add_argument("uuid", nargs="?", help="uuid or unique prefix (default: choose in the picker)")
    p.add_argument("--target", metavar="SOCKET:SESSION",
                   help="where a relaunched agent opens (its owner's tmux; the session is created if absent)")
    p.add_argument("--here", action="store_true",
                   help="carry another machine's conversation to this machine ([paths] rules rewrite its cwd), "
                        "resume it here and archive the owner's copy (tag moved-to:HERE); refused while live or busy "
                        "there")
    p.add_argument("--attach", action="store_true",
                   help="the owner's half of entering from another machine (run over ssh): attach this terminal to "
                        "the session's pane through a grouped tmux session, leaving the owner's own view alone")
    p.add_argument("--check", action="store_true", help="with --attach: check everything but the terminal, print JSON")


# ---- the emit contract ----------------------------------------------------------------------


def default_action(record: Record) -> str:
    return "goto" if record.get("live") else "resume"


def selection(record: Record, action: str) -> dict[str, Any]:
    """The JSON shape: the kv keys, with tmux nested."""
    tmux = record.get("tmux") or {}
    return {
        "uuid": record["uuid"],
        "machine": record.get("machine"),
        "agent": record.get("agent"),
        "cwd": record.get("cwd"),
        "name": record.get("name") or "",
        "tmux": {key: tmux.get(key) for key in ("socket", "session", "window", "pane")},
        "action": action,
    }


def flat_values(record: Record, action: str) -> list[str]:
    shown = selection(record, action)
    tmux = shown.pop("tmux")
    shown.update({f"tmux_{key}": value for key, value in tmux.items()})
    return ["" if shown[key] is None else str(shown[key]) for key in KEYS]


def emit(record: Record, action: str, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(selection(record, action), ensure_ascii=False) + "\n")
    elif fmt == "nul":
        sys.stdout.write("".join(value + "\0" for value in flat_values(record, action)))
    else:
        # One line per key: a newline inside a value would forge a key, so it is escaped.
        values = flat_values(record, action)
        sys.stdout.write("".join(f"{key}={_one_line(value)}\n" for key, value in zip(KEYS, values, strict=True)))
    sys.stdout.flush()


def _one_line(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


# ---- commands ------------------------------------------------------------------------------


def cmd_pick(ctx: Context) -> int:
    return _pick(ctx, title="sesh pick", allow_empty=False)


def cmd_tui(ctx: Context) -> int:
    return _pick(ctx, title="sesh tui", allow_empty=True)


def _pick(ctx: Context, *, title: str, allow_empty: bool) -> int:
    args = ctx.args
    verb = _check_action(args.action, args.enter)
    cursor = _cursor(ctx, args.cursor, getattr(args, "uuid", None))
    if args.select:
        record = select(ctx, args.select)
    else:
        picked = choose(ctx, cursor=cursor, enter_acts=args.enter, title=title, allow_empty=allow_empty)
        if picked is None:
            return int(ExitCode.CANCELLED)
        record = picked
    action = verb or default_action(record)
    if args.enter:
        return enter(ctx, record, action)
    emit(record, action, args.format)
    return 0


def _check_action(action: str | None, enter_acts: bool) -> str | None:
    if action is None:
        return None
    if not action.strip() or any(char.isspace() for char in action):
        raise UsageError(f"bad --action {action!r}", "give one word, e.g. --action goto")
    if enter_acts and action not in ENTER_VERBS:
        raise UsageError(f"--enter cannot perform --action {action!r}", "use goto or resume, or drop --enter")
    return action


def _cursor(ctx: Context, flag: str | None, positional: str | None) -> str | None:
    """The uuid `--cursor` (or `sesh tui <uuid>`) names. Naming no session is a usage error
    (exit 2), checked before the screen is taken over; an ambiguous prefix stays exit 1."""
    if flag and positional and flag != positional:
        raise UsageError(f"two cursors: {positional!r} and --cursor {flag!r}", "give the session once")
    text = flag or positional
    if not text:
        return None
    try:
        record = select(ctx, text)
    except NotFound as exc:
        raise UsageError(f"--cursor: {exc.what}", "give a session of `sesh list`, or drop --cursor") from exc
    return str(record["uuid"])


def select(ctx: Context, text: str) -> Record:
    """The session `text` names (uuid or unique prefix, resolved by the daemon's `info`);
    NotFound (exit 3) when nothing matches, so scripts can tell "no match" from a failure."""
    prefix = ids.check_prefix(text)
    try:
        record: Record = ctx.call("info", {"uuid": prefix})
    except SeshError as exc:
        # Ambiguity and daemon trouble stay failures; only "nothing matches" is exit 3.
        if isinstance(exc, UnknownSession):
            raise NotFound(exc.what, exc.fix) from exc
        raise
    if record.get("deleted"):
        raise NotFound(f"session {record['uuid']} is deleted", "pick another one; see `sesh list`")
    if ctx.machine and record.get("machine") != ctx.machine:
        raise NotFound(f"session {record['uuid']} is on machine {record.get('machine')!r}, not {ctx.machine!r}",
                       "drop --machine or pick a session of that machine")
    return record


def choose(
    ctx: Context, *, cursor: str | None = None, enter_acts: bool = False, title: str = "sesh pick",
    allow_empty: bool = False,
) -> Record | None:  # fmt: skip
    """Show the picker; the chosen record, or None when the user cancelled."""
    status = ctx.call("status")  # starts the daemon if needed, before the screen is taken over
    sessions = status.get("sessions")
    if ctx.machine:
        sessions = len(ctx.call("list", {"machine": ctx.machine, "archived": True}))
    if not allow_empty and not sessions:
        raise NotFound(
            "no sessions to pick",
            "start one with `sesh new --agent claude`, or adopt existing ones with `sesh discover --register`",
        )
    from sesh_mesh.config import load_config
    from sesh_mesh.tui.run import run_picker  # textual is imported here, and only here

    config = load_config(ctx.home)
    columns = _columns(getattr(ctx.args, "columns", None), config.raw.get("tui", {}).get("columns"), config.path)
    return run_picker(ctx.socket, enter_acts=enter_acts, cursor=cursor, cwd_rules=config.cwd_rules, title=title,
                      machine=ctx.machine, columns=columns, preview=bool(getattr(ctx.args, "preview", False)),
                      enter_mark=_enter_mark(ctx, str(status.get("machine"))) if enter_acts else None)


def _enter_mark(ctx: Context, here: str) -> Callable[[Record], str]:
    """Rows of other machines show whether Enter attaches, relaunches or fails (no ssh target)."""
    from sesh_mesh.cli.remote_enter import marker
    from sesh_mesh.daemon.peers import load_peers

    peers = load_peers(ctx.home)
    return marker(here, {name for name, peer in peers.items() if peer.ssh_target() is not None})


def _columns(flag: str | None, configured: object, config_path: Path) -> tuple[str, ...] | None:
    """The table's columns from `--columns`, else `[tui] columns`; None for the default set."""
    from sesh_mesh.tui.run import COLUMNS, parse_columns  # the TUI is about to be shown anyway

    value: str | list[Any]
    if flag is not None:
        source, value = "--columns", flag
    elif configured is not None:
        if not isinstance(configured, list | str):
            raise UsageError(f"{config_path}: [tui].columns must be a list of column names",
                             f'write columns = ["name", "agent", "ctx"] (of: {", ".join(COLUMNS)})')
        source, value = f"{config_path}: [tui].columns", configured
    else:
        return None
    try:
        return parse_columns(value)
    except ValueError as exc:
        raise UsageError(f"{source}: {exc}", f"choose from {','.join(COLUMNS)}") from exc


# ---- entering a session ---------------------------------------------------------------------


def enter(ctx: Context, record: Record, action: str) -> int:
    if action == "goto":
        return goto(ctx, record)
    return resume(ctx, record["uuid"])


def cmd_resume(ctx: Context) -> int:
    """`sesh resume [<uuid>]`: without a uuid, pick one first."""
    args = ctx.args
    if args.check and not args.attach:
        raise UsageError("--check goes with --attach", "sesh resume UUID --attach --check")
    if args.attach and (args.here or not args.uuid):
        raise UsageError("--attach needs a uuid and no --here", "sesh resume UUID --attach")
    if args.attach:
        from sesh_mesh.cli.attach import attach_here

        return attach_here(ctx, ids.check_prefix(args.uuid), check_only=args.check)
    if args.uuid:
        return resume(ctx, ids.check_prefix(args.uuid))
    record = choose(ctx, enter_acts=True, title="sesh resume")
    return int(ExitCode.CANCELLED) if record is None else enter_session(ctx, record)


def resume(ctx: Context, uuid: str) -> int:
    """Enter the session: a live one here; relaunching a detached one belongs to the daemon."""
    record = ctx.call("info", {"uuid": uuid})
    if record.get("deleted"):
        raise SeshError(f"session {record['uuid']} is deleted", "nothing to resume")
    if getattr(ctx.args, "here", False):
        from sesh_mesh.cli.remote_enter import carry_here

        record = ctx.call("info", {"uuid": carry_here(ctx, record)})
    return enter_session(ctx, record)


def enter_session(ctx: Context, record: Record) -> int:
    if _elsewhere(ctx, record):
        from sesh_mesh.cli.remote_enter import enter_remote

        return enter_remote(ctx, record)
    if record.get("live"):
        return goto(ctx, record)
    return resume_detached(ctx, record)


def resume_detached(ctx: Context, record: Record) -> int:
    """Relaunch the agent resuming its conversation (the daemon does it), then enter its pane.
    `sesh resume --target` places it; `pick --enter` has no --target (the daemon chooses)."""
    target = getattr(ctx.args, "target", None)
    placed = ctx.call("resume", {"uuid": record["uuid"], "target": target})
    return goto(ctx, {**record, "live": True, "tmux": placed["tmux"]})


def goto(ctx: Context, record: Record) -> int:
    """Switch this tmux client to the session's pane, or attach to it from outside tmux."""
    import subprocess

    short = str(record["uuid"])[:8]
    tmux = record.get("tmux") or {}
    socket, pane = tmux.get("socket"), tmux.get("pane")
    if not record.get("live") or not socket or not pane:
        raise SeshError(f"session {short} is not live in a tmux pane", f"resume it instead: sesh resume {short}")
    if _elsewhere(ctx, record):
        from sesh_mesh.cli.remote_enter import enter_remote

        return enter_remote(ctx, record)
    base = ["tmux", "-S", str(socket)]
    _tmux([*base, "select-window", "-t", str(pane)])
    _tmux([*base, "select-pane", "-t", str(pane)])
    inside = os.environ.get("TMUX", "").split(",")[0]
    if inside and _same_file(inside, str(socket)):
        _tmux([*base, "switch-client", "-t", str(pane)])
        return 0
    # Outside tmux, or inside another tmux server (a client cannot switch servers): attach,
    # nesting deliberately, which tmux allows only with $TMUX unset.
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # tmux would fail with "open terminal failed: not a terminal" (a script, cron, a pipe).
        raise SeshError(f"session {short} is live in tmux pane {pane} on {socket}, but there is no terminal here "
                        "to attach", f"run it from a terminal, or attach one yourself: tmux -S {socket} attach "
                        f"-t {pane}")
    env = {key: value for key, value in os.environ.items() if key != "TMUX"}
    return subprocess.run([*base, "attach-session", "-t", str(pane)], env=env, check=False).returncode


def _elsewhere(ctx: Context, record: Record) -> bool:
    return bool(record.get("machine") != ctx.call("ping").get("machine"))


def _tmux(argv: list[str]) -> None:
    import subprocess

    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TMUX_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SeshError(f"cannot run {' '.join(argv)}: {exc}", "is tmux installed and on PATH?") from exc
    if done.returncode != 0:
        raise SeshError(
            f"{' '.join(argv)} failed: {done.stderr.strip() or done.returncode}",
            "the pane may have closed; see `sesh info` for the session's current pane",
        )


def _same_file(left: str, right: str) -> bool:
    try:
        return os.path.samefile(left, right)
    except OSError:
        return left == right
