"""One agent test bed: fake model server, isolated agent homes, a private tmux server, and two
real sesh daemons ("alpha" owns the agents; "beta" is linked over the mesh for remote cells).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid as uuid_mod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.agent_env import agents_installed, make_agent_env
from tests.fake_llm import FakeLLM
from tests.harness import Daemon, Run, free_port
from tests.mesh.helpers import link, wait_linked
from tests.polling import eventually
from tests.tmux_helpers import PrivateTmux

AGENTS = ("claude", "codex", "pi")
READY = {"claude": "shift+tab to cycle", "codex": "for shortcuts", "pi": "fake-model"}
"""Footer text each TUI shows once it accepts input."""

AGENT_ENV_KEYS = ("HOME", "PATH", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "PI_CODING_AGENT_DIR", "ANTHROPIC_BASE_URL",
                  "ANTHROPIC_API_KEY", "FAKE_API_KEY", "IS_SANDBOX", "PI_OFFLINE", "PI_TELEMETRY",
                  "PI_SKIP_VERSION_CHECK", "DISABLE_AUTOUPDATER", "DISABLE_TELEMETRY", "DISABLE_ERROR_REPORTING",
                  "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "TERM", "LANG", "LC_ALL")


@dataclass
class Bed:
    root: Path
    llm: FakeLLM
    env: dict[str, str]
    cwd: Path
    tmux: PrivateTmux
    alpha: Daemon
    beta: Daemon | None = None

    def daemon(self, where: str) -> Daemon:
        if where == "local":
            return self.alpha
        if self.beta is None:
            pytest.skip("remote cell needs beta: this bed was made with_remote=False")
        return self.beta

    def keep_server_up(self) -> None:
        """Start the tmux server with a keeper session, which holds it up when a test kills the
        last agent pane (and gives `target()` a socket path before any agent runs)."""
        if self.tmux.socket_path is None:
            self.tmux.new_session(["sleep", "86400"], self.env, self.cwd, name="keeper")

    def start_agent(self, agent: str, *args: str, name: str | None = None) -> str:
        """Start the agent CLI as a pane's own command; wait until it takes input; return the pane."""
        window = name or f"{agent}-{uuid_mod.uuid4().hex[:6]}"
        self.keep_server_up()
        pane = self.tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-n", window, "-c", str(self.cwd),
                                 "--", agent, *args).strip()
        self.tmux.wait_for_text(pane, READY[agent], timeout=60)
        return pane

    def send(self, pane: str, text: str) -> None:
        self.tmux.send_text(pane, text)

    def record(self, where: str, uuid: str) -> dict[str, Any]:
        return self.daemon(where).call("info", {"uuid": uuid})  # type: ignore[no-any-return]


@contextlib.contextmanager
def make_bed(with_remote: bool = True, daemon_extra: dict[str, str] | None = None) -> Iterator[Bed]:
    """Alpha (and beta) daemons on one fake model server; `daemon_extra` adds to both daemons' env."""
    if not agents_installed():
        pytest.skip("agent CLIs not installed: run tests/agents/install.sh (scripts/test does)")
    root = Path(tempfile.mkdtemp(prefix="sa", dir="/tmp"))
    cwd = root / "proj"
    cwd.mkdir()
    tmux = PrivateTmux()
    socket_path = Path(f"/tmp/tmux-{os.getuid()}/{tmux.socket_name}")
    started: list[Daemon] = []
    with FakeLLM(log_path=root / "llm.ndjson") as llm:
        env = make_agent_env(root / "agent", llm.url, [cwd])
        tmux.conf = Path(env["SESH_TEST_TMUX_CONF"])
        daemon_env = {k: env[k] for k in AGENT_ENV_KEYS if k in env}
        daemon_env["SESH_TMUX_SOCKETS"] = str(socket_path)
        daemon_env.update(daemon_extra or {})
        try:
            alpha = Daemon("alpha", listen=f"127.0.0.1:{free_port()}", extra_env=daemon_env).start()
            started.append(alpha)
            bed = Bed(root, llm, {**env, "SESH_HOME": str(alpha.home), "SESH_MACHINE": "alpha"}, cwd, tmux, alpha)
            if with_remote:
                beta = Daemon("beta", listen=f"127.0.0.1:{free_port()}",
                              extra_env={**daemon_env, "SESH_TMUX_SOCKETS": ""}).start()
                started.append(beta)
                link(alpha, beta)
                wait_linked(alpha, beta.machine)
                bed.beta = beta
            yield bed
        finally:
            tmux.kill_server()
            for daemon in started:
                with contextlib.suppress(Exception):
                    daemon.stop()
            shutil.rmtree(root, ignore_errors=True)
            for daemon in started:
                shutil.rmtree(daemon.home, ignore_errors=True)


