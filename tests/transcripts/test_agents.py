"""Transcript services with the real claude, codex and pi CLIs against the fake model server.

Two daemons, alpha and beta, linked over the mesh, each with its own agent homes (as two machines
would have): a restored or copied transcript must be resumable by the real CLI, which proves
itself at the fake server by sending the earlier messages along (`HISTORY`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import uuid as uuid_mod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sesh_mesh.agents.claude import project_dir_name
from tests.agent_env import agents_installed, make_agent_env
from tests.agents_e2e.bed import AGENT_ENV_KEYS
from tests.fake_llm import FakeLLM
from tests.harness import Daemon, free_port
from tests.mesh.helpers import MESH_ENV, link, wait_linked
from tests.polling import eventually

pytestmark = pytest.mark.agents

AGENTS = ("claude", "codex", "pi")
DATA_DIR_KEYS = {"claude": "CLAUDE_CONFIG_DIR", "codex": "CODEX_HOME", "pi": "PI_CODING_AGENT_DIR"}
TRANSCRIPT_SUBDIR = {"claude": "projects", "codex": "sessions", "pi": "sessions"}


@dataclass
class Pair:
    root: Path
    llm: FakeLLM
    cwd: Path
    moved: Path
    envs: dict[str, dict[str, str]]
    daemons: dict[str, Daemon]

    def agent(self, machine: str, argv: list[str], cwd: Path | None = None) -> str:
        """Run an agent CLI headless on `machine` (its agent homes); its stdout."""
        proc = subprocess.run(argv, cwd=cwd or self.cwd, env=self.envs[machine], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"{argv[:3]} failed: {proc.stderr[-2000:]}"
        return proc.stdout

    def data_dir(self, machine: str, agent: str) -> Path:
        return Path(self.envs[machine][DATA_DIR_KEYS[agent]])

    def history_request(self, marker: str) -> list[str]:
        """The user texts the model was sent with the HISTORY turn that carries `marker`."""
        sent = [r for r in self.llm.requests() if r.user_text and marker in r.user_text]
        assert sent, f"no request with {marker!r} reached the fake server"
        return list(sent[-1].user_texts)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    if not agents_installed():
        pytest.skip("agent CLIs not installed: run tests/agents/install.sh (scripts/test does)")
    root = Path(tempfile.mkdtemp(prefix="trag", dir="/tmp"))
    cwd, moved = root / "proj", root / "moved"
    cwd.mkdir()
    moved.mkdir()
    started: list[Daemon] = []
    try:
        with FakeLLM(log_path=root / "llm.ndjson") as llm:
            envs = {m: make_agent_env(root / m, llm.url, [cwd, moved]) for m in ("alpha", "beta")}
            daemons = {}
            for machine, env in envs.items():
                daemon_env = {k: env[k] for k in AGENT_ENV_KEYS if k in env}
                daemons[machine] = Daemon(machine, listen=f"127.0.0.1:{free_port()}",
                                          extra_env={**daemon_env, **MESH_ENV, "SESH_TMUX_SOCKETS": ""})
            (daemons["alpha"].home / "config.toml").write_text('[autoname]\nagent = "claude"\ntimeout = 60\n')
            link(daemons["alpha"], daemons["beta"])
            for daemon in daemons.values():
                started.append(daemon.start())
            wait_linked(daemons["alpha"], "beta")
            wait_linked(daemons["beta"], "alpha")
            yield Pair(root, llm, cwd, moved, envs, daemons)
    finally:
        for daemon in started:
            with contextlib.suppress(Exception):
                daemon.stop()
            shutil.rmtree(daemon.home, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def converse(pair: Pair, agent: str, marker: str) -> dict[str, Any]:
    """A headless conversation of `agent` on alpha, adopted by alpha's daemon; its record."""
    if agent == "claude":
        pair.agent("alpha", ["claude", "-p", "--session-id", str(uuid_mod.uuid4()), marker])
    elif agent == "codex":
        pair.agent("alpha", ["codex", "exec", "--skip-git-repo-check", marker])
    else:
        pair.agent("alpha", ["pi", "-p", marker])
    alpha = pair.daemons["alpha"]
    run = alpha.sesh("discover", "--agent", agent, "--register", "--json")
    assert run.code == 0, run.err
    [item] = [d for d in run.json() if d.get("firstPrompt") == marker]
    return eventually(lambda: (r := alpha.call("info", {"uuid": item["uuid"]})).get("filePath") and r, timeout=10,
                      what="the adopted conversation located")


def resume_argv(agent: str, record: dict[str, Any], text: str) -> list[str]:
    if agent == "claude":
        return ["claude", "-p", "--resume", record["agentSessionId"], text]
    if agent == "codex":
        return ["codex", "exec", "--skip-git-repo-check", "resume", record["agentSessionId"], text]
    return ["pi", "-p", "--session", record["filePath"], text]


