"""The only module that imports libtmux. Every call runs off the event loop and returns plain
dataclasses; a tmux failure raises `TmuxError` (never a silent empty list), except a server
that is simply not running, which has no panes.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import libtmux

PANE_FORMAT = "\t".join(
    (
        "#{pane_id}",
        "#{pane_pid}",
        "#{session_name}",
        "#{window_index}",
        "#{pane_current_command}",
        "#{pane_in_mode}",
        "#{pane_dead}",
        "#{pane_current_path}",
        "#{window_activity}",
        "#{pane_title}",
    )
)

_NOT_RUNNING = ("no server running", "error connecting to", "No such file or directory")


class TmuxError(Exception):
    pass


@dataclass(frozen=True)
class PaneInfo:
    socket: str
    pane: str
    pid: int
    session: str
    window: str
    command: str
    in_mode: bool
    dead: bool
    path: str
    title: str
    activity: int = 0
    """Wall-clock second of the window's last output: a pane that printed nothing since its
    last capture need not be captured again."""

    def location(self) -> dict[str, str]:
        return {"socket": self.socket, "session": self.session, "window": self.window, "pane": self.pane}


def socket_from_name(name: str) -> str:
    """An argument with '/' is a path; otherwise a `tmux -L` name under TMUX_TMPDIR."""
    if "/" in name:
        return str(Path(name).expanduser())
    tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
    return f"{tmpdir}/tmux-{os.getuid()}/{name}"


def socket_from_tmux_env(tmux_env: str | None) -> str | None:
    """The server socket from a $TMUX value (`path,pid,session`)."""
    if not tmux_env:
        return None
    return tmux_env.split(",", 1)[0] or None


def literal(value: str) -> str:
    """`value` for a tmux argument that tmux expands as a format, so that it arrives verbatim.

    tmux expands formats in new-window's and new-session's `-n` window name, `-s` session name
    and `-c` start directory (and in rename-window's name and display-message's message), and a
    `#(shell command)` in a format runs that command on this machine. Names come from peers,
    `import`, discovery and autoname model output, so each such argument passes through here:
    `##` is tmux's literal `#`, and `#` is the only character a format expands.
    """
    return value.replace("#", "##")


def command_arg(arg: str) -> str:
    """`arg` as tmux must receive it to take it whole: an argument ending in `;` ends the command
    (tmux reads the rest of its argv as a new command) unless that `;` is escaped as `\\;`.

    Applied by every call in this module to every argument. `run_chain` is the one place that
    chains commands, with a bare `;` argument between them, which this function never produces.
    """
    return f"{arg[:-1]}\\;" if arg.endswith(";") else arg


ISSUED: Counter[str] = Counter()
"""tmux commands this process issued, by command name, and `processes` (tmux clients started):
the fleet benchmark's "tmux commands per second" (read through the `tmux-status` op)."""


def _cmd(socket: str, *args: str) -> libtmux.common.tmux_cmd:
    ISSUED[args[0]] += 1
    ISSUED["processes"] += 1
    return libtmux.Server(socket_path=socket).cmd(*(command_arg(arg) for arg in args))


def _run(socket: str, *args: str) -> list[str]:
    result = _cmd(socket, *args)
    if result.returncode != 0:
        message = " ".join(result.stderr).strip() or f"tmux {args[0]} failed"
        raise TmuxError(f"tmux on {socket}: {message}")
    return list(result.stdout)


def _list_panes(socket: str) -> list[PaneInfo]:
    if not Path(socket).exists():
        return []
    result = _cmd(socket, "list-panes", "-a", "-F", PANE_FORMAT)
    if result.returncode != 0:
        message = " ".join(result.stderr).strip()
        if any(marker in message for marker in _NOT_RUNNING):
            return []
        raise TmuxError(f"tmux list-panes on {socket}: {message or 'failed'}")
    panes = []
    for line in result.stdout:
        parts = line.split("\t", 9)
        if len(parts) < 10:
            continue
        pane, pid, session, window, command, in_mode, dead, path, activity, title = parts
        panes.append(
            PaneInfo(socket, pane, int(pid or 0), session, window, command, in_mode == "1", dead == "1", path, title,
                     int(activity or 0))
        )
    return panes


async def list_panes(socket: str) -> list[PaneInfo]:
    """Every pane of the server on `socket`, in one tmux call."""
    return await asyncio.to_thread(_list_panes, socket)


