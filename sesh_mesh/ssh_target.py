"""How this machine reaches a peer's terminal: `[user@]host[:port]` targets, the `[ssh]` table of
config.toml, the ssh argv, and ssh's failures turned into one `sesh:` line. Stdlib only.

A peer's target is its peers.json `ssh` field, else the host of its mesh URL (docs/remote-enter.md).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sesh_mesh.errors import SeshError, UsageError

_TARGET_RE = re.compile(r"(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])"
                        r"(?::(?P<port>[0-9]{1,5}))?\Z")

SSH_MISSING_EXIT = 255
"""ssh's own exit status for its failures (connect, auth, host key); the remote command's otherwise."""

REMOTE_NOT_FOUND_EXIT = 127
"""A POSIX shell's status for a command not found: `sesh` is not on the owner's PATH."""


@dataclass(frozen=True)
class SshTarget:
    host: str
    user: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        shown = f"{self.user}@{self.host}" if self.user else self.host
        return f"{shown}:{self.port}" if self.port else shown

    def argv(self) -> list[str]:
        """The destination part of an ssh command line."""
        port = ["-p", str(self.port)] if self.port else []
        return [*port, f"{self.user}@{self.host}" if self.user else self.host]


def parse_target(text: str) -> SshTarget:
    """`[user@]host[:port]`; a bracketed IPv6 host keeps its brackets off in `host`."""
    match = _TARGET_RE.match(text.strip())
    if not text.strip() or text != text.strip() or match is None:
        raise UsageError(f"bad ssh target {text!r}", "write [user@]host[:port], e.g. me@server or me@10.0.0.2:2222")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"bad ssh port in {text!r}", "use a port from 1 to 65535")
    return SshTarget(match["host"].strip("[]"), match["user"], port)


def target_from_url(address: str) -> SshTarget | None:
    """The host of a peer's ws:// URL, reached on ssh's default port."""
    host = urlsplit(address).hostname
    return SshTarget(host) if host else None


@dataclass(frozen=True)
class SshSettings:
    """`[ssh]` in config.toml."""

    command: tuple[str, ...] = ("ssh",)
    """The ssh client and any fixed words (`command = "tailscale ssh"` splits like a shell)."""
    options: tuple[str, ...] = ()
    """Extra arguments before the destination: `-i KEY`, `-o ProxyJump=…`, `-F FILE`."""
    remote_sesh: str = "sesh"
    """How the owner's shell finds sesh (a non-login ssh shell may lack ~/.local/bin on PATH)."""
    connect_timeout_s: int = 10
    multiplex_dir: str | None = None
    """`multiplex = true`: the preflight's connection is kept (ControlMaster) and the attach
    reuses it, one login instead of two; control sockets live here ($SESH_HOME/ssh)."""


MULTIPLEX_PERSIST_S = 60
"""How long a kept connection outlives its last use (ssh's ControlPersist)."""


def ssh_settings(raw: dict[str, Any], path: object, home: Path | None = None) -> SshSettings:
    table = raw.get("ssh", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [ssh] must be a table", f"fix or remove [ssh] in {path}")
    command = table.get("command", "ssh")
    if not isinstance(command, str) or not shlex.split(command):
        raise UsageError(f"{path}: [ssh].command must be a command line", 'write command = "ssh"')
    options = table.get("options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise UsageError(f"{path}: [ssh].options must be a list of strings", 'write options = ["-i", "~/.ssh/id_x"]')
    remote = table.get("remote_sesh", "sesh")
    if not isinstance(remote, str) or not remote.strip():
        raise UsageError(f"{path}: [ssh].remote_sesh must be a command", 'write remote_sesh = "~/.local/bin/sesh"')
    timeout = table.get("connect_timeout", 10)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:
        raise UsageError(f"{path}: [ssh].connect_timeout must be a whole number of seconds",
                         "write connect_timeout = 10")
    multiplex = table.get("multiplex", False)
    if not isinstance(multiplex, bool):
        raise UsageError(f"{path}: [ssh].multiplex must be true or false", "write multiplex = true")
    where = str(home / "ssh") if multiplex and home is not None else None
    return SshSettings(tuple(shlex.split(command)), tuple(options), remote, timeout, where)


def multiplex_options(settings: SshSettings) -> list[str]:
    if settings.multiplex_dir is None:
        return []
    Path(settings.multiplex_dir).mkdir(mode=0o700, exist_ok=True)
    return ["-o", "ControlMaster=auto", "-o", f"ControlPath={settings.multiplex_dir}/%C",
            "-o", f"ControlPersist={MULTIPLEX_PERSIST_S}"]


def ssh_argv(settings: SshSettings, target: SshTarget, remote_words: list[str], *, batch: bool,
             tty: bool) -> list[str]:
    """ssh to `target` running `remote_words` there (quoted once for the remote shell)."""
    mode = ["-o", "BatchMode=yes"] if batch else []
    tty_flag = ["-t"] if tty else ["-T"]
    remote = " ".join([settings.remote_sesh, *(shlex.quote(word) for word in remote_words)])
    return [*settings.command, *mode, "-o", f"ConnectTimeout={settings.connect_timeout_s}", *tty_flag,
            *multiplex_options(settings), *settings.options, *target.argv(), "--", remote]


def probe_argv(settings: SshSettings, target: SshTarget) -> list[str]:
    """`ssh -o BatchMode=yes … true`: does key login to `target` work without a prompt?"""
    return [*settings.command, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={settings.connect_timeout_s}", "-T",
            *settings.options, *target.argv(), "--", "true"]


def classify_failure(machine: str, target: SshTarget, code: int, stderr: str) -> SeshError:
    """ssh's failure (or the remote sesh's own `sesh:` line) as the one line the user sees."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    remote_line = next((line for line in reversed(lines) if line.startswith("sesh: ")), None)
    if remote_line is not None:
        what, _, fix = remote_line[len("sesh: "):].partition(" (")
        return SeshError(f"on {machine}: {what}", fix.removesuffix(")"))
    said = lines[-1] if lines else f"exit {code}"
    if code == REMOTE_NOT_FOUND_EXIT or (code != SSH_MISSING_EXIT and "not found" in said):
        return SeshError(f"sesh is not on {machine}'s PATH over ssh ({said})",
                         f'install sesh on {machine}, or set [ssh] remote_sesh = "/path/to/sesh" in config.toml')
    if code == SSH_MISSING_EXIT:
        lowered = stderr.lower()
        if "permission denied" in lowered or "host key verification failed" in lowered or "too many auth" in lowered:
            return SeshError(f"ssh to {machine} ({target}) was refused: {said}",
                             f"make key login work without a prompt (ssh-copy-id {target}, or an agent); "
                             f"check with `ssh -o BatchMode=yes {target} true`")
        return SeshError(f"ssh to {machine} ({target}) failed: {said}",
                         f"check the host and port (sesh peer set {machine} --ssh [user@]host[:port]) and that "
                         f"sshd runs there")
    return SeshError(f"on {machine}: the remote command failed ({said})", f"run `ssh {target}` and look")