def start_and_register(bed: Bed, agent: str, name: str | None = None) -> tuple[str, str]:
    """Start `agent` in a pane, have one exchange, resolve its pane to a fresh (unregistered)
    conversation, register it; return (pane, uuid) once the daemon sees it live."""
    args: list[str] = []
    preset = None
    if agent == "claude":
        preset = str(uuid_mod.uuid4())
        args = ["--session-id", preset]
    pane = bed.start_agent(agent, *args)
    marker = f"hello-{uuid_mod.uuid4().hex[:6]}"
    bed.send(pane, marker)
    bed.tmux.wait_for_text(pane, f"ECHO: {marker}", timeout=60)
    resolved = bed.alpha.sesh("pane-resolve", "--pane", pane, "--socket-path", str(bed.tmux.socket_path), "--json")
    assert resolved.code == 0, resolved.err
    found = resolved.json()
    assert found["registered"] is False and found["agent"] == agent, found
    if preset:
        assert found["uuid"] == preset
    run = bed.alpha.sesh("register", found["uuid"], "--agent", agent, "--name", name or f"{agent}-main",
                         "--cwd", str(bed.cwd), "--json")
    assert run.code == 0, run.err
    uuid = str(run.json()["uuid"])
    eventually(lambda: bed.record("local", uuid).get("live"), timeout=15, what="the registered agent to be live")
    return pane, uuid


class Beds:
    """One bed per agent, made on first use and torn down with the module's `beds` fixture,
    plus the long-lived agent sessions that cells reuse."""

    def __init__(self) -> None:
        self.stack = contextlib.ExitStack()
        self.beds: dict[str, Bed] = {}
        self.shared: dict[str, tuple[str, str]] = {}
        self.live: dict[str, str] = {}

    def bed(self, agent: str) -> Bed:
        if agent not in self.beds:
            bed = self.stack.enter_context(make_bed())
            bed.keep_server_up()
            self.beds[agent] = bed
        return self.beds[agent]

    def shared_session(self, agent: str) -> tuple[Bed, str, str]:
        """The agent's long-lived pane, registered after its first exchange: (bed, pane, uuid)."""
        bed = self.bed(agent)
        if agent not in self.shared:
            self.shared[agent] = start_and_register(bed, agent)
        pane, uuid = self.shared[agent]
        return bed, pane, uuid

    def live_session(self, agent: str) -> tuple[Bed, str]:
        """One long-lived pane session per agent made with `sesh new` (remade once it is not live)."""
        bed = self.bed(agent)
        if agent not in self.live or not bed.alpha.call("info", {"uuid": self.live[agent]}).get("live"):
            run = sesh(bed, "local", "new", "--agent", agent, "--target", target(bed), "--name", f"{agent}-live",
                       "--msg", "warm up", "--json")
            self.live[agent] = ok(run).json()["uuid"]
        return bed, self.live[agent]


def target(bed: Bed) -> str:
    """The tmux target for new panes: window `work` on alpha's private server."""
    return f"{bed.tmux.socket_path}:work"


def sesh(bed: Bed, where: str, *args: str, timeout: float = 120, stdin: str | None = None) -> Run:
    """The CLI against the `where` daemon, run with the agents' environment in the bed's project."""
    daemon = bed.daemon(where)
    return daemon.sesh(*args, cwd=bed.cwd, env={**bed.env, "SESH_HOME": str(daemon.home),
                                                 "SESH_MACHINE": daemon.machine}, timeout=timeout, stdin=stdin)


def ok(run: Run) -> Run:
    assert run.code == 0, f"exit {run.code}: {run.err}"
    return run


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)[:3000]