async def capture(socket: str, pane: str, lines: int = 0) -> str:
    """The pane's text: the visible screen when `lines` is 0, else its last `lines` lines, scrollback
    included (the empty rows below the last output are not lines)."""
    args = ["capture-pane", "-p", "-J", "-t", pane]
    if lines <= 0:
        return "\n".join(await asyncio.to_thread(_run, socket, *args))
    # `-S -N` starts N rows up into the history and runs to the bottom of the screen: a superset of
    # the last N lines, however much of the screen is still empty.
    out = await asyncio.to_thread(_run, socket, *args, "-S", f"-{lines}")
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out[-lines:])


def is_pane_id(pane: str) -> bool:
    """A tmux pane id as tmux prints it (`%` and digits), nothing else."""
    return len(pane) > 1 and pane[0] == "%" and pane[1:].isascii() and pane[1:].isdigit()


def leave_mode_command(pane: str) -> list[str]:
    """The tmux command that leaves copy/view mode if `pane` is in it, to chain with others in
    one process (`run_chain`): claude and codex often leave a detached pane in view-mode, which
    swallows keys. The pane goes into a command string tmux parses again, so anything but a
    pane id is refused: `%1; run-shell …` would run."""
    if not is_pane_id(pane):
        raise TmuxError(f"not a tmux pane id: {pane!r}")
    return ["if-shell", "-F", "-t", pane, "#{pane_in_mode}", f"send-keys -t {pane} -X cancel"]


async def leave_mode(socket: str, pane: str) -> None:
    """Leave copy/view mode (`leave_mode_command`), in one tmux process."""
    await run_chain(socket, [leave_mode_command(pane)])


async def send_keys(socket: str, pane: str, keys: Sequence[str], literal: bool = False) -> None:
    """Key names, or with `literal` text typed as is; `--` keeps text such as `-n x` from being flags."""
    args = ["send-keys", "-t", pane]
    if literal:
        args.append("-l")
    await asyncio.to_thread(_run, socket, *args, "--", *keys)


async def paste(socket: str, pane: str, text: str, buffer: str) -> None:
    """Bracketed paste (`paste-buffer -p`) keeps newlines inside one submitted message."""

    def run() -> None:
        # The text goes in on stdin, not as an argument: an argument is capped at 128 KiB, and a
        # message may be longer.
        loaded = subprocess.run([shutil.which("tmux") or "tmux", "-S", socket, "load-buffer", "-b", buffer, "-"],
                                input=text.encode(), capture_output=True, check=False, timeout=30)
        if loaded.returncode != 0:
            raise TmuxError(f"tmux load-buffer on {socket}: {loaded.stderr.decode(errors='replace').strip()}")
        _run(socket, "paste-buffer", "-p", "-d", "-b", buffer, "-t", pane)

    await asyncio.to_thread(run)


async def run_command(socket: str, *args: str) -> list[str]:
    return await asyncio.to_thread(_run, socket, *args)


_GONE = ("can't find pane", "no such pane", "can't find window", "can't find session")


def _run_chain(socket: str, commands: Sequence[Sequence[str]]) -> list[str]:
    argv: list[str] = []
    for command in commands:
        if argv:
            argv.append(";")
        argv += [command_arg(arg) for arg in command]
        ISSUED[command[0]] += 1
    ISSUED["processes"] += 1
    result = libtmux.Server(socket_path=socket).cmd(*argv)
    if result.returncode != 0:
        message = " ".join(result.stderr).strip() or "tmux failed"
        raise TmuxError(f"tmux on {socket}: {message}")
    return list(result.stdout)


async def run_chain(socket: str, commands: Sequence[Sequence[str]]) -> None:
    """Several commands in one tmux process (`a ; b ; c`): tmux stops at the first that fails."""
    if commands:
        await asyncio.to_thread(_run_chain, socket, commands)


def _capture_many(socket: str, panes: Sequence[str]) -> dict[str, str]:
    # display-message expands its text (`%5` as strftime would), so the marker names the pane by
    # its place in `panes`, in digits and letters, which nothing expands.
    marker = f"SESH-CAPTURE-{os.urandom(8).hex()}-"
    commands: list[list[str]] = []
    for index, pane in enumerate(panes):
        commands.append(["display-message", "-p", "-t", pane, f"{marker}{index}"])
        commands.append(["capture-pane", "-p", "-J", "-t", pane])
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _run_chain(socket, commands):
        if line.startswith(marker) and line[len(marker):].isdigit() and int(line[len(marker):]) < len(panes):
            current = found.setdefault(panes[int(line[len(marker):])], [])
        elif current is not None:
            current.append(line)
    return {pane: "\n".join(lines) for pane, lines in found.items()}


