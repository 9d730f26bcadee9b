"""Where an agent CLI is installed: `[agents]` in config.toml, else PATH, else the directories
installers put binaries in that a daemon's PATH often lacks (a daemon started by a supervisor or a
login shell that never read the user's rc file).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sesh_mesh.errors import SeshError

SHIM_DIRS = (".local/bin", ".cargo/bin", ".local/share/mise/shims", ".asdf/shims")
"""Under HOME, searched in this order after PATH: pipx/uv and curl installers, cargo, mise, asdf."""

NPM_TIMEOUT_S = 10.0
"""`npm prefix -g` is a node start (~0.3 s); a wedged npm must not hold a launch for longer."""

NPM_GLOBAL_BIN = "npm global bin"


@dataclass(frozen=True)
class Found:
    """An agent binary and where it was found (`[agents]`, `PATH`, `~/.local/bin`, …)."""

    path: str
    source: str


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@functools.cache
def npm_global_bin(npm: str) -> Path | None:
    """`$(npm prefix -g)/bin` of that npm, asked once per process; None when npm does not answer."""
    try:
        proc = subprocess.run([npm, "prefix", "-g"], capture_output=True, text=True, timeout=NPM_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    prefix = proc.stdout.strip()
    return Path(prefix) / "bin" if proc.returncode == 0 and prefix.startswith("/") else None


def find_binary(name: str, env: Mapping[str, str]) -> Found | None:
    """`name` on env's PATH, else in HOME's shim directories, else in npm's global bin (npm is run
    only when the rest failed, and once). Blocking: the daemon calls it in a thread."""
    on_path = shutil.which(name, path=env.get("PATH") or os.defpath)
    if on_path is not None:
        return Found(on_path, "PATH")
    home = env.get("HOME") or str(Path.home())
    for shim_dir in SHIM_DIRS:
        candidate = Path(home) / shim_dir / name
        if _executable(candidate):
            return Found(str(candidate), f"~/{shim_dir}")
    npm = shutil.which("npm", path=env.get("PATH") or os.defpath)
    if npm is None:
        for shim_dir in SHIM_DIRS:
            if _executable(Path(home) / shim_dir / "npm"):
                npm = str(Path(home) / shim_dir / "npm")
                break
    global_bin = npm_global_bin(npm) if npm is not None else None
    if global_bin is not None and _executable(global_bin / name):
        return Found(str(global_bin / name), NPM_GLOBAL_BIN)
    return None


SEARCHED = "PATH, " + ", ".join(f"~/{d}" for d in SHIM_DIRS) + f" and the {NPM_GLOBAL_BIN}"
"""Where `find_binary` looks, for messages."""


def locate(name: str, configured: str | None, env: Mapping[str, str], config_file: Path) -> Found:
    """`[agents].<name>` when set (it must be executable), else `find_binary`; a SeshError naming
    where it looked otherwise."""
    if configured:
        if not os.access(configured, os.X_OK):
            raise SeshError(f"[agents].{name} = {configured!r} is not an executable file",
                            f"fix [agents] in {config_file}")
        return Found(configured, "[agents]")
    found = find_binary(name, env)
    if found is None:
        raise SeshError(f"the {name} binary was not found (looked in {SEARCHED})",
                        f"install {name} or set [agents].{name} in {config_file}")
    return found
