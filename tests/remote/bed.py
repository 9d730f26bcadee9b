"""Two real machines on one box for entering sessions over ssh.

"alpha" owns the agents: its daemon scans its own private tmux server, where the owner user's
session `user` shows a keeper window. "beta" is where the user sits: its own daemon, its own agent
homes (so `--here` really moves files), its own tmux server with a shell pane that the CLI runs
"inside" ($TMUX/$TMUX_PANE). The mesh links them; a real sshd on loopback reaches alpha's
terminal, its logins running with alpha's SESH_HOME. beta's config.toml carries the `[ssh]`
options for the test key and a `[paths]` rule from alpha's project dir to beta's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.daemon.peers import load_peers, save_peers
from tests.agent_env import agents_installed, make_agent_env
from tests.agents_e2e.bed import AGENT_ENV_KEYS, READY
from tests.fake_llm import FakeLLM
from tests.harness import REPO, Daemon, Run, free_port, run_sesh
from tests.mesh.helpers import link, wait_linked
from tests.polling import eventually
from tests.remote.sshd import Sshd, running_sshd
from tests.tmux_helpers import PrivateTmux

__all__ = ["READY", "RemoteBed", "make_remote_bed"]


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "]"


@dataclass
class RemoteBed:
    root: Path
    llm: FakeLLM
    sshd: Sshd
    owner: Daemon
    here: Daemon
    owner_tmux: PrivateTmux
    here_tmux: PrivateTmux
    owner_env: dict[str, str]
    here_env: dict[str, str]
    owner_cwd: Path
    here_cwd: Path
    here_pane: str
    """A shell pane in beta's tmux session `me`: where the user runs `sesh resume`."""

    @property
    def owner_socket(self) -> str:
        assert self.owner_tmux.socket_path is not None
        return str(self.owner_tmux.socket_path)

    @property
    def here_socket(self) -> str:
        assert self.here_tmux.socket_path is not None
        return str(self.here_tmux.socket_path)

    def owner_sesh(self, *args: str, timeout: float = 120) -> Run:
        env = {**self.owner.env, **self.owner_env, "SESH_HOME": str(self.owner.home), "SESH_MACHINE": "alpha"}
        return run_sesh(args, env, cwd=self.owner_cwd, timeout=timeout)

    def owner_sesh_background(self, *args: str) -> subprocess.Popen[str]:
        env = {**self.owner.env, **self.owner_env, "SESH_HOME": str(self.owner.home), "SESH_MACHINE": "alpha"}
        return subprocess.Popen([sys.executable, "-m", "sesh_mesh", *args], env=env, cwd=self.owner_cwd, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

    def here_sesh(self, *args: str, in_tmux: bool = True, timeout: float = 120,
                  env: dict[str, str] | None = None) -> Run:
        """The CLI on beta; `in_tmux`: as if typed in beta's shell pane (its $TMUX and $TMUX_PANE)."""
        extra: dict[str, str] = {}
        if in_tmux:
            pid = self.here_tmux.run("display-message", "-p", "-t", self.here_pane, "#{pid}").strip()
            extra = {"TMUX": f"{self.here_socket},{pid},0", "TMUX_PANE": self.here_pane}
        full = {**self.here.env, **self.here_env, "SESH_HOME": str(self.here.home), "SESH_MACHINE": "beta",
                **extra, **(env or {})}
        return run_sesh(args, full, cwd=self.here_cwd, timeout=timeout)

    def new_owner_session(self, agent: str, message: str) -> dict[str, Any]:
        """An agent live in alpha's tmux (a window of the owner user's session), one exchange done."""
        run = self.owner_sesh("new", "--agent", agent, "--target", f"{self.owner_socket}:user", "--name",
                              f"{agent}-{os.urandom(2).hex()}", "--json")
        assert run.code == 0, run.err
        record: dict[str, Any] = run.json()
        pane = str(record["tmux"]["pane"])
        self.owner_tmux.wait_for_text(pane, READY[agent], timeout=60)
        # Typed by the test as the owner user would, so the exchange is in the transcript.
        self.owner_tmux.send_text(pane, message)
        self.owner_tmux.wait_for_text(pane, f"ECHO: {message}", timeout=60)
        eventually(lambda: self.owner.call("info", {"uuid": record["uuid"]}).get("agentSessionId")
                   and self.owner.call("info", {"uuid": record["uuid"]}).get("turnStatus") == "idle", 30,
                   what="the owner to see the first turn end")
        eventually(lambda: self.here.call("info", {"uuid": record["uuid"]}).get("live"), 20,
                   what="beta to see the owner's session live")
        return record

    def owner_view(self) -> dict[str, str]:
        """What the owner user sees: each tmux session's current window and that window's active pane."""
        out = self.owner_tmux.run("list-sessions", "-F", "#{session_name}\t#{window_id}\t#{pane_id}")
        return {name: rest for name, _, rest in (line.partition("\t") for line in out.splitlines())}

    def windows_here(self) -> dict[str, str]:
        """beta's windows in session `me`: name → pane id."""
        out = self.here_tmux.run("list-windows", "-t", "me", "-F", "#{window_name}\t#{pane_id}")
        return dict(line.split("\t", 1) for line in out.splitlines() if "\t" in line)

    def current_window_here(self) -> str:
        return self.here_tmux.run("display-message", "-p", "-t", "me", "#{window_name}").strip()


class PtyClient:
    """A real tmux client attached to a server through a pseudo-terminal (200x50), its output
    drained by a thread so tmux never blocks on a full terminal."""

    def __init__(self, tmux: PrivateTmux, session: str, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.master = master
        self.process = subprocess.Popen(tmux.argv("attach-session", "-t", session), stdin=slave, stdout=slave,
                                        stderr=slave, env={**env, "TERM": "xterm-256color"}, start_new_session=True)
        os.close(slave)
        threading.Thread(target=self._drain, daemon=True, name="pty-drain").start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self.master, 65536):
                pass

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        with contextlib.suppress(OSError):
            os.close(self.master)


def _agent_env(root: Path, llm: FakeLLM, trusted: list[Path]) -> dict[str, str]:
    return make_agent_env(root, llm.url, trusted)


@contextlib.contextmanager
def make_remote_bed() -> Iterator[RemoteBed]:
    if not agents_installed():
        pytest.skip("agent CLIs not installed: run tests/agents/install.sh (scripts/test does)")
    root = Path(tempfile.mkdtemp(prefix="sr", dir="/tmp"))
    owner_cwd, here_cwd = root / "src" / "proj", root / "mine" / "proj"
    owner_cwd.mkdir(parents=True)
    here_cwd.mkdir(parents=True)
    started: list[Daemon] = []
    # The owner's tmux is its *default* server under a private TMUX_TMPDIR: a relaunch with no
    # --target (pick --enter, the TUI) goes to the owner's default server, as on a real machine,
    # and must never reach this machine's real one.
    owner_tmpdir = root / "to"
    owner_tmpdir.mkdir()
    tmuxes = [PrivateTmux(socket_name="default"), PrivateTmux()]
    client: PtyClient | None = None
    try:
        with FakeLLM(log_path=root / "llm.ndjson") as llm, running_sshd(root) as sshd:
            owner_env = {**_agent_env(root / "agent-alpha", llm, [owner_cwd]), "TMUX_TMPDIR": str(owner_tmpdir)}
            here_env = _agent_env(root / "agent-beta", llm, [here_cwd])
            owner_tmux, here_tmux = tmuxes
            owner_tmux.conf = Path(owner_env["SESH_TEST_TMUX_CONF"])
            here_tmux.conf = Path(here_env["SESH_TEST_TMUX_CONF"])
            owner_tmux.new_session(["sleep", "86400"], owner_env, owner_cwd, name="user")
            owner_tmux.run("rename-window", "-t", "user", "keeper")
            here_pane = here_tmux.new_session(["sh"], here_env, here_cwd, name="me")
            here_tmux.run("rename-window", "-t", "me", "shell")
            client = PtyClient(here_tmux, "me", here_env)
            eventually(lambda: here_tmux.run("list-clients").strip(), 10, what="a tmux client attached on beta")
            owner = Daemon("alpha", listen=f"127.0.0.1:{free_port()}", extra_env={
                **{k: owner_env[k] for k in AGENT_ENV_KEYS if k in owner_env},
                "TMUX_TMPDIR": str(owner_tmpdir), "SESH_TMUX_SOCKETS": str(owner_tmux.socket_path)})
            here = Daemon("beta", listen=f"127.0.0.1:{free_port()}", extra_env={
                **{k: here_env[k] for k in AGENT_ENV_KEYS if k in here_env},
                "SESH_TMUX_SOCKETS": str(here_tmux.socket_path)})
            link(owner, here)
            peers = load_peers(here.home)
            peers["alpha"] = dataclasses.replace(peers["alpha"], ssh=sshd.target)
            save_peers(here.home, peers)
            (here.home / "config.toml").write_text(
                f"[ssh]\noptions = {_toml_list(sshd.client_options())}\n\n"
                f"[paths]\n\"{root / 'src'}\" = \"{root / 'mine'}\"\n")
            for daemon in (owner, here):
                daemon.start()
                started.append(daemon)
            wait_linked(here, "alpha")
            sshd.set_remote_env({"SESH_HOME": str(owner.home), "SESH_MACHINE": "alpha",
                                 "PATH": f"{Path(sys.executable).parent}:{REPO / 'bin'}:/usr/bin:/bin",
                                 "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"})
            yield RemoteBed(root, llm, sshd, owner, here, owner_tmux, here_tmux, owner_env, here_env, owner_cwd,
                            here_cwd, here_pane)
    finally:
        if client is not None:
            client.close()
        for tmux in tmuxes:
            tmux.kill_server()
        for daemon in started:
            with contextlib.suppress(Exception):
                daemon.stop()
        time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
        for daemon in started:
            shutil.rmtree(daemon.home, ignore_errors=True)
