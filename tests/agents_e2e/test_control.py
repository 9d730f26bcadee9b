"""Agents, part 2, conformance cells: control verbs with the real CLIs, local and via the mesh.

Local cells run the CLI against alpha (the owner); remote cells run it against beta, which
forwards to alpha over the mesh. Either way the effect is asserted at the source of truth:
alpha's tmux server, the fake model server's request log, the files the agent wrote.
"""

from __future__ import annotations

import time
import uuid as uuid_mod
from pathlib import Path
from typing import Any

import pytest

from tests.agents_e2e.bed import Bed, Beds, ok, sesh, target
from tests.agents_e2e.matrix import AGENTS, CONTROL_FEATURES, assert_covered, cells
from tests.harness import Run
from tests.polling import eventually

pytestmark = pytest.mark.agents


def resume_op(bed: Bed, uuid: str, where: str | None = None) -> Any:
    """The daemon's resume op with the agent environment as the caller's (the CLI would then
    switch a tmux client to the pane, which a test has none of)."""
    args = {"uuid": uuid, "target": where or target(bed)}
    return bed.alpha.client().call("resume", args, {"env": bed.env, "cwd": str(bed.cwd)})


def seen_by_llm(bed: Bed, text: str) -> list[Any]:
    return [r for r in bed.llm.requests() if any(text in t for t in r.user_texts)]


def panes_running(bed: Bed) -> dict[str, str]:
    out = bed.tmux.run("list-panes", "-a", "-F", "#{pane_id} #{pane_current_command} #{pane_dead}")
    return {line.split()[0]: line for line in out.splitlines()}


def test_control_matrix_complete() -> None:
    assert_covered(globals(), CONTROL_FEATURES)


