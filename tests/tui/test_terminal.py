"""`sesh tui` / `sesh pick` in a real terminal: a tmux pane on a private server, driven with
send-keys and read with capture-pane. Proves the UI draws on the terminal while stdout is
captured, and the exit codes a shell sees."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Iterator

import pytest

from tests.harness import Daemon
from tests.tmux_helpers import PrivateTmux
from tests.tui.helpers import DOCS, FLAKY, order

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

SESH = f"{shlex.quote(sys.executable)} -m sesh_mesh"
HOLD = "sleep 600"
"""Keeps the pane open after the command so its output can be read."""


@pytest.fixture
def tmux() -> Iterator[PrivateTmux]:
    server = PrivateTmux()
    try:
        yield server
    finally:
        server.kill_server()


def start(tmux: PrivateTmux, daemon: Daemon, script: str) -> str:
    env = {**daemon.env, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    return tmux.new_session(["sh", "-c", f"{script}; {HOLD}"], env, daemon.home, width=120, height=30)


def test_tui_filter_then_enter_prints_the_selection(tmux: PrivateTmux, seeded: Daemon) -> None:
    pane = start(tmux, seeded, f'{SESH} tui --format kv; echo "EXIT=$?"')
    screen = tmux.wait_for_text(pane, "flaky-tests")
    assert "daemon: connected" in screen and "auth-refactor" in screen
    tmux.send_keys(pane, "/")
    tmux.send_text(pane, "docs", submit=False)
    tmux.wait_for_text(pane, "filter: docs")
    screen = tmux.capture(pane)
    assert "docs-site" in screen and "auth-refactor" not in screen and "flaky-tests" not in screen
    tmux.send_keys(pane, "Escape")
    tmux.send_keys(pane, "Enter")
    out = tmux.wait_for_text(pane, "EXIT=0")
    assert f"uuid={DOCS}\nmachine=alpha\nagent=codex\ncwd=/srv/docs\nname=docs-site\n" in out
    assert "action=resume\nEXIT=0" in out


def test_pick_with_captured_stdout_draws_on_the_terminal(tmux: PrivateTmux, seeded: Daemon) -> None:
    script = f'sel=$({SESH} pick --format kv); echo "EXIT=$?"; printf "%s\\n" "$sel" | sed "s/^/SEL /"; echo PRINTED'
    pane = start(tmux, seeded, script)
    screen = tmux.wait_for_text(pane, "auth-refactor")  # drawn although stdout is a pipe
    assert "Enter pick" in screen
    tmux.send_keys(pane, "/")
    tmux.send_text(pane, "flaky", submit=False)
    tmux.wait_for_text(pane, "filter: flaky")
    tmux.send_keys(pane, "Enter")  # Enter in the prompt picks the best match
    out = tmux.wait_for_text(pane, "PRINTED")  # not EXIT=0: the SEL lines come after it
    assert "EXIT=0" in out
    lines = [line for line in out.splitlines() if line.startswith("SEL ")]
    assert lines == [
        f"SEL uuid={FLAKY}", "SEL machine=alpha", "SEL agent=pi", "SEL cwd=/srv/app/tests", "SEL name=flaky-tests",
        "SEL tmux_socket=", "SEL tmux_session=", "SEL tmux_window=", "SEL tmux_pane=", "SEL action=resume",
    ]  # fmt: skip
    assert "NAME" not in out.split("EXIT=0")[1], "no UI text leaked into the captured selection"


@pytest.mark.parametrize("key", ["Escape", "q"])
def test_cancel_exits_130_and_prints_nothing(tmux: PrivateTmux, seeded: Daemon, key: str) -> None:
    pane = start(tmux, seeded, f'sel=$({SESH} pick); echo "EXIT=$? [$sel]"')
    tmux.wait_for_text(pane, "auth-refactor")
    tmux.send_keys(pane, key)
    tmux.wait_for_text(pane, "EXIT=130 []")


@pytest.mark.parametrize("command", ["pick --cursor", "tui"])
def test_cursor_preselects_and_json_is_the_default(tmux: PrivateTmux, seeded: Daemon, command: str) -> None:
    """DOCS is not the top row, so Enter printing it shows the cursor started there; `sesh tui
    <uuid>` is `--cursor <uuid>`. No --format: the original's JSON."""
    pane = start(tmux, seeded, f'{SESH} {command} {DOCS[:8]}; echo "EXIT=$?"')
    tmux.wait_for_text(pane, "auth-refactor")
    tmux.send_keys(pane, "Enter")
    out = tmux.wait_for_text(pane, "EXIT=0")
    assert f'{{"uuid": "{DOCS}", "machine": "alpha", "agent": "codex"' in out


def test_empty_store_pick_exits_3_and_tui_explains(tmux: PrivateTmux, daemon: Daemon) -> None:
    pane = start(tmux, daemon, f'{SESH} pick; echo "PICK=$?"; {SESH} tui; echo "TUI=$?"')
    tmux.wait_for_text(pane, "PICK=3")
    screen = tmux.wait_for_text(pane, "No sessions yet.")
    assert "sesh discover --register" in screen
    tmux.send_keys(pane, "Escape")
    tmux.wait_for_text(pane, "TUI=130")


def test_resume_without_uuid_opens_the_picker(tmux: PrivateTmux, seeded: Daemon) -> None:
    """`sesh resume` with no uuid: pick, then hand the pick to the resume path; Esc cancels
    with 130. These seeded sessions have no transcript, so the resume path refuses, naming the
    picked session: that shows the hand-over without needing a real agent."""
    pane = start(tmux, seeded, f'{SESH} resume; echo "FIRST=$?"; {SESH} resume; echo "SECOND=$?"')
    tmux.wait_for_text(pane, "auth-refactor")
    tmux.send_keys(pane, "Escape")
    tmux.wait_for_text(pane, "FIRST=130")
    tmux.wait_for_text(pane, "auth-refactor")
    tmux.send_keys(pane, "Enter")
    out = tmux.wait_for_text(pane, "SECOND=1")
    error = next(line for line in out.splitlines() if line.startswith("sesh: "))
    assert order(seeded)[0][:8] in error and "resume" in error, error
