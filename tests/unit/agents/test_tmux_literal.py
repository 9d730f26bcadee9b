"""Strings from peers, imports and model output reach tmux verbatim and never as commands.

tmux expands formats (`#(shell command)`, `#{...}`) in window and session names and start
directories, ends a command at any argument ending in `;`, and reads a leading `-` as a flag.
These run a private tmux server per test.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from sesh_mesh.agents import tmux
from tests.polling import eventually, scaled
from tests.tmux_helpers import PrivateTmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateTmux]:
    with PrivateTmux() as private:
        private.new_session(["sh", "-c", "stty -echo; exec cat"], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path,
                            name="base")  # fmt: skip
        yield private


def _socket(server: PrivateTmux) -> str:
    assert server.socket_path is not None
    return str(server.socket_path)


def _no_job_ran(server: PrivateTmux, tmp_path: Path, pwned: Path) -> None:
    """A job tmux does run, started after ours: once it has run, an escaped one would have too."""
    marker = tmp_path / f"marker-{uuid.uuid4().hex[:8]}"

    def job_ran() -> bool:
        # tmux starts a #() job at most once a second per format and drops a slow one under load:
        # asking again (a new window each try) is what a redraw would do.
        if not marker.exists():
            server.run("new-window", "-d", "-t", "=base:", "-c", f"#(touch {marker})", "--", "sleep", "30")
        return marker.exists()

    eventually(job_ran, scaled(30), 1.0, what=f"tmux's own #() job to create {marker}")
    assert not pwned.exists()


@pytest.mark.parametrize("session", ["base", "new#(touch {pwned})s"], ids=["new-window", "new-session"])
def test_window_name_session_and_cwd_are_set_literally(server: PrivateTmux, tmp_path: Path, session: str) -> None:
    pwned = tmp_path / f"PWNED-{uuid.uuid4().hex}"
    session = session.replace("{pwned}", str(pwned))
    name = f"x#(touch {pwned})y"
    cwd = tmp_path / f"d#(touch {pwned})#{{session_name}}"
    cwd.mkdir(parents=True)
    target = {"socket": _socket(server), "session": session, "window": ""}
    pane = asyncio.run(tmux.open_window(target, name=name, cwd=str(cwd), env={"SESH_X": "1"},
                                        argv=["sleep", "30"]))  # fmt: skip
    _no_job_ran(server, tmp_path, pwned)
    assert server.display(pane, "#{window_name}") == name
    assert server.display(pane, "#{session_name}") == session
    assert server.display(pane, "#{pane_start_path}") == str(cwd)


@pytest.mark.parametrize("name", ["ends;", "a\\;", ";", "#{session_name}##", "-n"])
def test_names_tmux_would_split_or_expand_arrive_verbatim(server: PrivateTmux, tmp_path: Path, name: str) -> None:
    target = {"socket": _socket(server), "session": "base", "window": ""}
    pane = asyncio.run(tmux.open_window(target, name=name, cwd=str(tmp_path), env={}, argv=["sleep", "30"]))
    assert server.display(pane, "#{window_name}") == name


def test_cwd_ending_in_a_semicolon_is_kept(server: PrivateTmux, tmp_path: Path) -> None:
    cwd = tmp_path / "project;"
    cwd.mkdir()
    target = {"socket": _socket(server), "session": "base", "window": ""}
    pane = asyncio.run(tmux.open_window(target, name="w", cwd=str(cwd), env={"SESH_X": "1"}, argv=["sleep", "30"]))
    assert server.display(pane, "#{pane_start_path}") == str(cwd)


TEXTS = ["-n oops", "#(touch {pwned})", "#{session_name} %H", "ends;", "x\\;", ";", "-"]


def _base_pane(server: PrivateTmux) -> str:
    return server.run("list-panes", "-t", "=base:0", "-F", "#{pane_id}").strip()


def _lines_in_pane(server: PrivateTmux, pane: str, expected: list[str]) -> None:
    def arrived() -> bool:
        lines = [line for line in server.capture(pane).splitlines() if line]
        assert lines == expected
        return True

    eventually(arrived, 10, 0.05, what=f"{expected!r} echoed by cat in {pane}")


def test_send_keys_types_text_verbatim(server: PrivateTmux, tmp_path: Path) -> None:
    pwned = tmp_path / f"PWNED-{uuid.uuid4().hex}"
    texts = [text.replace("{pwned}", str(pwned)) for text in TEXTS]
    pane = _base_pane(server)

    async def send() -> None:
        for text in texts:
            await tmux.send_keys(_socket(server), pane, [text], literal=True)
            await tmux.send_keys(_socket(server), pane, ["Enter"])

    asyncio.run(send())
    _lines_in_pane(server, pane, texts)
    _no_job_ran(server, tmp_path, pwned)


def test_paste_pastes_text_verbatim(server: PrivateTmux, tmp_path: Path) -> None:
    pwned = tmp_path / f"PWNED-{uuid.uuid4().hex}"
    texts = [text.replace("{pwned}", str(pwned)) for text in TEXTS]
    pane = _base_pane(server)

    async def send() -> None:
        await tmux.paste(_socket(server), pane, "\n".join(texts), buffer="sesh-test")
        await tmux.send_keys(_socket(server), pane, ["Enter"])

    asyncio.run(send())
    _lines_in_pane(server, pane, texts)
    _no_job_ran(server, tmp_path, pwned)


@pytest.mark.parametrize("text", ["-n oops", "ends;"])
def test_paste_of_one_line_arrives_verbatim(server: PrivateTmux, text: str) -> None:
    pane = _base_pane(server)

    async def send() -> None:
        await tmux.paste(_socket(server), pane, text, buffer="sesh-test")
        await tmux.send_keys(_socket(server), pane, ["Enter"])

    asyncio.run(send())
    _lines_in_pane(server, pane, [text])


@pytest.mark.parametrize(("raw", "escaped"), [
    ("plain name", "plain name"),
    ("x#(touch /tmp/p)y", "x##(touch /tmp/p)y"),
    ("#{session_name}", "##{session_name}"),
    ("##", "####"),
    ("trailing#", "trailing##"),
    ("", ""),
])  # fmt: skip
def test_literal_doubles_every_hash(raw: str, escaped: str) -> None:
    assert tmux.literal(raw) == escaped


@pytest.mark.parametrize(("raw", "sent"), [
    ("plain", "plain"),
    ("a;b", "a;b"),
    ("ends;", "ends\\;"),
    (";", "\\;"),
    ("a\\;", "a\\\\;"),
    ("-n", "-n"),
])  # fmt: skip
def test_command_arg_keeps_a_trailing_semicolon_from_ending_the_command(raw: str, sent: str) -> None:
    assert tmux.command_arg(raw) == sent


def test_leave_mode_takes_a_pane_out_of_copy_mode_and_leaves_a_pane_in_none_alone(server: PrivateTmux) -> None:
    pane = server.run("display-message", "-p", "-t", "=base:", "#{pane_id}").strip()
    server.run("copy-mode", "-t", pane)
    assert server.display(pane, "#{pane_in_mode}") == "1"
    asyncio.run(tmux.leave_mode(_socket(server), pane))
    assert server.display(pane, "#{pane_in_mode}") == "0"
    asyncio.run(tmux.leave_mode(_socket(server), pane))  # not in a mode: nothing to do, no error
    assert server.display(pane, "#{pane_in_mode}") == "0"
    asyncio.run(tmux.send_keys(_socket(server), pane, ["x", "Enter"]))  # the pane still takes keys
    eventually(lambda: "x" in server.capture(pane), scaled(5), what="the key reaching the pane")
