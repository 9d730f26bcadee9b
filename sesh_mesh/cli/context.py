"""What a CLI command runs against: SESH_HOME, the socket, and a daemon client."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sesh_mesh import ids
from sesh_mesh.client import Client
from sesh_mesh.errors import UsageError
from sesh_mesh.paths import sesh_home, socket_path


@dataclass
class Context:
    args: argparse.Namespace
    home: Path
    socket: Path

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def machine(self) -> str | None:
        value = getattr(self.args, "machine", None)
        return str(value) if value else None

    def client(self, auto_start: bool = True) -> Client:
        return Client(self.socket, self.home, auto_start=auto_start)

    def call(self, op: str, args: dict[str, Any] | None = None) -> Any:
        return self.client().call(op, args or {})

    def call_on_machine(self, op: str, args: dict[str, Any] | None = None) -> Any:
        """`op` on --machine when given (forwarded over the mesh), else on this machine."""
        if self.machine:
            return self.call("on-machine", {"machine": self.machine, "op": op, "args": args or {}})
        return self.call(op, args)

    def session(self, given: str | None) -> str:
        """The session a command acts on, checked: `current_session(given)` as a uuid or prefix."""
        return ids.check_prefix(self.current_session(given))

    def current_session(self, given: str | None) -> str:
        """The uuid argument, else $SESH_SESSION_ID, else the session owning $TMUX_PANE."""
        if given:
            return given
        from_env = os.environ.get("SESH_SESSION_ID")
        if from_env:
            return from_env
        pane = os.environ.get("TMUX_PANE")
        if pane:
            owner = self.call("pane-owner", {"pane": pane, "tmux": os.environ.get("TMUX")})
            if owner:
                return str(owner["uuid"])
        raise UsageError(
            "no session given and none to infer here",
            "pass a uuid (or prefix), or run inside a pane sesh knows ($SESH_SESSION_ID / $TMUX_PANE)",
        )


def make_context(args: argparse.Namespace) -> Context:
    home = sesh_home()
    given = getattr(args, "socket", None)
    sock = Path(given).expanduser() if given else socket_path(home)
    return Context(args=args, home=home, socket=sock)
