"""Time in tests: the ``SESH_TEST_TIME_FACTOR`` scale and the one bounded polling wait.

Poll only for state that no event announces to the test (another process's files, a daemon's
view read over its socket, a tmux pane). Every wait is bounded twice, by a scaled time and by a
number of tries, and fails naming what it waited for and the last value it saw.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

TIME_FACTOR = float(os.environ.get("SESH_TEST_TIME_FACTOR", "1") or 1)
"""Multiplier for every test timeout; slow machines set SESH_TEST_TIME_FACTOR above 1."""


def scaled(seconds: float) -> float:
    return seconds * TIME_FACTOR


class Poll:
    """The bounds of one wait: tries `interval` apart until a scaled `timeout` is spent.

    The try bound is one more than fit in the timeout, so it never ends a wait before its time
    does; it stops a wait whose clock misbehaves or whose sleeps return early.
    """

    def __init__(self, timeout: float, interval: float, what: str) -> None:
        if interval <= 0:
            msg = f"poll interval must be positive, got {interval}"
            raise ValueError(msg)
        self.timeout = scaled(timeout)
        self.interval = interval
        self.what = what
        self.tries = 0
        self.max_tries = math.ceil(self.timeout / interval) + 1
        self.deadline = time.monotonic() + self.timeout

    def failed_try(self) -> bool:
        """Count one try that did not succeed; True while the bounds allow another."""
        self.tries += 1
        return self.tries < self.max_tries and time.monotonic() <= self.deadline

    def failure(self, last: object) -> AssertionError:
        return AssertionError(
            f"timed out after {self.timeout:.1f}s ({self.tries} tries) waiting for {self.what}: {last!r}"
        )


def eventually(predicate: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> T:
    """Poll `predicate` until it returns something truthy, and return that value.

    An AssertionError raised by `predicate` counts as a failed try (its message becomes the last
    value); anything else it raises ends the wait. Fails with AssertionError naming `what`.
    """
    poll = Poll(timeout, interval, what or repr(predicate))
    last: Any = None
    while True:
        try:
            last = predicate()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last  # type: ignore[no-any-return]
        if not poll.failed_try():
            raise poll.failure(last)
        time.sleep(interval)
