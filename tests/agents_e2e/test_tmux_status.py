"""Daemon-stamped tmux status options on a real agent's pane (one pi, one bed, one test).

The status-right `sesh tmux-setup --apply` sets on the bed's private server is drawn by a real
client (the inner server attached inside an outer tmux's pane), so what the test reads is
what a user sees. The session's name carries `#(touch …)` and `#{…}`: it must be drawn
verbatim and run nothing.
"""

from __future__ import annotations

import shutil
import uuid as uuid_mod
from collections.abc import Iterator
from pathlib import Path

import pytest

from sesh_mesh.glyphs import GLYPH_BUSY, GLYPH_IDLE
from tests.agents_e2e.bed import Bed, make_bed, ok, sesh, start_and_register
from tests.harness import Daemon
from tests.mesh.helpers import link, mesh_daemon, wait_linked
from tests.polling import eventually
from tests.tmux_helpers import PrivateTmux

pytestmark = pytest.mark.agents

OPTIONS = ("@sesh_id", "@sesh_name", "@sesh_state", "@sesh_line")


@pytest.fixture(scope="module")
def bed() -> Iterator[Bed]:
    with make_bed(with_remote=False) as made:
        made.keep_server_up()
        yield made


@pytest.fixture
def far(bed: Bed) -> Iterator[tuple[Daemon, PrivateTmux]]:
    """A peer machine ("beta") with a tmux server of its own (a shell pane, no agent): the remote
    cell, whose server shows the mesh-wide summary of alpha's agent."""
    tmux = PrivateTmux()
    tmux.new_session(["sleep", "86400"], bed.env, bed.cwd, name="far")  # bed.env: a UTF-8 locale for ● ◐
    beta = mesh_daemon("beta", extra_env={"SESH_TMUX_SOCKETS": str(tmux.socket_path)})
    try:
        link(bed.alpha, beta)
        beta.start()
        wait_linked(bed.alpha, "beta")
        yield beta, tmux
    finally:
        beta.stop()
        tmux.kill_server()
        shutil.rmtree(beta.home, ignore_errors=True)


def option(bed: Bed, pane: str, name: str) -> str | None:
    """The pane's own value of user option `name` (None when unset); tmux prints it verbatim."""
    out = bed.tmux.run("show-options", "-p", "-q", "-v", "-t", pane, name, check=False)
    return out[:-1] if out.endswith("\n") else (out or None)


def options(bed: Bed, pane: str) -> dict[str, str | None]:
    return {name: option(bed, pane, name) for name in OPTIONS}


def wait_options(bed: Bed, pane: str, want: dict[str, str | None], what: str) -> None:
    seen: list[dict[str, str | None]] = []

    def check() -> bool:
        seen.append(options(bed, pane))
        return all(seen[-1][k] == v for k, v in want.items())

    try:
        eventually(check, timeout=30, interval=0.05, what=what)
    except AssertionError as exc:
        records = [{k: r.get(k) for k in ("uuid", "live", "turnStatus", "tmux")} for r in bed.alpha.call("list")]
        status = bed.alpha.call("tmux-status", {})
        raise AssertionError(f"{exc}\nlast options: {seen[-1] if seen else None}\nrecords: {records}\n"
                             f"tmux-status: {status}") from None


