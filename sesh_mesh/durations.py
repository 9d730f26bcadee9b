"""Durations as the CLI accepts them: seconds, or a number with an s/m/h suffix. Pure."""

from __future__ import annotations

import re

from sesh_mesh.errors import UsageError

_DURATION_RE = re.compile(r"^(-?\d+(?:\.\d+)?)([smh]?)$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, flag: str = "--timeout") -> float:
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise UsageError(f"bad duration {text!r} for {flag}", "use seconds or a number with s/m/h, e.g. 90 or 5m")
    value = float(match.group(1)) * _UNIT_S[match.group(2)]
    if value < 0:
        raise UsageError(f"negative duration {text!r} for {flag}", "use 0 for no limit or a positive duration")
    return value
