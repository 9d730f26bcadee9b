"""A pane id that goes into a tmux command string must be a pane id: tmux parses that string
again, so `%1; run-shell …` would run a shell command (agents/tmux.leave_mode_command)."""

from __future__ import annotations

import pytest

from sesh_mesh.agents import tmux


@pytest.mark.parametrize("pane", ["%0", "%7", "%12345"])
def test_pane_ids_pass(pane: str) -> None:
    assert tmux.is_pane_id(pane)
    command = tmux.leave_mode_command(pane)
    assert command[-1] == f"send-keys -t {pane} -X cancel"


@pytest.mark.parametrize("pane", [
    "", "%", "1", "%1; run-shell 'touch /tmp/owned'", "%1 ; kill-server", "%1\nkill-server", "%-1", "%1a",
    "%\u0661", "session:0.1", "#{pane_id}", "%1}",
])
def test_anything_else_is_refused_before_tmux_sees_it(pane: str) -> None:
    assert not tmux.is_pane_id(pane)
    with pytest.raises(tmux.TmuxError, match="not a tmux pane id"):
        tmux.leave_mode_command(pane)
