"""The real claude, codex and pi CLIs against the fake model server: headless and in tmux.

These prove the test bed itself (configs skip every dialog, the wire formats are accepted,
transcripts land where each CLI writes them) before any sesh feature test relies on it.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agent_env import agents_installed, make_agent_env
from tests.fake_llm import FakeLLM
from tests.polling import eventually, scaled
from tests.tmux_helpers import PrivateTmux

pytestmark = pytest.mark.agents

HEADLESS_TIMEOUT_S = 90.0
"""A headless turn against the local fake takes 1-2 s; the rest is headroom for a loaded CI box."""
READY_MARKERS = {"claude": "shift+tab to cycle", "codex": "for shortcuts", "pi": "fake-model"}
"""Footer text each TUI shows once it accepts input."""


@dataclass
class Bed:
    """One test's fake server, isolated agent home and project directory."""

    llm: FakeLLM
    env: dict[str, str]
    cwd: Path


@pytest.fixture
def bed(tmp_path: Path) -> Iterator[Bed]:
    if not agents_installed():
        pytest.skip("agent CLIs not installed: run tests/agents/install.sh")
    cwd = tmp_path / "proj"
    cwd.mkdir()
    with FakeLLM(log_path=tmp_path / "llm.ndjson") as llm:
        yield Bed(llm, make_agent_env(tmp_path / "agent", llm.url, [cwd]), cwd)


def _run(bed: Bed, argv: list[str], expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, cwd=bed.cwd, env=bed.env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=scaled(HEADLESS_TIMEOUT_S), check=False,
    )  # fmt: skip
    assert (proc.returncode == 0) == expect_ok, (
        f"{argv[0]} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    return proc


def _claude_transcript(bed: Bed, session_id: str) -> Path:
    # Every non-alphanumeric character of the cwd becomes '-'.
    project = re.sub(r"[^A-Za-z0-9]", "-", str(bed.cwd))
    return Path(bed.env["CLAUDE_CONFIG_DIR"]) / "projects" / project / f"{session_id}.jsonl"


def _pi_session_dir(bed: Bed) -> Path:
    return (
        Path(bed.env["PI_CODING_AGENT_DIR"]) / "sessions" / ("--" + str(bed.cwd).lstrip("/").replace("/", "-") + "--")
    )


def _codex_rollouts(bed: Bed, thread_id: str = "") -> list[Path]:
    return sorted(Path(bed.env["CODEX_HOME"]).glob(f"sessions/*/*/*/rollout-*{thread_id}.jsonl"))


def _transcripts(bed: Bed, agent: str) -> list[Path]:
    if agent == "claude":
        return sorted(Path(bed.env["CLAUDE_CONFIG_DIR"]).glob("projects/*/*.jsonl"))
    if agent == "codex":
        return _codex_rollouts(bed)
    return sorted(_pi_session_dir(bed).glob("*.jsonl"))


def _saw(bed: Bed, text: str, path: str) -> None:
    entry = bed.llm.wait_for_request(lambda r: r.user_text == text and r.kind == "turn", timeout=10)
    assert entry.path == path and entry.status == 200


# ---- headless ---------------------------------------------------------------------------


def test_claude_headless_json(bed: Bed) -> None:
    message = "hello from claude headless"
    doc = json.loads(_run(bed, ["claude", "-p", "--output-format", "json", message]).stdout)
    assert (doc["type"], doc["subtype"], doc["is_error"]) == ("result", "success", False)
    assert doc["result"] == f"ECHO: {message}"
    _saw(bed, message, "/v1/messages")
    transcript = _claude_transcript(bed, doc["session_id"])
    assert transcript.exists(), f"no transcript at {transcript}"
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert any(r["type"] == "user" and r["message"]["content"] == message for r in records)


def test_codex_exec_json(bed: Bed) -> None:
    message = "hello from codex exec"
    proc = _run(bed, ["codex", "exec", "--json", "--skip-git-repo-check", message])
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    thread_id = next(e["thread_id"] for e in events if e["type"] == "thread.started")
    replies = [
        e["item"]["text"] for e in events if e["type"] == "item.completed" and e["item"]["type"] == "agent_message"
    ]
    assert replies == [f"ECHO: {message}"]
    assert any(e["type"] == "turn.completed" for e in events)
    _saw(bed, message, "/v1/responses")
    assert bed.llm.requests()[-1].headers.get("session-id") == thread_id
    rollouts = _codex_rollouts(bed, thread_id)
    assert len(rollouts) == 1, f"rollouts: {_codex_rollouts(bed)}"
    assert message in rollouts[0].read_text()


def test_pi_print(bed: Bed) -> None:
    message = "hello from pi print"
    assert _run(bed, ["pi", "-p", message]).stdout.strip() == f"ECHO: {message}"
    _saw(bed, message, "/v1/chat/completions")
    sessions = sorted(_pi_session_dir(bed).glob("*.jsonl"))
    assert len(sessions) == 1, f"pi sessions dir: {sorted(Path(bed.env['PI_CODING_AGENT_DIR']).rglob('*.jsonl'))}"
    header, *records = [json.loads(line) for line in sessions[0].read_text().splitlines()]
    assert header["type"] == "session" and header["cwd"] == str(bed.cwd)
    assert any(r.get("message", {}).get("content") == [{"type": "text", "text": message}] for r in records)


HEADLESS_ARGV = {
    "claude": ["claude", "-p"],
    "codex": ["codex", "exec", "--skip-git-repo-check"],
    "pi": ["pi", "-p"],
}
"""Plain-text headless runs: each prints the final reply on stdout."""


@pytest.mark.parametrize("agent", ["claude", "codex", "pi"])
def test_headless_tool_call_runs_and_the_reply_carries_its_output(bed: Bed, agent: str) -> None:
    proc = _run(bed, [*HEADLESS_ARGV[agent], f"TOOL bash echo tool-ran-in-{agent}-$((6*7))"])
    assert proc.stdout.strip().splitlines()[-1] == f"TOOL RESULT: tool-ran-in-{agent}-42"
    assert [r.kind for r in bed.llm.requests() if r.kind != "meta"] == ["tool_call", "tool_result"]


@pytest.mark.parametrize("agent", ["claude", "codex", "pi"])
def test_headless_model_failure_exits_nonzero(bed: Bed, agent: str) -> None:
    proc = _run(bed, [*HEADLESS_ARGV[agent], "please FAIL"], expect_ok=False)
    assert "fake_llm: FAIL directive (HTTP 400)" in proc.stdout + proc.stderr


# ---- interactive, in a private tmux server ---------------------------------------------


@pytest.mark.parametrize("agent", ["claude", "codex", "pi"])
def test_interactive_turn_in_tmux(bed: Bed, agent: str) -> None:
    message = f"hello from {agent} in tmux"
    with PrivateTmux(Path(bed.env["SESH_TEST_TMUX_CONF"])) as tmux:
        pane = tmux.new_session([agent], bed.env, bed.cwd)
        tmux.wait_for_text(pane, READY_MARKERS[agent], timeout=60)
        tmux.send_text(pane, message)
        tmux.wait_for_text(pane, f"ECHO: {message}", timeout=30)
        _saw(bed, message, {"claude": "/v1/messages", "codex": "/v1/responses", "pi": "/v1/chat/completions"}[agent])
        # The transcript appears at the first submitted message (pi: when the reply ends), and
        # claude appends its records asynchronously, so poll for the message to land.
        eventually(
            lambda: any(message in path.read_text() for path in _transcripts(bed, agent)),
            timeout=10,
            interval=0.1,
            what=f"{agent} transcript with the message; files: {_transcripts(bed, agent)}",
        )
