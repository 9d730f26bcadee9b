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
