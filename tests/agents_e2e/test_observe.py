"""Agents, part 1, conformance cells: the real CLIs in real tmux panes, observed by real daemons.

Each agent gets one bed per worker (fake server, tmux, daemons alpha + beta linked over the
mesh) and one long-lived agent pane reused across cells; only the kill cells start their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid as uuid_mod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agents_e2e.bed import Bed, Beds, dump, start_and_register
from tests.agents_e2e.matrix import AGENTS, FEATURES, SKIPS, WHERE, all_features, assert_covered, cells
from tests.polling import eventually

pytestmark = pytest.mark.agents


def watch(fetch: Callable[[], dict[str, Any]], predicate: Callable[[dict[str, Any]], bool], timeout: float,
          what: str) -> dict[str, Any]:
    seen: list[Any] = []

    def check() -> dict[str, Any] | None:
        record = fetch()
        seen.append((record.get("turnStatus"), record.get("stateSource"), record.get("live")))
        return record if predicate(record) else None

    try:
        return eventually(check, timeout=timeout, interval=0.05, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstates seen: {seen[-20:]}") from None


def test_matrix_complete() -> None:
    assert_covered(globals(), FEATURES)
    known = all_features()
    for (feature, where, agent) in SKIPS:  # a skip names a real cell of some matrix
        assert feature in known and where in WHERE and agent in AGENTS, (feature, where, agent)


@pytest.mark.parametrize(("where", "agent"), cells("observe_turn"))
def test_observe_turn(beds: Beds, where: str, agent: str) -> None:
    bed, pane, uuid = beds.shared_session(agent)
    daemon = bed.daemon(where)
    fetch = lambda: daemon.call("info", {"uuid": uuid})  # noqa: E731
    before = watch(fetch, lambda r: r.get("turnStatus") == "idle" and r.get("live") is True, 20, "idle and live")
    assert before["tmux"]["pane"] == pane and before["machine"] == "alpha"
    turns_before = len([r for r in bed.llm.requests() if r.user_text])
    bed.send(pane, f"turn {where} SLEEP 3")
    busy = watch(fetch, lambda r: r.get("turnStatus") == "busy", 20, "busy")
    assert busy["stateSource"] in ("claude-registry", "transcript", "pane", "hook")
    done = watch(fetch, lambda r: r.get("turnStatus") == "idle", 30, "idle after the reply")
    assert len([r for r in bed.llm.requests() if r.user_text]) > turns_before
    assert done["live"] is True
    assert isinstance(done["contextPct"], int) and 0 < done["contextPct"] <= 100, dump(done)
    assert done["filePath"] and os.path.exists(done["filePath"])


@pytest.mark.parametrize(("where", "agent"), cells("agent_killed"))
def test_agent_killed(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    pane, uuid = start_and_register(bed, agent)
    daemon = bed.daemon(where)
    fetch = lambda: daemon.call("info", {"uuid": uuid})  # noqa: E731
    watch(fetch, lambda r: r.get("live") is True, 20, "live before the kill")
    shell_pid = bed.tmux.pane_pid(pane)
    os.kill(shell_pid, signal.SIGKILL)  # the agent is the pane's own command
    gone = watch(fetch, lambda r: r.get("live") is False, 20, "not live after the kill")
    assert gone["tmux"] is None and gone["turnStatus"] == "idle"


@pytest.mark.parametrize(("where", "agent"), cells("agents_list"))
def test_agents_list(beds: Beds, where: str, agent: str) -> None:
    bed, pane, uuid = beds.shared_session(agent)
    daemon = bed.daemon(where)
    machine_flag = ["--machine", "alpha"] if where == "remote" else []
    shell = bed.tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-c", str(bed.cwd), "--", "bash").strip()
    unregistered = bed.start_agent(agent, *(["--session-id", str(uuid_mod.uuid4())] if agent == "claude" else []))
    if agent != "claude":  # codex and pi mint their id at the first message
        bed.send(unregistered, "first words")
        bed.tmux.wait_for_text(unregistered, "ECHO: first words", timeout=60)
    try:
        def listed() -> list[dict[str, Any]] | None:
            run = daemon.sesh("agents", "--json", *machine_flag)
            assert run.code == 0, run.err
            mine = [a for a in run.json() if a["tmux"]["pane"] in (pane, unregistered, shell)]
            return mine if len(mine) == 2 and all(a["agentSessionId"] for a in mine) else None

        found = {a["tmux"]["pane"]: a for a in eventually(listed, timeout=30, what="both agents listed")}
        assert shell not in found, "a plain shell pane is not an agent"
        assert found[pane]["registered"] is True and found[pane]["uuid"] == uuid
        assert found[unregistered]["registered"] is False and found[unregistered]["agent"] == agent
        for target, want in ((pane, uuid), (unregistered, found[unregistered]["agentSessionId"])):
            run = daemon.sesh("pane-resolve", "--pane", target, "--socket-path", str(bed.tmux.socket_path),
                              *machine_flag)
            assert (run.code, run.out.strip()) == (0, want), run.err
        refused = daemon.sesh("pane-resolve", "--pane", shell, "--socket-path", str(bed.tmux.socket_path),
                              *machine_flag)
        assert refused.code == 3 and refused.err.startswith(f"sesh: no agent is live in pane {shell}")
    finally:
        bed.tmux.run("kill-pane", "-t", unregistered, check=False)
        bed.tmux.run("kill-pane", "-t", shell, check=False)


@pytest.mark.parametrize(("where", "agent"), cells("tail_transcript"))
def test_tail_transcript(beds: Beds, where: str, agent: str) -> None:
    bed, pane, uuid = beds.shared_session(agent)
    daemon = bed.daemon(where)
    word = f"tailword{uuid_mod.uuid4().hex[:6]}"
    bed.send(pane, word)
    bed.tmux.wait_for_text(pane, f"ECHO: {word}", timeout=60)

    def shown() -> list[dict[str, Any]] | None:
        run = daemon.sesh("transcript", uuid, "--json")
        assert run.code == 0, run.err
        entries = [json.loads(line) for line in run.out.splitlines()]
        texts = [(e["role"], e["text"]) for e in entries]
        has_user = any(role == "user" and word in text for role, text in texts)
        has_reply = any(role == "assistant" and f"ECHO: {word}" in text for role, text in texts)
        return entries if has_user and has_reply else None

    entries = eventually(shown, timeout=20, what="the exchange in the transcript")
    assert set(entries[0]) == {"ts", "role", "type", "text", "tool"}
    tail = daemon.sesh("tail", uuid, "-n", "4")
    assert tail.code == 0 and f"ECHO: {word}" in tail.out, tail.err


@pytest.mark.parametrize(("where", "agent"), cells("discover"))
def test_discover(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    daemon = bed.daemon(where)
    machine_flag = ["--machine", "alpha"] if where == "remote" else []
    prompt = f"headless-{where}-{uuid_mod.uuid4().hex[:6]}"
    argv = {
        "claude": ["claude", "-p", prompt],
        "codex": ["codex", "exec", "--skip-git-repo-check", prompt],
        "pi": ["pi", "-p", prompt],
    }[agent]
    subprocess.run(argv, cwd=bed.cwd, env=bed.env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                   check=True)

    def listed() -> dict[str, Any] | None:
        run = daemon.sesh("discover", "--agent", agent, "--json", *machine_flag)
        assert run.code == 0, run.err
        return next((d for d in run.json() if d.get("firstPrompt") and prompt in d["firstPrompt"]), None)

    item = eventually(listed, timeout=20, what="the headless conversation discovered")
    assert item["agent"] == agent and item["cwd"] == str(bed.cwd) and item["live"] is False
    assert set(item) >= {"agent", "agentSessionId", "cwd", "filePath", "firstPrompt", "lastActivity", "live"}
    adopted = daemon.sesh("discover", "--agent", agent, "--register", "--json", *machine_flag)
    assert adopted.code == 0, adopted.err
    mine = [d for d in adopted.json() if d["agentSessionId"] == item["agentSessionId"]]
    assert len(mine) == 1 and mine[0]["registered"] is True
    again = daemon.sesh("discover", "--agent", agent, "--register", "--json", *machine_flag)
    assert item["agentSessionId"] not in {d["agentSessionId"] for d in again.json()}
    records = [r for r in bed.alpha.call("list", {}) if r.get("agentSessionId") == item["agentSessionId"]]
    assert len(records) == 1 and records[0]["machine"] == "alpha"


LAUNCHER = Path(sys.executable).parent / "sesh"


def pane_cmd(bed: Bed, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**bed.env, "SESH_HOME": str(home or bed.alpha.home)}
    env.pop("TMUX_PANE", None)
    return subprocess.run([str(LAUNCHER), "pane", *args], env=env, capture_output=True, text=True, timeout=10,
                          check=False)


@pytest.mark.xdist_group("agent-claude")
def test_pane_status_line_exit_codes_and_json(beds: Beds) -> None:
    assert LAUNCHER.exists(), "the sesh launcher is installed beside the interpreter"
    bed, pane, uuid = beds.shared_session("claude")
    socket = str(bed.tmux.socket_path)
    eventually(lambda: bed.record("local", uuid).get("turnStatus") == "idle", timeout=20, what="idle")
    idle = pane_cmd(bed, "--pane", pane, "--socket-path", socket)
    assert (idle.returncode, idle.stdout, idle.stderr) == (0, "● claude-main · claude\n", "")
    shaped = json.loads(pane_cmd(bed, "--pane", pane, "--socket-path", socket, "--json").stdout)
    assert set(shaped) == {"uuid", "agent", "cwd", "machine", "name", "turnStatus", "live", "tmux"}
    assert shaped["uuid"] == uuid and shaped["tmux"]["pane"] == pane and shaped["live"] is True
    bed.send(pane, "status SLEEP 3")
    eventually(lambda: bed.record("local", uuid).get("turnStatus") == "busy", timeout=20, what="busy")
    busy = pane_cmd(bed, "--pane", pane, "--socket-path", socket)
    assert (busy.returncode, busy.stdout) == (0, "◐ claude-main · claude\n")
    unknown = pane_cmd(bed, "--pane", "%999", "--socket-path", socket)
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (3, "", "")
    down = pane_cmd(bed, "--pane", pane, "--socket-path", socket, home=bed.root / "no-daemon-here")
    assert (down.returncode, down.stdout, down.stderr) == (4, "", "")
    slow = subprocess.run([sys.executable, "-m", "sesh_mesh", "pane", "--pane", pane, "--socket-path", socket],
                          env={**bed.env, "SESH_HOME": str(bed.alpha.home)}, capture_output=True, text=True,
                          timeout=10, check=False)
    assert slow.returncode == 0 and slow.stdout.endswith("claude-main · claude\n"), "the full CLI agrees"


@pytest.mark.xdist_group("agent-pi")
def test_garbage_or_deleted_transcript_never_stops_the_daemon(beds: Beds) -> None:
    bed, pane, uuid = beds.shared_session("pi")
    path = Path(eventually(lambda: bed.record("local", uuid).get("filePath"), timeout=20, what="filePath"))
    with path.open("ab") as handle:
        handle.write(b'{"type": "message", "message": {"role": \x00\xff garbage\n{not json}\n' + b"\xfe" * 100 + b"\n")
    bed.send(pane, "after garbage")
    bed.tmux.wait_for_text(pane, "ECHO: after garbage", timeout=60)
    eventually(lambda: bed.record("local", uuid).get("turnStatus") == "idle", timeout=20, what="idle after garbage")
    path.unlink()
    bed.send(pane, "after delete")
    bed.tmux.wait_for_text(pane, "ECHO: after delete", timeout=60)
    assert bed.alpha.call("ping")["machine"] == "alpha"
    record = bed.record("local", uuid)
    assert record["live"] is True
    run = bed.alpha.sesh("transcript", uuid)
    assert run.code in (0, 1)  # pi may or may not recreate the file; either way a clean answer
    assert bed.alpha.sesh("list", "--json").code == 0


@pytest.mark.xdist_group("agent-codex")
def test_doctor_reports_each_agent_cli(beds: Beds) -> None:
    bed = beds.bed("codex")
    config = bed.alpha.home / "config.toml"
    config.write_text('[models]\nclaude = "sonnet"\n')
    try:
        run = bed.alpha.sesh("doctor", "--json", env={"PATH": bed.env["PATH"]})
    finally:
        config.unlink()
    checks = {c["check"]: c for c in json.loads(run.out)}
    assert "default model 'sonnet'" in checks["agent-claude"]["detail"]
    assert "the agent's own default model" in checks["agent-pi"]["detail"]
    for agent, version in (("claude", "2.1.329"), ("codex", "0.169.0"), ("pi", "0.73.1")):
        assert checks[f"agent-{agent}"]["status"] == "ok", checks[f"agent-{agent}"]
        assert version in checks[f"agent-{agent}"]["detail"]
    missing = bed.alpha.sesh("doctor", "--json", env={"PATH": "/usr/bin:/bin"})
    assert {c["check"]: c["status"] for c in json.loads(missing.out)}["agent-claude"] == "warn"
