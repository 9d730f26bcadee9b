"""No config at all: an agent installed in a shim directory the daemon's PATH lacks is found (and
`doctor` says where), and `autoname` names a session with that agent (a real pi) as its namer."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.agent_env import NODE_BIN, agents_installed, make_agent_env
from tests.agents_e2e.bed import AGENT_ENV_KEYS
from tests.fake_llm import FakeLLM
from tests.harness import Daemon

pytestmark = pytest.mark.agents

BARE_PATH = "/usr/bin:/bin"
"""node is there; the pinned agent CLIs are not (they live in tests/agents/node_modules/.bin)."""


def test_pi_in_local_bin_names_a_session_with_no_config() -> None:
    if not agents_installed():
        pytest.skip("agent CLIs not installed: run tests/agents/install.sh (scripts/test does)")
    assert shutil.which("pi", path=BARE_PATH) is None, "pi is on the bare PATH: the test would prove nothing"
    root = Path(tempfile.mkdtemp(prefix="oobx", dir="/tmp"))
    cwd = root / "proj"
    cwd.mkdir()
    daemon: Daemon | None = None
    try:
        with FakeLLM(log_path=root / "llm.ndjson") as llm:
            env = make_agent_env(root / "m", llm.url, [cwd])
            shim_dir = Path(env["HOME"]) / ".local" / "bin"
            shim_dir.mkdir(parents=True)
            (shim_dir / "pi").symlink_to(NODE_BIN / "pi")
            daemon_env = {**{k: env[k] for k in AGENT_ENV_KEYS if k in env}, "PATH": BARE_PATH,
                          "SESH_TMUX_SOCKETS": ""}
            daemon = Daemon("alpha", extra_env=daemon_env).start()
            assert not (daemon.home / "config.toml").exists() or not (daemon.home / "config.toml").read_text()

            doctor = daemon.sesh("doctor", "--json")
            [pi] = [c for c in doctor.json() if c["check"] == "agent-pi"]
            assert pi["status"] == "ok", pi
            assert pi["detail"].startswith(f"{shim_dir / 'pi'} (from ~/.local/bin; "), pi["detail"]

            answer = '{"name": "tidy-the-parser", "summary": "Tidying the config parser"}'
            kept = daemon.sesh("delegate", "--agent", "pi", "--keep", "--json", "--cwd", str(cwd),
                               f"tidy the parser; if asked to name this say {answer}", timeout=120)
            assert kept.code == 0, kept.err
            uuid = kept.json()["uuid"]
            sessions = Path(env["PI_CODING_AGENT_DIR"]) / "sessions"
            before = sorted(sessions.rglob("*.jsonl"))

            named = daemon.sesh("autoname", uuid, "--json", timeout=120)
            assert named.code == 0, named.err
            assert (named.json()["name"], named.json()["summary"]) == ("tidy-the-parser", "Tidying the config parser")
            asked = [r for r in llm.requests() if r.user_text and r.user_text.startswith("You name coding-agent")]
            assert asked and "tidy the parser" in str(asked[-1].user_text), "the namer was not pi's fake-model turn"
            assert sorted(sessions.rglob("*.jsonl")) == before, "the naming turn left a pi session behind"
    finally:
        if daemon is not None:
            with contextlib.suppress(Exception):
                daemon.stop()
            shutil.rmtree(daemon.home, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
