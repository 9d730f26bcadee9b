"""Shared fixtures: every test runs against its own SESH_HOME; nothing touches the user's files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import Daemon, short_home


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Strip inherited SESH_* and tmux variables and point HOME at a temp dir."""
    for key in list(os.environ):
        if key.startswith("SESH_") and key != "SESH_TEST_TIME_FACTOR":
            monkeypatch.delenv(key)
    for key in ("TMUX", "TMUX_PANE", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "PI_CODING_AGENT_DIR"):
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SESH_HOME", str(tmp_path / "no-sesh-home-here"))


@pytest.fixture
def home() -> Iterator[Path]:
    path = short_home()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    started = Daemon("alpha").start()
    try:
        yield started
    finally:
        started.stop()
        shutil.rmtree(started.home, ignore_errors=True)
