"""One error tree and one exit-code map for the whole product.

Only the CLI entry point catches `SeshError`; the daemon ships the same `{what, fix, code}`
over its socket so a remote error reads the same as a local one.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Any, ClassVar


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    DAEMON_DOWN = 4
    UNRESOLVED = 4
    """`pane-resolve`: an agent is live in the pane but its conversation cannot be named (yet)."""
    UNCONFIRMED = 5
    """`send`: the message was typed into the pane but no turn start was seen (delivered-unconfirmed)."""
    TURN_FAILED = 6
    """`send`, `new --msg`, `delegate`: the message was delivered and its turn ended in an error
    (model or agent error, the agent exited, the turn was aborted)."""
    TIMEOUT = 124
    CANCELLED = 130


class SeshError(Exception):
    exit_code: ClassVar[ExitCode] = ExitCode.FAILURE
    kind: ClassVar[str] = "failure"

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix
        self.delivery: str | None = None
        """`send`: how far the message got when this was raised, when that is not what the error's
        kind implies (a timeout after the turn started was still delivered)."""

    def line(self) -> str:
        """The one stderr line every failure prints: `sesh: <what> (<how to fix>)`."""
        return f"sesh: {self.what}" + (f" ({self.fix})" if self.fix else "")

    def to_wire(self) -> dict[str, Any]:
        wire = {"what": self.what, "fix": self.fix, "kind": self.kind}
        if self.delivery is not None:
            wire["delivery"] = self.delivery
        return wire


class UsageError(SeshError):
    exit_code = ExitCode.USAGE
    kind = "usage"


class NotFound(SeshError):
    """Nothing found, exit 3: `pane` (the pane has no registered session), `pick` (nothing to pick)."""

    exit_code = ExitCode.NOT_FOUND
    kind = "not-found"


class Unresolved(SeshError):
    """Exit 4 without the daemon being down: `pane-resolve` found the agent, not its conversation."""

    exit_code = ExitCode.UNRESOLVED
    kind = "unresolved"


class UnknownSession(SeshError):
    """No session matches a uuid or prefix. Exit 1 like any failure; its own kind lets a door that
    speaks status codes (HTTP 404) tell it from other failures, on this machine or forwarded."""

    kind = "unknown-session"


class AmbiguousPrefix(SeshError):
    """A prefix matches several sessions (exit 1; HTTP 409)."""

    kind = "ambiguous"


class DaemonUnreachable(SeshError):
    exit_code = ExitCode.DAEMON_DOWN
    kind = "daemon-down"


class TimedOut(SeshError):
    exit_code = ExitCode.TIMEOUT
    kind = "timeout"


class Cancelled(SeshError):
    exit_code = ExitCode.CANCELLED
    kind = "cancelled"


class Unconfirmed(SeshError):
    """Typed, but no turn start seen: the agent may or may not act on it (exit 5)."""

    exit_code = ExitCode.UNCONFIRMED
    kind = "unconfirmed"


class TurnFailed(SeshError):
    """Delivered, and the turn it started failed; `what` carries the agent's own error (exit 6)."""

    exit_code = ExitCode.TURN_FAILED
    kind = "turn-failed"


class NotImplementedYet(SeshError):
    """A reachable path that is not built yet; never a plausible wrong answer."""

    kind = "not-implemented"

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(f"not implemented: {what}", fix)


_KINDS: dict[str, type[SeshError]] = {
    cls.kind: cls
    for cls in (SeshError, UsageError, NotFound, Unresolved, UnknownSession, AmbiguousPrefix, DaemonUnreachable,
                TimedOut, Cancelled)
}

_KINDS.update({cls.kind: cls for cls in (Unconfirmed, TurnFailed)})


def from_wire(payload: dict[str, Any]) -> SeshError:
    cls = _KINDS.get(str(payload.get("kind", "failure")), SeshError)
    error = cls(str(payload.get("what", "unknown error")), str(payload.get("fix", "")))
    if isinstance(payload.get("delivery"), str):
        error.delivery = payload["delivery"]
    return error


# ---- usage errors both the CLI (checking before it asks the daemon) and the daemon raise: one wording


def unknown_agent(agent: object, known: Sequence[str]) -> UsageError:
    choices = ", ".join(known[:-1]) + " or " + known[-1] if len(known) > 1 else "".join(known)
    return UsageError(f"unknown agent {agent!r}", f"use {choices}")


def empty_message() -> UsageError:
    return UsageError("message is empty", "give the text to send")


def missing_cwd(cwd: str) -> UsageError:
    return UsageError(f"cwd {cwd!r} does not exist or is not a directory", "pass --cwd with an existing directory")


def headless_without_msg() -> UsageError:
    return UsageError("--headless needs --msg with the first message", 'sesh new --headless --msg "…"')
