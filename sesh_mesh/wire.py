"""The local API's framing: one JSON document per line, both ways. Stdlib only (CLI fast path)."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
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
    # Level by level, in comprehensions: a 10,000-record catch-up decodes frames of hundreds of
    # records, and a node-by-node walk with a stack cost as much as json.loads itself.
    level: list[Any] = [value] if type(value) is dict or type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise too_deep
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
    return value


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def failure(error: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _compact_ascii_encoder() -> Callable[[Any], str]:
    """`json.dumps(value, separators=(",", ":"))` with the C encoder made once instead of per
    call: the store serialises every record it keeps, 10,000 in a catch-up, and building the
    encoder was a third of that. Without the C accelerator, json.dumps itself. Values are
    decoded JSON or records, so no check for cycles (a cycle would recurse until RecursionError)."""
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:
        return lambda value: json.dumps(value, separators=(",", ":"))
    chunks = make(None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None, ":", ",",
                  False, False, True)
    return lambda value: "".join(chunks(value, 0))


dumps_compact_ascii: Callable[[Any], str] = _compact_ascii_encoder()
"""The compact ASCII JSON of a value, exactly as json.dumps(value, separators=(",", ":"))."""