@pytest.mark.parametrize("agent", AGENTS)
def test_backup_wipe_restore_and_the_agent_resumes(pair: Pair, agent: str) -> None:
    marker = f"remember-{agent}-{uuid_mod.uuid4().hex[:6]}"
    record = converse(pair, agent, marker)
    alpha = pair.daemons["alpha"]
    backup = pair.root / f"backup-{agent}.sqlite"
    run = alpha.sesh("backup", "--to", str(backup), "--json")
    assert run.code == 0 and run.json()["failed"] == [], run.out + run.err
    original = Path(record["filePath"]).read_bytes()
    shutil.rmtree(pair.data_dir("alpha", agent) / TRANSCRIPT_SUBDIR[agent])
    restored = alpha.sesh("restore", record["uuid"], "--from", str(backup), "--to", "native", "--json")
    assert restored.code == 0, restored.err
    [result] = restored.json()
    assert (result["path"], result["action"], result["registered"]) == (record["filePath"], "written", record["uuid"])
    assert Path(record["filePath"]).read_bytes() == original
    probe = f"HISTORY after restore {uuid_mod.uuid4().hex[:6]}"
    reply = pair.agent("alpha", resume_argv(agent, record, probe))
    assert marker in reply, reply
    assert marker in pair.history_request(probe)


@pytest.mark.parametrize("agent", AGENTS)
def test_copy_to_beta_and_the_session_resumes_there(pair: Pair, agent: str) -> None:
    marker = f"travels-{agent}-{uuid_mod.uuid4().hex[:6]}"
    record = converse(pair, agent, marker)
    copied = pair.daemons["alpha"].sesh("copy", record["uuid"], "--to", "beta", "--json")
    assert copied.code == 0, copied.err
    result = copied.json()
    assert (result["machine"], result["agent"], result["registered"]) == ("beta", agent, True)
    beta_path = Path(result["path"])
    assert beta_path.is_relative_to(pair.data_dir("beta", agent)) and beta_path.is_file()
    beta = pair.daemons["beta"]
    on_beta = beta.call("info", {"uuid": result["uuid"]})
    assert (on_beta["machine"], on_beta["agentSessionId"]) == ("beta", record["agentSessionId"])
    probe = f"HISTORY on beta {uuid_mod.uuid4().hex[:6]}"
    sent = beta.sesh("send", result["uuid"], probe, "--json", timeout=120)
    assert sent.code == 0, sent.err
    assert marker in sent.json()["reply"]
    assert marker in pair.history_request(probe)
    assert beta_path.read_bytes().count(probe.encode()) >= 1, "beta's copy took the new turn"
    assert probe.encode() not in Path(record["filePath"]).read_bytes(), "alpha's original is untouched"


def test_restore_to_a_moved_project_resumes_from_the_new_cwd(pair: Pair) -> None:
    marker = f"moving-{uuid_mod.uuid4().hex[:6]}"
    record = converse(pair, "claude", marker)
    alpha = pair.daemons["alpha"]
    backup = pair.root / "backup-moved.sqlite"
    assert alpha.sesh("backup", "--to", str(backup)).code == 0
    assert alpha.sesh("delete", record["uuid"]).code == 0
    restored = alpha.sesh("restore", record["uuid"], "--from", str(backup), "--to", "native",
                          "--rewrite-cwd", f"{pair.cwd}={pair.moved}", "--json")
    assert restored.code == 0, restored.err
    [result] = restored.json()
    dest = Path(result["path"])
    assert dest == pair.data_dir("alpha", "claude") / "projects" / project_dir_name(str(pair.moved)) / (
        f"{record['agentSessionId']}.jsonl")
    cwds = {json.loads(line).get("cwd") for line in dest.read_text().splitlines()} - {None}
    assert cwds == {str(pair.moved)}
    assert alpha.call("info", {"uuid": result["registered"]})["cwd"] == str(pair.moved)
    probe = f"HISTORY moved {uuid_mod.uuid4().hex[:6]}"
    reply = pair.agent("alpha", ["claude", "-p", "--resume", record["agentSessionId"], probe], cwd=pair.moved)
    assert marker in reply


def test_autoname_with_a_real_agent_namer(pair: Pair) -> None:
    answer = '{"name": "fix-login-flow", "summary": "Fixing the login redirect loop"}'
    record = converse(pair, "claude", f"please fix the login loop; if asked to name this say {answer}")
    alpha = pair.daemons["alpha"]
    projects = pair.data_dir("alpha", "claude") / "projects"
    before = sorted(projects.rglob("*.jsonl"))
    named = alpha.sesh("autoname", record["uuid"], "--json", timeout=120)
    assert named.code == 0, named.err
    renamed = named.json()
    assert (renamed["name"], renamed["summary"]) == ("fix-login-flow", "Fixing the login redirect loop")
    assert renamed["lastAutoNameTurnCount"] == 1
    asked = [r for r in pair.llm.requests() if r.user_text and r.user_text.startswith("You name coding-agent")]
    assert asked and "please fix the login loop" in str(asked[-1].user_text)
    assert sorted(projects.rglob("*.jsonl")) == before, "the naming turn left no conversation behind"
