"""Agents, lifecycle cells (issue 11 items 9-12): what `new`, `delete`, `discover` and the pane
lookups answer, with the real CLIs, local and through a second daemon.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid as uuid_mod
from pathlib import Path

import pytest

from tests.agents_e2e.bed import AGENT_ENV_KEYS, READY, Beds, ok, sesh, target
from tests.agents_e2e.matrix import LIFECYCLE_FEATURES, assert_covered, cells
from tests.harness import Daemon
from tests.polling import eventually

pytestmark = pytest.mark.agents


def test_lifecycle_matrix_complete() -> None:
    assert_covered(globals(), LIFECYCLE_FEATURES)


@pytest.mark.parametrize(("where", "agent"), cells("new_lifecycle"))
def test_new_lifecycle(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    machine = ["--machine", "alpha"] if where == "remote" else []
    word = f"born-{where}-{uuid_mod.uuid4().hex[:6]}"
    # No --cwd: the caller's $PWD (bed.cwd) exists on alpha too, so the session starts there.
    run = ok(sesh(bed, where, "new", "--agent", agent, "--target", target(bed), "--name", f"kept-{word}",
                  "--msg", word, *machine))
    assert run.out == f"ECHO: {word}\n", "stdout is the reply alone"
    assert run.err.startswith("new session ") and f"({agent} on alpha, in {bed.cwd})" in run.err, run.err
    uuid = run.err.split()[2]
    record = bed.alpha.call("info", {"uuid": uuid})
    assert record["live"] is True and record["cwd"] == str(bed.cwd)
    assert record["name"] == f"kept-{word}" and record["autoRename"] is False, "a birth name must stop auto-rename"
    # delete --force is for orphans: the live session's owner refuses, wherever it is asked.
    forced = sesh(bed, where, "delete", uuid, "--force")
    assert forced.code == 1 and "is live in a pane on this machine" in forced.err and "sesh stop" in forced.err, forced
    assert bed.alpha.call("info", {"uuid": uuid})["deleted"] is False
    if where == "local":  # entering from a script: a sesh line with the fix, not tmux's "not a terminal"
        entered = sesh(bed, where, "resume", uuid)
        assert entered.code == 1 and "there is no terminal here to attach" in entered.err, entered
        assert f"tmux -S {bed.tmux.socket_path} attach -t {record['tmux']['pane']}" in entered.err
    # A launch tmux cannot make: one sesh line, and no record left behind.
    before = {r["uuid"] for r in bed.alpha.call("list", {"archived": True})}
    broken = sesh(bed, where, "new", "--agent", agent, "--target", "/proc/no-such-dir/sock:work", *machine)
    assert broken.code == 1 and broken.err.startswith(f"sesh: cannot open a tmux window for {agent}: "), broken
    assert "cannot make the tmux socket directory /proc/no-such-dir" in broken.err and "--target" in broken.err
    assert {r["uuid"] for r in bed.alpha.call("list", {"archived": True})} == before, "a failed launch left a record"
    if agent == "claude":  # claude asks whether to trust a new folder: the first message cannot be typed
        untrusted = Path(tempfile.mkdtemp(prefix="untrusted", dir=bed.root))
        asked = sesh(bed, where, "new", "--agent", agent, "--target", target(bed), "--cwd", str(untrusted),
                     "--msg", "hello", *machine)
        assert asked.code == 1 and asked.err.startswith("sesh: session "), asked
        assert "was started on alpha, but the first message was not delivered: the agent shows a dialog" in asked.err
        stuck = asked.err.split()[2]
        assert bed.alpha.call("info", {"uuid": stuck})["live"] is True, "the session the error names is not there"
        bed.tmux.run("kill-pane", "-t", bed.alpha.call("info", {"uuid": stuck})["tmux"]["pane"])
    # A session whose directory was removed: send says so in one line (no FileNotFoundError).
    gone = Path(tempfile.mkdtemp(prefix="gone", dir=bed.root))
    made = ok(sesh(bed, where, "new", "--agent", agent, "--no-launch", "--cwd", str(gone), "--json", *machine)).json()
    gone.rmdir()
    failed = sesh(bed, where, "send", made["uuid"], "hello")
    assert failed.code == 1, failed
    assert failed.err == (f"sesh: session {made['uuid'][:8]}'s working directory {gone} no longer exists (recreate it "
                          f"(mkdir -p {gone}), or start a new session elsewhere with `sesh new --cwd DIR`)\n")


@pytest.mark.parametrize(("where", "agent"), cells("deleted_owns_no_pane"))
def test_deleted_owns_no_pane(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    preset = str(uuid_mod.uuid4())
    ok(sesh(bed, where, "new", "--agent", agent, "--no-launch", "--session-id", preset))
    ok(sesh(bed, where, "delete", preset))
    # The pane sesh would have launched for it (SESH_SESSION_ID set), started after the delete.
    args = ["--session-id", preset] if agent == "claude" else []
    pane = bed.tmux.run("new-window", "-d", "-P", "-F", "#{pane_id}", "-e", f"SESH_SESSION_ID={preset}",
                        "-c", str(bed.cwd), "--", agent, *args).strip()
    bed.tmux.wait_for_text(pane, READY[agent], timeout=60)
    socket = str(bed.tmux.socket_path)

    def seen_unregistered() -> dict[str, object] | None:
        found = [a for a in ok(sesh(bed, where, "agents", "--json")).json() if a["tmux"]["pane"] == pane]
        return found[0] if found else None

    agent_row = eventually(seen_unregistered, timeout=20, what="the agent in the pane")
    assert agent_row["registered"] is False and agent_row["uuid"] is None, agent_row
    shown = sesh(bed, where, "pane", "--pane", pane, "--socket-path", socket)
    assert (shown.code, shown.out, shown.err) == (3, "", ""), "a deleted session owns the pane"
    resolved = sesh(bed, where, "pane-resolve", "--pane", pane, "--socket-path", socket, "--json")
    assert resolved.code in (0, 4), resolved  # 4: codex and pi have no conversation id before a message
    if resolved.code == 0:
        assert resolved.json()["registered"] is False, resolved.out
    bed.tmux.run("kill-pane", "-t", pane)


@pytest.mark.parametrize(("where", "agent"), cells("discover_mesh"))
def test_discover_mesh(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    word = f"known-{uuid_mod.uuid4().hex[:6]}"
    made = ok(sesh(bed, "local", "new", "--agent", agent, "--headless", "--msg", word, "--json")).json()
    agent_id = eventually(lambda: bed.alpha.call("info", {"uuid": made["uuid"]}).get("agentSessionId"),
                          timeout=20, what="the agent's own id")
    # Both daemons read the same agent files here (one machine's disk, two sesh machines).
    eventually(lambda: bed.daemon("remote").call("info", {"uuid": made["uuid"]}).get("agentSessionId") == agent_id,
               timeout=20, what="the record to replicate with its agent id")
    offered = ok(sesh(bed, where, "discover", "--agent", agent, "--json")).json()
    assert agent_id not in {item["agentSessionId"] for item in offered}, "discover offered a registered conversation"


@pytest.mark.parametrize(("where", "agent"), cells("fresh_tmux"))
def test_fresh_tmux(beds: Beds, where: str, agent: str) -> None:
    bed = beds.bed(agent)
    fresh = Path(tempfile.mkdtemp(prefix="tt", dir="/tmp"))  # TMUX_TMPDIR where no tmux ever ran
    env = {k: bed.env[k] for k in AGENT_ENV_KEYS if k in bed.env}
    daemon = Daemon("gamma", extra_env={**env, "TMUX_TMPDIR": str(fresh), "SESH_TMUX_SOCKETS": ""}).start()
    socket = fresh / f"tmux-{os.getuid()}" / "default"
    try:
        word = f"fresh-{uuid_mod.uuid4().hex[:6]}"
        run = daemon.sesh("new", "--agent", agent, "--msg", word, "--json", cwd=bed.cwd,
                          env={**bed.env, "SESH_HOME": str(daemon.home), "SESH_MACHINE": "gamma",
                               "TMUX_TMPDIR": str(fresh)}, timeout=120)
        made = ok(run).json()
        assert made["reply"] == f"ECHO: {word}" and made["live"] is True
        assert made["tmux"]["socket"] == str(socket), made["tmux"]
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["tmux", "-S", str(socket), "kill-server"], check=False, capture_output=True, timeout=10)
        daemon.stop()
        shutil.rmtree(daemon.home, ignore_errors=True)
        shutil.rmtree(fresh, ignore_errors=True)
