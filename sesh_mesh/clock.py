"""The single clock function: wall time for display fields only, never for ordering.

`SESH_TEST_CLOCK_OFFSET` (seconds) shifts it so tests can prove nothing but display changes.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

_OFFSET_S = float(os.environ.get("SESH_TEST_CLOCK_OFFSET", "0") or 0)


def now_s() -> float:
    return time.time() + _OFFSET_S


def now_iso() -> str:
    return iso_at(now_s())


def iso_at(wall_s: float) -> str:
    """`wall_s` as the records' timestamps write it: UTC, to the hundredth of a second."""
    return datetime.fromtimestamp(wall_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
