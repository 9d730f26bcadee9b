"""One error tree and one exit-code map for the whole product.

Only the CLI entry point catches `SeshError`; the daemon ships the same `{what, fix, code}`
over its socket so a remote error reads the same as a local one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    NOT_FOUND = 3
    DAEMON_DOWN = 4
    TIMEOUT = 124
    CANCELLED = 130


class SeshError(Exception):
    exit_code: ClassVar[ExitCode] = ExitCode.FAILURE
    kind: ClassVar[str] = "failure"

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    def line(self) -> str:
        """The one stderr line SPEC §4 prescribes: `sesh: <what> (<how to fix>)`."""
        return f"sesh: {self.what}" + (f" ({self.fix})" if self.fix else "")

    def to_wire(self) -> dict[str, Any]:
        return {"what": self.what, "fix": self.fix, "kind": self.kind}


class UsageError(SeshError):
    exit_code = ExitCode.USAGE
    kind = "usage"


class NotFound(SeshError):
    """Nothing found where SPEC says exit 3 (`pane`, `pick`)."""

    exit_code = ExitCode.NOT_FOUND
    kind = "not-found"


class DaemonUnreachable(SeshError):
    exit_code = ExitCode.DAEMON_DOWN
    kind = "daemon-down"


class TimedOut(SeshError):
    exit_code = ExitCode.TIMEOUT
    kind = "timeout"


class Cancelled(SeshError):
    exit_code = ExitCode.CANCELLED
    kind = "cancelled"


class NotImplementedYet(SeshError):
    """A reachable path that is not built yet; never a plausible wrong answer."""

    kind = "not-implemented"

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(f"not implemented: {what}", fix)


_KINDS: dict[str, type[SeshError]] = {
    cls.kind: cls
    for cls in (SeshError, UsageError, NotFound, DaemonUnreachable, TimedOut, Cancelled)
}


def from_wire(payload: dict[str, Any]) -> SeshError:
    cls = _KINDS.get(str(payload.get("kind", "failure")), SeshError)
    return cls(str(payload.get("what", "unknown error")), str(payload.get("fix", "")))