def drawn(bed: Bed, viewer: PrivateTmux, viewer_pane: str, needle: str, what: str) -> str:
    """The status line as a client draws it, once it shows `needle`."""
    last = ""

    def check() -> str | None:
        nonlocal last
        last = viewer.capture(viewer_pane).rstrip("\n").rsplit("\n", 1)[-1]
        return last if needle in last else None

    try:
        return eventually(check, timeout=30, interval=0.2, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nstatus line: {last!r}") from None


def summary_of(tmux: PrivateTmux) -> str:
    return tmux.run("show-options", "-g", "-q", "-v", "@sesh_summary").strip()


def test_status_options_follow_a_real_agent(bed: Bed, far: tuple[Daemon, PrivateTmux], tmp_path: Path) -> None:
    pwned = tmp_path / f"PWNED-{uuid_mod.uuid4().hex[:8]}"
    name = f"x#(touch {pwned})#{{session_name}}#[fg=red]y"
    pane, uuid = start_and_register(bed, "pi", name=name)
    escaped = name.replace("#", "##")
    wait_options(bed, pane, {"@sesh_id": uuid, "@sesh_name": escaped, "@sesh_state": GLYPH_IDLE,
                             "@sesh_line": f"{GLYPH_IDLE} {escaped} · pi"}, "options stamped idle")
    assert summary_of(bed.tmux) == f"1{GLYPH_IDLE}"
    _beta, far_tmux = far
    eventually(lambda: summary_of(far_tmux) == f"1{GLYPH_IDLE}", timeout=30, what="the peer's server summary")

    # A real client draws the status line: the name verbatim, no job run, no style applied.
    setup = ok(sesh(bed, "local", "tmux-setup", "--apply", "--socket-path", str(bed.tmux.socket_path), "--json"))
    assert setup.json()["applied"] is True
    assert bed.tmux.run("show-options", "-g", "-v", "status-right").strip() == setup.json()["options"]["status-right"]
    bed.tmux.run("set-option", "-g", "status-right-length", "200")  # the name holds a long path
    bed.tmux.run("set-option", "-g", "status-interval", "1")
    bed.tmux.run("select-window", "-t", pane)  # the client shows the agent's pane: its options
    with PrivateTmux(conf=bed.tmux.conf) as viewer:
        viewer_pane = viewer.new_session(
            ["tmux", "-L", bed.tmux.socket_name, "attach", "-t", "=keeper:"], bed.env, bed.cwd, width=220, height=10)
        line = drawn(bed, viewer, viewer_pane, f"1{GLYPH_IDLE}", "the attached client's status line")
        assert line.endswith(f"{GLYPH_IDLE} {name} · pi 1{GLYPH_IDLE}"), line
        viewer.run("kill-server", check=False)
    assert not pwned.exists(), "a #() in the session name ran"

    # busy -> idle, as the agent works.
    bed.send(pane, "tmux status SLEEP 3")
    wait_options(bed, pane, {"@sesh_state": GLYPH_BUSY, "@sesh_line": f"{GLYPH_BUSY} {escaped} · pi"}, "busy")
    eventually(lambda: summary_of(far_tmux) == f"1{GLYPH_BUSY}", timeout=30, what="the peer's summary: busy")
    wait_options(bed, pane, {"@sesh_state": GLYPH_IDLE}, "idle after the reply")
    eventually(lambda: summary_of(far_tmux) == f"1{GLYPH_IDLE}", timeout=30, what="the peer's summary: idle")

    # A daemon stop clears them; the next daemon stamps them again.
    bed.alpha.stop()
    assert options(bed, pane) == dict.fromkeys(OPTIONS)
    bed.alpha.start()
    wait_options(bed, pane, {"@sesh_id": uuid, "@sesh_state": GLYPH_IDLE}, "stamped again after a restart")

    # A live session cannot be deleted (refused by contract), so its pane keeps its options;
    # once the agent exits and leaves its pane (remain-on-exit) they are cleared.
    refused = sesh(bed, "local", "delete", uuid, "--json")
    assert refused.code != 0 and "live in a pane" in refused.err
    assert option(bed, pane, "@sesh_id") == uuid
    bed.tmux.run("set-option", "-p", "-t", pane, "remain-on-exit", "on")
    bed.tmux.send_keys(pane, "C-c")
    bed.tmux.send_keys(pane, "C-c")
    bed.tmux.send_keys(pane, "C-d")
    eventually(lambda: bed.tmux.display(pane, "#{pane_dead}") == "1", timeout=30, what="pi to exit")
    wait_options(bed, pane, dict.fromkeys(OPTIONS), "cleared after the agent exited")
    assert summary_of(bed.tmux) == ""
    eventually(lambda: summary_of(far_tmux) == "", timeout=30, what="the peer's summary: nothing live")
    ok(sesh(bed, "local", "delete", uuid, "--json"))
    assert options(bed, pane) == dict.fromkeys(OPTIONS)
    assert not pwned.exists()


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_status_glyph_follows_each_agent(agent: str) -> None:
    """The local cell for the other two agents: stamped from the record, so busy -> idle is all
    that differs by agent (pi's test above covers literal names, clearing, restart and the peer)."""
    with make_bed(with_remote=False) as agent_bed:
        pane, uuid = start_and_register(agent_bed, agent)
        wait_options(agent_bed, pane, {"@sesh_id": uuid, "@sesh_state": GLYPH_IDLE}, "stamped idle")
        agent_bed.send(pane, "tmux status SLEEP 3")
        wait_options(agent_bed, pane, {"@sesh_state": GLYPH_BUSY}, "busy")
        wait_options(agent_bed, pane, {"@sesh_state": GLYPH_IDLE, "@sesh_line": f"{GLYPH_IDLE} {agent}-main · {agent}"},
                     "idle after the reply")


@pytest.mark.parametrize("agent", ["claude", "codex"])
def test_peer_summary_for_each_agent(agent: str) -> None:
    pytest.skip("the peer's @sesh_summary is counted from replicated records, whichever agent wrote them; "
                "the pi test checks it on a peer's tmux server, and the local cells check each agent's glyph")
