"""Where sesh keeps its files. Tiny on purpose: every CLI run imports it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def sesh_home(env: Mapping[str, str] | None = None) -> Path:
    source = os.environ if env is None else env
    raw = source.get("SESH_HOME") or str(Path.home() / ".sesh")
    return Path(raw).expanduser()


def socket_path(home: Path) -> Path:
    return home / "daemon.sock"


def config_path(home: Path) -> Path:
    return home / "config.toml"


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
"""SESH_HOME holds transcripts' text, peer tokens and the store: its owner's alone."""


def loose_modes(home: Path) -> list[tuple[Path, int]]:
    """SESH_HOME and the files directly in it that other users could read or write, with
    their modes (what `doctor` reports and the daemon tightens at start)."""
    found: list[tuple[Path, int]] = []
    try:
        entries = [home, *sorted(home.iterdir())]
    except OSError:
        return found
    for path in entries:
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue
        if (path == home or path.is_file()) and mode & 0o077:
            found.append((path, mode & 0o777))
    return found
