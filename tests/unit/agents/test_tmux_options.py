"""User options set through `agents.tmux` arrive verbatim, in one chained tmux process."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sesh_mesh.agents import tmux
from tests.polling import eventually
from tests.tmux_helpers import PrivateTmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

VALUES = ["plain", "-n", "ends;", ";", "x#(touch /nonexistent/p)y", "#{session_name}", "a  b", ""]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[PrivateTmux, str]]:
    with PrivateTmux() as private:
        pane = private.new_session(["sleep", "300"], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)
        yield private, pane


def test_a_chain_sets_every_value_verbatim_and_unsets(server: tuple[PrivateTmux, str]) -> None:
    private, pane = server
    socket = str(private.socket_path)
    commands = [tmux.set_pane_option(pane, f"@v{i}", value) for i, value in enumerate(VALUES)]
    asyncio.run(tmux.run_chain(socket, [*commands, tmux.set_global_option("@g", "1; 2")]))
    for i, value in enumerate(VALUES):
        assert private.run("show-options", "-p", "-v", "-t", pane, f"@v{i}").rstrip("\n") == value
    assert private.run("show-options", "-g", "-v", "@g").strip() == "1; 2"
    found = asyncio.run(tmux.pane_option(socket, "@v0"))
    assert found == [(pane, private.pane_pid(pane), "plain")]
    asyncio.run(tmux.run_chain(socket, [tmux.set_pane_option(pane, "@v0", None), tmux.set_global_option("@g", None)]))
    assert private.run("show-options", "-p", "-q", "-v", "-t", pane, "@v0") == ""
    assert private.run("show-options", "-g", "-q", "-v", "@g") == ""


def test_a_chain_naming_a_closed_pane_fails_as_gone(server: tuple[PrivateTmux, str]) -> None:
    private, _pane = server
    with pytest.raises(tmux.TmuxError) as failed:
        asyncio.run(tmux.run_chain(str(private.socket_path), [tmux.set_pane_option("%999", "@x", "1")]))
    assert tmux.gone(failed.value)


def test_capture_many_returns_each_panes_screen(server: tuple[PrivateTmux, str], tmp_path: Path) -> None:
    private, first = server
    panes = [first]
    for i in range(11):  # ids past %9: display-message would expand `%12` as strftime does
        panes.append(private.run("new-window", "-d", "-P", "-F", "#{pane_id}", "--", "sh", "-c",
                                 f"printf 'pane-{i} 50%%/128k #(x)\\n'; exec sleep 300").strip())

    def all_printed() -> bool:
        return all(f"pane-{i} " in private.capture(pane) for i, pane in enumerate(panes[1:]))

    eventually(all_printed, 10, 0.05, what="every pane printed")
    texts = asyncio.run(tmux.capture_many(str(private.socket_path), panes))
    assert set(texts) == set(panes)
    for i, pane in enumerate(panes[1:]):
        assert texts[pane].splitlines()[0] == f"pane-{i} 50%/128k #(x)"
    with pytest.raises(tmux.TmuxError):
        asyncio.run(tmux.capture_many(str(private.socket_path), [panes[1], "%999"]))
