"""A blocking client of the local daemon's Unix socket, with auto-start. Stdlib only.

Used by the CLI (one request per process) and, from a worker thread, by the TUI.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sesh_mesh import wire
from sesh_mesh.errors import DaemonUnreachable, SeshError, from_wire

START_TIMEOUT_S = 15.0
"""How long `daemon start` waits for the new daemon's socket to answer."""

CONNECT_TIMEOUT_S = 5.0


class Client:
    def __init__(self, path: Path, home: Path, auto_start: bool = True, timeout: float | None = None) -> None:
        self.path = path
        self.home = home
        self.auto_start = auto_start
        self.timeout = timeout
        """Bound on each read; None waits as long as the operation takes (send, await)."""

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(str(self.path))
        except OSError:
            sock.close()
            raise
        sock.settimeout(self.timeout)
        return sock

    def connect(self) -> socket.socket:
        try:
            return self._connect()
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            if not self.auto_start:
                raise DaemonUnreachable(
                    f"the sesh daemon is not running (no answer on {self.path})", "start it with `sesh daemon start`"
                ) from exc
        except OSError as exc:
            raise DaemonUnreachable(f"cannot reach the daemon at {self.path}: {exc}", "check SESH_HOME") from exc
        start_daemon(self.home, self.path)
        return self._connect()

    def call(self, op: str, args: dict[str, Any] | None = None, ctx: dict[str, Any] | None = None) -> Any:
        result: Any = None
        for kind, value in self.stream(op, args, ctx):
            if kind == "result":
                result = value
        return result

    def stream(
        self, op: str, args: dict[str, Any] | None = None, ctx: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, Any]]:
        """Yields ("item", x) for each streamed item and finally ("result", r).

        Only a reply that says so counts as done: a connection lost after the request was sent,
        half a reply or a garbage one is `InDoubt` (exit 4), never a quiet success.
        """
        sock = self.connect()
        try:
            request = wire.encode({"op": op, "args": args or {}, "ctx": ctx or caller_context()})
            try:
                sock.sendall(request)
                reader = sock.makefile("rb")
            except OSError as exc:
                raise InDoubt(op, f"the connection broke while sending ({_reason(exc)})") from None
            while True:
                message = _read_message(reader, op)
                if "item" in message:
                    yield "item", message["item"]
                    continue
                if op not in QUIET_OPS:
                    _tell(message.get("notice"))
                if message.get("ok") is True:
                    yield "result", message.get("result")
                    return
                error = message.get("error")
                if message.get("ok") is not False or not isinstance(error, dict):
                    raise InDoubt(op, "the daemon's reply is neither a result nor an error")
                raise from_wire(error)
        finally:
            sock.close()


_TOLD: set[str] = set()
QUIET_OPS = frozenset({"report"})
"""Ops called by agent hooks: their stderr lands in the agent's own UI, so no notice there."""


def _tell(notice: Any) -> None:
    """A notice the daemon attaches to replies (config.toml broken, or changed where only a
    restart applies it): on stderr once per command, however many requests it makes."""
    if isinstance(notice, str) and notice not in _TOLD:
        _TOLD.add(notice)
        sys.stderr.write(f"sesh: warning: {notice}\n")


class InDoubt(DaemonUnreachable):
    """The request reached (or may have reached) the daemon, but no reply confirmed it."""

    def __init__(self, op: str, why: str) -> None:
        super().__init__(
            f"{why}: the {op} request may or may not have been applied",
            "check with `sesh info` or `sesh list` before retrying",
        )


def _read_message(reader: Any, op: str) -> dict[str, Any]:
    try:
        line = reader.readline(wire.MAX_LINE_BYTES)
    except OSError as exc:
        raise InDoubt(op, f"the connection broke before the daemon answered ({_reason(exc)})") from None
    if not line:
        raise InDoubt(op, "the daemon closed the connection before answering")
    if not line.endswith(b"\n"):
        raise InDoubt(op, "the daemon's reply was cut off")
    try:
        message = json.loads(line)
    except ValueError:
        raise InDoubt(op, "the daemon's reply is not JSON") from None
    if not isinstance(message, dict):
        raise InDoubt(op, "the daemon's reply is not a JSON object")
    return message


