"""The local API's framing: one JSON document per line, both ways. Stdlib only (CLI fast path)."""

from __future__ import annotations

import json
from typing import Any

MAX_LINE_BYTES = 32 * 1024 * 1024
"""A request or reply line larger than this is refused: the daemon never buffers without bound."""

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in a request, a frame or peers.json. Real
messages nest a dozen levels; a deeper one is refused before any code recurses into it."""


class TooDeep(ValueError):
    pass


def decode(text: str | bytes) -> Any:
    """`json.loads`, refusing a document nested deeper than MAX_DEPTH with TooDeep, a ValueError
    (never a RecursionError, whichever code would have walked it next)."""
    too_deep = TooDeep(f"nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep from None
    opened = text.count("[") + text.count("{") if isinstance(text, str) else text.count(b"[") + text.count(b"{")
    if opened <= MAX_DEPTH:
        return value
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth >= MAX_DEPTH:
                    raise too_deep
                pending.append((child, depth + 1))
    return value


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def failure(error: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "error": error}