async def capture_many(socket: str, panes: Sequence[str]) -> dict[str, str]:
    """The visible screen of each pane (as `capture`), all in one tmux process: one process per
    scan instead of one per pane that printed. A pane closed since it was listed stops the chain
    (TmuxError); the caller then captures one by one."""
    if not panes:
        return {}
    return await asyncio.to_thread(_capture_many, socket, panes)


def gone(error: TmuxError) -> bool:
    """The error says the target pane (or its window or session) no longer exists."""
    return any(marker in str(error) for marker in _GONE)


def set_pane_option(pane: str, name: str, value: str | None) -> list[str]:
    """The command that sets user option `name` on `pane` to `value` as is (tmux does not expand
    an option's value as a format when it is set), or unsets it when `value` is None."""
    if value is None:
        return ["set-option", "-p", "-u", "-t", pane, name]
    return ["set-option", "-p", "-t", pane, "--", name, value]


def set_global_option(name: str, value: str | None) -> list[str]:
    if value is None:
        return ["set-option", "-g", "-u", name]
    return ["set-option", "-g", "--", name, value]


def _pane_option(socket: str, name: str) -> list[tuple[str, int, str]]:
    if not Path(socket).exists():
        return []
    result = _cmd(socket, "list-panes", "-a", "-F", f"#{{pane_id}}\t#{{pane_pid}}\t#{{{name}}}")
    if result.returncode != 0:
        message = " ".join(result.stderr).strip()
        if any(marker in message for marker in _NOT_RUNNING):
            return []
        raise TmuxError(f"tmux list-panes on {socket}: {message or 'failed'}")
    out = []
    for line in result.stdout:
        pane, pid, value = [*line.split("\t", 2), "", ""][:3]
        out.append((pane, int(pid or 0), value))
    return out


async def pane_option(socket: str, name: str) -> list[tuple[str, int, str]]:
    """(pane id, pane pid, value of user option `name`) for every pane of the server, in one call."""
    return await asyncio.to_thread(_pane_option, socket, name)


async def open_window(target: Mapping[str, str], *, name: str, cwd: str, env: Mapping[str, str],
                      argv: Sequence[str]) -> str:
    """A detached window named `name` running `argv` in `cwd`; returns its pane id.

    `target` holds `socket` and either `pane` (open beside it, in its session) or `session`
    (created if absent).
    """
    socket = target["socket"]
    # tmux makes ${TMUX_TMPDIR}/tmux-$UID for -L names but not for -S paths, and fails there
    # with exit 0 ("server exited unexpectedly") on a machine where tmux never ran since boot.
    try:
        await asyncio.to_thread(Path(socket).parent.mkdir, mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise TmuxError(f"cannot make the tmux socket directory {Path(socket).parent}: {exc.strerror}") from exc
    env_flags = [f"-e{k}={v}" for k, v in env.items()]
    if target.get("pane"):
        where = await run_command(socket, "display-message", "-p", "-t", target["pane"], "#{session_id}")
        session_target = where[0].strip() if where else ""
    else:
        session_target = target["session"]
        panes = await list_panes(socket)
        if not any(p.session == session_target for p in panes):
            out = await run_command(socket, "new-session", "-d", "-P", "-F", "#{pane_id}", "-s",
                                    literal(session_target), "-n", literal(name), "-c", literal(cwd), *env_flags,
                                    "--", *argv)  # fmt: skip
            return _pane_id(socket, out)
    out = await run_command(socket, "new-window", "-d", "-P", "-F", "#{pane_id}", "-t", f"{session_target}:",
                            "-n", literal(name), "-c", literal(cwd), *env_flags, "--", *argv)
    return _pane_id(socket, out)


def _pane_id(socket: str, out: list[str]) -> str:
    """The pane id tmux printed; tmux can exit 0 having opened nothing (its server died)."""
    pane = out[0].strip() if out else ""
    if not pane.startswith("%"):
        raise TmuxError(f"tmux on {socket} opened no window (it printed {pane!r})")
    return pane