def _reason(exc: OSError) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return exc.strerror or type(exc).__name__


def caller_context() -> dict[str, Any]:
    """What the daemon needs to know about the caller: cwd, tmux pane, session id, inherited env."""
    env = os.environ
    # A path or variable that is not valid UTF-8 cannot travel as JSON text: it is left out
    # (the command that needs it says so) rather than failing every request.
    return {
        "cwd": _text(os.getcwd()) if _cwd_exists() else None,
        "tmux": _text(env.get("TMUX")),
        "tmuxPane": _text(env.get("TMUX_PANE")),
        "sessionId": _text(env.get("SESH_SESSION_ID")),
        "env": {
            k: v
            for k, v in env.items()
            if (k in _INHERITED_ENV or k.startswith(("SESH_", "ANTHROPIC_"))) and _text(k) and _text(v) is not None
        },
    }


def _text(value: str | None) -> str | None:
    """`value` when it encodes as UTF-8; None for one holding undecodable bytes (surrogateescape)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


_INHERITED_ENV = {
    "PATH",
    "HOME",
    "LANG",
    "TERM",
    "CLAUDE_CONFIG_DIR",
    "CODEX_HOME",
    "PI_CODING_AGENT_DIR",
    "FAKE_API_KEY",
    "OPENAI_API_KEY",
    "IS_SANDBOX",
    "DISABLE_AUTOUPDATER",
    "DISABLE_TELEMETRY",
    "DISABLE_ERROR_REPORTING",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
    "PI_OFFLINE",
    "PI_TELEMETRY",
    "PI_SKIP_VERSION_CHECK",
    "TMUX_TMPDIR",
}


def _cwd_exists() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return False
    return True


PING_TIMEOUT_S = 2.0
"""A daemon that accepts but does not answer a ping within this is treated as wedged."""


def ping(path: Path) -> dict[str, Any] | None:
    try:
        return Client(path, path.parent, auto_start=False, timeout=PING_TIMEOUT_S).call("ping")  # type: ignore[no-any-return]
    except (SeshError, OSError, ValueError):
        return None


def start_daemon(home: Path, path: Path, extra_args: list[str] | None = None) -> dict[str, Any]:
    """Spawn `sesh daemon run` detached and wait until its socket answers."""
    import subprocess

    from sesh_mesh.config import load_config, resolve_machine

    resolve_machine(load_config(home))  # fail here, with the config's own message, not in a log
    log_path = home / "daemon.log"
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Private like everything in SESH_HOME: the log names sessions, peers and paths.
        log_file = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    except OSError as exc:
        raise SeshError(
            f"cannot use SESH_HOME {home}: {exc.strerror or exc}",
            "point SESH_HOME at a directory you can write, or fix its permissions",
        ) from None
    with log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "sesh_mesh", "daemon", "run", *(extra_args or [])],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            env={**os.environ, "SESH_HOME": str(home)},
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        answer = ping(path)
        if answer is not None:
            return answer
        code = process.poll()
        if code is not None:
            answer = ping(path)  # another starter may have won the race
            if answer is not None:
                return answer
            raise DaemonUnreachable(
                f"the daemon exited at start (status {code}): {_last_error(log_path)}",
                f"see {log_path}",
            )
        time.sleep(0.05)
    raise DaemonUnreachable(f"the daemon did not answer within {START_TIMEOUT_S:.0f}s", f"see {log_path}")


def _last_error(log_path: Path) -> str:
    try:
        lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    for line in reversed(lines):
        if line.startswith("sesh: "):
            return line[len("sesh: "):]
    return lines[-1] if lines else "no log"
