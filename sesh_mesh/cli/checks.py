"""The checks the CLI makes itself, before it asks (or starts) the daemon.

A usage error never needs the daemon: a malformed uuid (`sesh_mesh.ids`), an empty message, a bad
duration (`sesh_mesh.durations`), an unknown agent, a cwd that does not exist, a negative count.
The daemon checks the same things for its other callers with the same wording (`sesh_mesh.errors`);
everything else about a request is the daemon's alone to check.
"""

from __future__ import annotations

import os
from pathlib import Path

from sesh_mesh import errors
from sesh_mesh.agent_names import check_agent_name
from sesh_mesh.durations import parse_duration
from sesh_mesh.errors import UsageError


def check_agent(agent: str | None) -> str | None:
    """An optional --agent: None, or a known agent name."""
    return None if agent is None else check_agent_name(agent)


def check_message(text: str) -> str:
    if not text.strip():
        raise errors.empty_message()
    return text


def check_count(n: int, example: str) -> int:
    """`-n N` of tail and pane-capture: 0 or more."""
    if n < 0:
        raise UsageError("-n must be 0 or more", f"e.g. {example}")
    return n


def timeout(raw: str | None) -> float | None:
    """`--timeout D` in seconds; None when not given."""
    return None if raw is None else parse_duration(raw)


def resolve_cwd(given: str | None) -> str:
    """The realpath of --cwd (relative to $PWD; default $PWD), which must be an existing directory.

    Resolved here because only the CLI knows its own working directory."""
    if given is not None and not given.strip():
        # Path("") is ".": an empty --cwd (an unset shell variable) would silently mean $PWD.
        raise UsageError("--cwd is empty", "pass a directory, or leave --cwd out for the current one")
    here = _working_dir()
    raw = given if given is not None else here
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(here) / path
    if not path.is_dir():
        raise errors.missing_cwd(raw)
    return os.path.realpath(path)


def _working_dir() -> str:
    """$PWD when it names the real working directory (a shell's logical path), else getcwd().

    A program started with another cwd inherits a stale $PWD, so it is trusted only when it
    points at the same directory.
    """
    real = os.getcwd()
    logical = os.environ.get("PWD")
    try:
        if logical and os.path.samefile(logical, real):
            return logical
    except OSError:
        pass
    return real


def working_dir_or_none() -> str | None:
    """The working directory, or None when it was removed (`new --machine` then needs none)."""
    try:
        return _working_dir()
    except OSError:
        return None