@pytest.mark.parametrize(("where", "agent"), cells("new_pane"))
def test_new_pane(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    before = set(bed.alpha.records())
    dry = ok(sesh(bed, where, "new", "--agent", agent, "--target", target(bed), "--dry-run", "--json",
                  *(["--machine", "alpha"] if where == "remote" else []))).json()
    assert set(dry) == {"argv", "env", "cwd", "tmux"} and dry["argv"][0].endswith(agent)
    assert set(bed.alpha.records()) == before, "--dry-run registered something"
    only = ok(sesh(bed, where, "new", "--agent", agent, "--no-launch", "--name", "paper", "--json",
                   *(["--machine", "alpha"] if where == "remote" else []))).json()
    assert only["live"] is False and only["machine"] == "alpha"
    assert only["contextPct"] is None, "no turn yet: context use is unknown"
    assert not any(p for p in panes_running(bed).values() if "paper" in p)
    preset = str(uuid_mod.uuid4())
    marker = f"born-{where}-{uuid_mod.uuid4().hex[:6]}"
    run = sesh(bed, where, "new", "--agent", agent, "--target", target(bed), "--session-id", preset, "--msg", marker,
               "--json", *(["--machine", "alpha"] if where == "remote" else []))
    made = ok(run).json()
    assert made["uuid"] == preset and made["machine"] == "alpha" and made["live"] is True
    assert made["reply"] == f"ECHO: {marker}"
    assert seen_by_llm(bed, marker), "the fake model never received the first message"
    pane = made["tmux"]["pane"]
    assert pane in panes_running(bed), "the agent does not run in alpha's tmux server"
    assert made["tmux"]["socket"] == str(bed.tmux.socket_path)
    record = eventually(lambda: (r := bed.alpha.call("info", {"uuid": preset})).get("agentSessionId") and r,
                        timeout=20, what="the agent's own id")
    used = eventually(lambda: bed.alpha.call("info", {"uuid": preset}).get("contextPct"), timeout=20,
                      what="contextPct after the first turn")
    assert 0 < used <= 100, "contextPct did not move after a turn"
    if agent == "claude":
        assert record["agentSessionId"] == preset
    else:  # codex and pi mint their own id; sesh discovers it
        assert record["agentSessionId"] != preset and len(record["agentSessionId"]) == 36
    pane_env = Path(f"/proc/{bed.tmux.pane_pid(pane)}/environ").read_bytes().split(b"\0")
    assert f"SESH_SESSION_ID={preset}".encode() in pane_env, "the agent's pane lacks SESH_SESSION_ID"
    if where == "remote":
        assert bed.daemon("remote").call("info", {"uuid": preset})["machine"] == "alpha"


@pytest.mark.parametrize(("where", "agent"), cells("send_pane"))
def test_send_pane(beds: Beds, where: str, agent: str) -> None:
    bed, uuid = beds.live_session(agent)
    word = f"pane-{where}-{uuid_mod.uuid4().hex[:6]}"
    reply = ok(sesh(bed, where, "send", uuid[:8], word)).out
    assert reply == f"ECHO: {word}\n"
    pane = bed.alpha.call("info", {"uuid": uuid})["tmux"]["pane"]
    # The reply comes from the transcript, which the agent may write before it redraws its pane.
    eventually(lambda: f"ECHO: {word}" in bed.tmux.capture(pane, history=True), 10,
               what="the reply in the pane it came through")
    multi = f"first line {word}\nsecond line"
    shaped = ok(sesh(bed, where, "send", uuid, multi, "--json")).json()
    assert set(shaped) == {"uuid", "reply", "usage", "durationMs", "delivery", "via"}
    assert shaped["via"] == "pane", shaped
    assert shaped["delivery"] == "delivered"
    assert shaped["reply"] == f"ECHO: {multi}"
    assert any(multi in t for r in seen_by_llm(bed, word) for t in r.user_texts), "multi-line text was split"
    empty = sesh(bed, where, "send", uuid, "   ")
    assert (empty.code, empty.err) == (2, "sesh: message is empty (give the text to send)\n")


@pytest.mark.parametrize(("where", "agent"), cells("send_headless"))
def test_send_headless(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    first = f"remember-{uuid_mod.uuid4().hex[:6]}"
    made = ok(sesh(bed, "local", "new", "--agent", agent, "--target", target(bed), "--msg", first, "--json")).json()
    uuid = made["uuid"]
    ok(sesh(bed, "local", "stop", uuid))
    assert bed.alpha.call("info", {"uuid": uuid})["live"] is False
    panes_before = set(panes_running(bed))
    reply = ok(sesh(bed, where, "send", uuid, "HISTORY")).out
    assert first in reply, f"the headless turn lacked the earlier history: {reply!r}"
    assert set(panes_running(bed)) == panes_before, "a headless send opened a pane"
    record = bed.alpha.call("info", {"uuid": uuid})
    assert record["live"] is False and record["turnStatus"] == "idle"
    # Live again: a send must go through the pane, never fork the conversation headless.
    placed = resume_op(bed, uuid)
    word = f"live-again-{uuid_mod.uuid4().hex[:6]}"
    sent = ok(sesh(bed, where, "send", uuid, word, "--json")).json()
    assert sent["via"] == "pane" and sent["reply"] == f"ECHO: {word}", sent
    # The reply comes from the transcript, which the agent may write before it redraws its pane.
    bed.tmux.wait_for_text(placed["tmux"]["pane"], f"ECHO: {word}", timeout=10)


@pytest.mark.parametrize(("where", "agent"), cells("await_abort"))
def test_await_abort(beds: Beds, where: str, agent: str) -> None:
    bed, uuid = beds.live_session(agent)
    ok(sesh(bed, where, "send", uuid, "short wait SLEEP 3", "--no-wait"))
    start = time.monotonic()
    status = ok(sesh(bed, where, "await", uuid, "--json")).json()
    assert status["turnStatus"] == "idle" and time.monotonic() - start > 0.5, "await returned before the turn ended"
    assert bed.alpha.call("info", {"uuid": uuid})["turnStatus"] == "idle"
    timed = sesh(bed, where, "await", uuid, "--timeout", "-1")
    assert timed.code == 2 and "negative duration" in timed.err
    job = f"long job {uuid_mod.uuid4().hex[:6]} SLEEP 20"
    ok(sesh(bed, where, "send", uuid, job, "--no-wait"))
    bed.llm.wait_for_request(lambda r: any(job in t for t in r.user_texts), timeout=20)
    eventually(lambda: bed.alpha.call("info", {"uuid": uuid})["turnStatus"] == "busy", timeout=15, what="busy")
    start = time.monotonic()
    ok(sesh(bed, where, "abort", uuid))
    ok(sesh(bed, where, "await", uuid, "--timeout", "15"))
    assert time.monotonic() - start < 15, "abort did not end the SLEEP 20 turn early"

    def cut_off() -> list[Any] | None:
        calls = [r for r in bed.llm.requests() if r.user_text and job in r.user_text]
        return calls if calls and all(r.aborted for r in calls) else None

    try:
        eventually(cut_off, timeout=15, what="the model's reply to be cut off by the abort")
    except AssertionError:
        calls = [(r.user_text, r.aborted) for r in bed.llm.requests() if r.user_text and job in r.user_text]
        raise AssertionError(f"requests for the aborted turn: {calls}") from None
    beds.live.pop(agent, None)  # an aborted pane may hold leftover input; start fresh next time


@pytest.mark.parametrize(("where", "agent"), cells("compact"))
def test_compact(beds: Beds, where: str, agent: str) -> None:
    bed, uuid = beds.live_session(agent)
    ok(sesh(bed, where, "send", uuid, f"context {uuid_mod.uuid4().hex[:6]}"))
    count = len(bed.llm.requests())
    ok(sesh(bed, where, "compact", uuid))

    def compaction_seen() -> bool:
        return any(r.kind == "compact" for r in bed.llm.requests()[count:])

    eventually(compaction_seen, timeout=40, what="a compaction request at the fake server")
    eventually(lambda: bed.alpha.call("info", {"uuid": uuid})["turnStatus"] == "idle", timeout=30, what="idle")


@pytest.mark.parametrize(("where", "agent"), cells("delegate"))
def test_delegate(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    task = f"task-{where}-{uuid_mod.uuid4().hex[:6]}"
    before = {r["uuid"] for r in bed.alpha.call("list", {"archived": True})}
    machine = ["--machine", "alpha"] if where == "remote" else []
    out = ok(sesh(bed, where, "delegate", "--agent", agent, task, *machine)).out
    assert out == f"ECHO: {task}\n"
    after = {r["uuid"] for r in bed.alpha.call("list", {"archived": True})}
    assert after == before, "delegate left its session behind"
    kept = ok(sesh(bed, where, "delegate", "--agent", agent, "--keep", "--json", f"keep {task}", *machine)).json()
    assert kept["reply"] == f"ECHO: keep {task}"
    assert bed.alpha.call("info", {"uuid": kept["uuid"]})["deleted"] is False
    failed = sesh(bed, where, "delegate", "--agent", agent, f"FAIL {task}", *machine)
    assert failed.code != 0 and failed.err.startswith("sesh: "), failed


@pytest.mark.parametrize(("where", "agent"), cells("headless_child"))
def test_headless_child(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    machine = ["--machine", "alpha"] if where == "remote" else []
    first = f"child-{uuid_mod.uuid4().hex[:6]}"
    made = ok(sesh(bed, where, "new", "--agent", agent, "--headless", "--msg", first, "--json", *machine)).json()
    assert made["reply"] == f"ECHO: {first}" and made["live"] is False
    uuid = made["uuid"]
    ok(sesh(bed, where, "send", uuid, "second"))
    history = ok(sesh(bed, where, "send", uuid, "HISTORY")).out
    assert first in history and "second" in history, history
    record = bed.alpha.call("info", {"uuid": uuid})
    assert record["agentSessionId"] and record["headless"] is True and record["live"] is False
    missing = sesh(bed, where, "new", "--agent", agent, "--headless", *machine)
    assert missing.code == 2 and "--headless needs --msg" in missing.err


@pytest.mark.parametrize(("where", "agent"), cells("sandbox"))
def test_sandbox(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    machine = ["--machine", "alpha"] if where == "remote" else []
    tag = uuid_mod.uuid4().hex[:6]

    def write_task(name: str) -> tuple[Path, str]:
        path = bed.cwd / f"{name}-{where}-{tag}.txt"
        return path, f"TOOL bash echo hi > {path}"

    # delegate answers and does not mutate, unless told otherwise: the turn runs, no file appears.
    locked, task = write_task("locked")
    ok(sesh(bed, where, "delegate", "--agent", agent, task, *machine))
    assert seen_by_llm(bed, task), "the read-only task never reached the model"
    assert not locked.exists(), "a default (read-only) delegate wrote a file"
    free, task = write_task("free")
    ok(sesh(bed, where, "delegate", "--agent", agent, "--write", task, *machine))
    assert free.exists(), "delegate --write could not write"
    confined, task = write_task("workspace")
    ran = sesh(bed, where, "delegate", "--agent", agent, "--sandbox", "workspace-write", task, *machine)
    if agent == "pi":  # pi has tools, not a sandbox: it cannot keep a write inside the workspace
        refusal = ("sesh: pi cannot honour --sandbox workspace-write: its tools read and write anywhere (use "
                   "--sandbox read-only, or --sandbox danger-full-access (pi's default tools))\n")
        assert (ran.code, ran.err) == (2, refusal)
        assert not seen_by_llm(bed, task), "a refused mode still ran a turn"
    else:
        ok(ran)
        assert confined.exists(), "--sandbox workspace-write could not write in the workspace"
    # A kept read-only delegate stays read-only when a later send runs it headless again.
    kept = ok(sesh(bed, where, "delegate", "--agent", agent, "--keep", "--json", f"keep-{tag}", *machine)).json()
    assert bed.alpha.call("info", {"uuid": kept["uuid"]})["sandbox"] == "read-only"
    later, task = write_task("later")
    ok(sesh(bed, where, "send", kept["uuid"], task))
    assert seen_by_llm(bed, task), "the later send never reached the model"
    assert not later.exists(), "a headless send dropped the session's read-only mode"


@pytest.mark.parametrize(("where", "agent"), cells("stop_resume"))
def test_stop_resume(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    first = f"before-stop-{uuid_mod.uuid4().hex[:6]}"
    made = ok(sesh(bed, "local", "new", "--agent", agent, "--target", target(bed), "--msg", first, "--json")).json()
    uuid = made["uuid"]
    stopped = ok(sesh(bed, where, "stop", uuid, "--json")).json()
    assert stopped["live"] is False and stopped["deleted"] is False
    assert made["tmux"]["pane"] not in panes_running(bed)
    assert bed.alpha.call("info", {"uuid": uuid})["live"] is False
    placed = resume_op(bed, uuid)
    assert placed["action"] == "goto" and placed["tmux"]["pane"] in panes_running(bed)
    reply = ok(sesh(bed, where, "send", uuid, "HISTORY")).out
    assert first in reply, "the resumed agent lost its history"
    assert bed.alpha.call("info", {"uuid": uuid})["tmux"]["pane"] == placed["tmux"]["pane"]
    again = resume_op(bed, uuid)
    assert again["tmux"]["pane"] == placed["tmux"]["pane"], "resume of a live session must not relaunch it"
    refused = sesh(bed, where, "delete", uuid)
    assert refused.code == 1 and "stop it first" in refused.err


def test_bad_input_changes_nothing(beds: Beds) -> None:
    bed = beds.bed("claude")
    before = bed.alpha.records()
    panes_before = set(panes_running(bed))
    cases = [
        (["send", "0b6c1d2e", " "], 2, "sesh: message is empty (give the text to send)"),
        (["await", "0b6c", "--timeout", "-5"], 2,
         "sesh: negative duration '-5' for --timeout (use 0 for no limit or a positive duration)"),
        (["new", "--agent", "gemini"], 2, "sesh: unknown agent 'gemini' (use claude, codex or pi)"),
        (["new", "--agent", "claude", "--session-id", "nope"], 2,
         "sesh: malformed session id 'nope' (pass a uuid like 123e4567-e89b-12d3-a456-426614174000)"),
        (["new", "--agent", "claude", "--cwd", "/does/not/exist"], 2,
         "sesh: cwd '/does/not/exist' does not exist or is not a directory (pass --cwd with an existing directory)"),
    ]
    for argv, code, line in cases:
        run = sesh(bed, "local", *argv)
        assert (run.code, run.err) == (code, line + "\n"), argv
    missing = bed.alpha.sesh("new", "--agent", "codex", "--model", "gpt-x", "--no-launch", cwd=bed.cwd,
                             env={**bed.env, "PATH": "/usr/bin:/bin", "SESH_HOME": str(bed.alpha.home)})
    assert missing.code == 1 and missing.err.startswith("sesh: the codex binary was not found (looked in PATH, "
                                                        "~/.local/bin, "), missing
    assert bed.alpha.records() == before
    assert set(panes_running(bed)) == panes_before, "a refused command still opened a pane"


@pytest.mark.parametrize("agent", [pytest.param(a, marks=pytest.mark.xdist_group(f"agent-{a}")) for a in ("claude",
                                                                                                         "codex")])
def test_trust_dialog_shows_as_needs_input_and_pane_keys_answers_it(beds: Beds, agent: str) -> None:
    bed = beds.bed(agent)
    untrusted = bed.root / f"untrusted-{agent}"
    untrusted.mkdir()
    import subprocess

    subprocess.run(["git", "init", "-q", str(untrusted)], check=True)  # codex asks about git repos
    made = ok(sesh(bed, "local", "new", "--agent", agent, "--target", target(bed), "--cwd", str(untrusted),
                   "--json")).json()
    uuid = made["uuid"]
    waiting = eventually(lambda: (r := bed.alpha.call("info", {"uuid": uuid})).get("needsInput") and r, timeout=30,
                         what="needsInput from the trust dialog")
    assert waiting["live"] is True
    shown = ok(sesh(bed, "local", "pane-capture", uuid)).out
    assert "trust" in shown.lower(), shown
    pane_line = ok(subprocess_pane(bed, waiting["tmux"]["pane"])).out
    assert pane_line.split()[0].endswith("!"), f"the status line lacks the needs-input mark: {pane_line!r}"
    keys = ["Down", "Enter"] if agent == "claude" else ["Enter"]  # claude's first choice is "No, exit"
    ok(sesh(bed, "local", "pane-keys", uuid, *keys))
    eventually(lambda: not bed.alpha.call("info", {"uuid": uuid}).get("needsInput"), timeout=30,
               what="needsInput cleared after answering")
    reply = ok(sesh(bed, "local", "send", uuid, "trusted now")).out
    assert reply == "ECHO: trusted now\n"


def subprocess_pane(bed: Bed, pane: str) -> Run:
    import subprocess
    import sys

    launcher = Path(sys.executable).parent / "sesh"
    done = subprocess.run([str(launcher), "pane", "--pane", pane, "--socket-path", str(bed.tmux.socket_path)],
                          env={**bed.env, "SESH_HOME": str(bed.alpha.home)}, capture_output=True, text=True,
                          timeout=10, check=False)
    return Run(done.returncode, done.stdout, done.stderr)



@pytest.mark.parametrize("agent", [pytest.param(a, marks=pytest.mark.xdist_group(f"agent-{a}")) for a in AGENTS])
def test_compact_headless(beds: Beds, agent: str) -> None:
    bed = beds.bed(agent)
    made = ok(sesh(bed, "local", "new", "--agent", agent, "--headless", "--msg", f"to compact {agent}",
                   "--json")).json()
    uuid = made["uuid"]
    count = len(bed.llm.requests())
    run = sesh(bed, "local", "compact", uuid, "--json")
    if agent == "codex":
        assert run.code == 1 and run.err.startswith("sesh: not implemented: headless compaction for codex")
        assert len(bed.llm.requests()) == count, "a refused compaction still reached the model"
        return
    assert ok(run).json()["compact"] == "done"
    assert any(r.kind == "compact" for r in bed.llm.requests()[count:]), "no compaction request at the model"
    history = ok(sesh(bed, "local", "send", uuid, "HISTORY")).out
    assert "to compact" in history or "SUMMARY" in history or "summar" in history.lower(), history
