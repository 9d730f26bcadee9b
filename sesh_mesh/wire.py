"""The local API's framing: one JSON document per line, both ways. Stdlib only (CLI fast path)."""

from __future__ import annotations

import json
from typing import Any

MAX_LINE_BYTES = 32 * 1024 * 1024
"""A request or reply line larger than this is refused: the daemon never buffers without bound."""


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def failure(error: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "error": error}
