"""Real daemon processes and CLI runs for end-to-end tests. Never mocks the thing under test.

Every daemon gets its own short SESH_HOME (Unix socket paths have a 108-byte limit), its own
SESH_MACHINE, and is torn down with SIGTERM then SIGKILL even when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sesh_mesh.client import Client
from tests.polling import eventually, scaled

REPO = Path(__file__).resolve().parent.parent


def uid(n: int) -> str:
    """The n-th fixed session uuid (a valid v4 shape), so a failure names records by number."""
    return f"00000000-0000-4000-8000-{n:012d}"


def short_home(prefix: str = "sh") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


PORTS_FIRST, PORTS_END = 20_000, 32_000
"""Listen ports for test daemons come from here, below the kernel's ephemeral range (32768 and
up by default), so no outgoing connection can take one between the pick and the daemon's bind.
A port from bind(0) is an ephemeral one: in the window before the daemon bound it, any dial of
either xdist worker could get it as its local port (a CI failure: "address already in use")."""

_WORKERS = 8
_next_port: list[int] = []


def free_port() -> int:
    """A loopback port nothing listens on, not handed out twice by this process: each xdist
    worker draws from its own slice of PORTS_FIRST..PORTS_END, in turn, skipping taken ones."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    slot = int(worker) % _WORKERS if worker.isdigit() else os.getpid() % _WORKERS
    size = (PORTS_END - PORTS_FIRST) // _WORKERS
    first = PORTS_FIRST + slot * size
    if not _next_port:
        _next_port.append(os.getpid() % size)  # a rerun in the same slot starts elsewhere
    for _ in range(size):
        port = first + _next_port[0] % size
        _next_port[0] += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {first}..{first + size - 1}")


def base_env(home: Path, machine: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESH_") and k not in ("TMUX", "TMUX_PANE")}
    if "SESH_TEST_TIME_FACTOR" in os.environ:
        env["SESH_TEST_TIME_FACTOR"] = os.environ["SESH_TEST_TIME_FACTOR"]
    env["SESH_HOME"] = str(home)
    env["HOME"] = str(home / "userhome")
    (home / "userhome").mkdir(parents=True, exist_ok=True)
    env["PYTHONPATH"] = str(REPO)
    env["SESH_TMUX_SOCKETS"] = env.get("SESH_TMUX_SOCKETS", "")
    if machine is not None:
        env["SESH_MACHINE"] = machine
    if extra:
        env.update(extra)
    return env


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_sesh(args: Sequence[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 60,
             stdin: str | None = None) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "sesh_mesh", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=scaled(timeout),
        input=stdin,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class Daemon:
    machine: str
    home: Path = field(default_factory=short_home)
    listen: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return base_env(self.home, self.machine, self.extra_env)

    @property
    def socket(self) -> Path:
        return self.home / "daemon.sock"

    @property
    def port(self) -> int | None:
        return int(self.listen.rsplit(":", 1)[1]) if self.listen else None

    @property
    def url(self) -> str:
        assert self.listen, "daemon has no listen address"
        return f"ws://{self.listen}"

    def start(self, timeout: float = 15) -> Daemon:
        args = [sys.executable, "-m", "sesh_mesh", "daemon", "run"]
        if self.listen:
            args += ["--listen", self.listen]
        log = (self.home / "daemon.stderr").open("ab")
        self.process = subprocess.Popen(args, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        eventually(self._answers, timeout, what=f"daemon {self.machine} to answer on {self.socket}")
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"daemon {self.machine} exited with {self.process.returncode}: {self.log_tail()}")
        try:
            self.client().call("ping")
        except Exception:  # noqa: BLE001 - not answering yet, whatever the reason: poll again
            return False
        return True

    def log_tail(self, lines: int = 30) -> str:
        out = []
        for name in ("daemon.stderr", "daemon.log"):
            path = self.home / name
            if path.exists():
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)

    def client(self) -> Client:
        return Client(self.socket, self.home, auto_start=False)

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        return self.client().call(op, args or {})

    def sesh(self, *args: str, cwd: Path | None = None, timeout: float = 60, stdin: str | None = None,
             env: dict[str, str] | None = None) -> Run:
        return run_sesh(args, {**self.env, **(env or {})}, cwd=cwd, timeout=timeout, stdin=stdin)

    def records(self) -> dict[str, dict[str, Any]]:
        return {r["uuid"]: r for r in self.call("list", {"archived": True})}

    def stop(self, timeout: float = 10) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None


@contextlib.contextmanager
def daemons(*machines: str, listen: bool = False) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    try:
        for machine in machines:
            daemon = Daemon(machine, listen=f"127.0.0.1:{free_port()}" if listen else None)
            started.append(daemon.start())
        yield started
    finally:
        for daemon in started:
            with contextlib.suppress(Exception):
                daemon.stop()
