"""Session ids: validation and minting. Pure."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from sesh_mesh.errors import UsageError

_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PREFIX_RE = re.compile(r"^[0-9a-f-]{1,36}$")


def is_full_uuid(text: str) -> bool:
    return bool(_UUID_RE.match(text))


def new_uuid() -> str:
    # uuid4 by hand: `import uuid` pulls in platform and costs the CLI ~5 ms per run.
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def check_uuid(text: str, what: str = "session id") -> str:
    """A full, well-formed uuid, lower-cased, or a usage error."""
    lowered = text.strip().lower()
    if not is_full_uuid(lowered):
        raise UsageError(
            f"malformed {what} {text!r}",
            "pass a uuid like 123e4567-e89b-12d3-a456-426614174000",
        )
    return lowered


def check_prefix(text: str) -> str:
    """A uuid or a uuid prefix (hex digits and dashes), lower-cased, or a usage error."""
    lowered = text.strip().lower()
    if not _PREFIX_RE.match(lowered):
        raise UsageError(
            f"malformed uuid {text!r}",
            "pass a full uuid or a unique prefix of hex digits, e.g. a808",
        )
    return lowered



SHORT_ID_LEN = 8
"""The id `list` and the TUI show: this many characters of the uuid, more when needed to be unique."""


def short_ids(sessions: Sequence[tuple[str, str | None]]) -> dict[str, str]:
    """For each (uuid, agentSessionId), the shortest prefix of the uuid, at least 8 characters,
    that no other session's uuid or agentSessionId starts with: a shown id is a prefix that
    resolves. codex and pi ids are time-ordered (UUIDv7), so sessions that began in the same
    minute share their first 8 characters and need more."""
    keyed = sorted({(text, uuid) for uuid, agent_id in sessions for text in (uuid, agent_id) if text})
    texts = [text for text, _ in keyed]
    owners = [owner for _, owner in keyed]
    # Sorted, so the prefix an id shares with another is at most what it shares with its nearest
    # neighbour of another session on either side, and a run's common prefix is the least of
    # the adjacent ones.
    adjacent = [_common_prefix(texts[i], texts[i + 1]) for i in range(len(texts) - 1)]
    shared: dict[str, int] = {}
    for index, owner in enumerate(owners):
        if texts[index] != owner:
            continue
        best = 0
        for step in (-1, 1):
            other, run = index, len(owner)
            while True:
                link = other - 1 if step < 0 else other
                other += step
                if not 0 <= other < len(texts):
                    break
                run = min(run, adjacent[link])
                if owners[other] != owner:
                    best = max(best, run)
                    break
        shared[owner] = best
    out = {}
    for uuid, _ in sessions:
        size = max(SHORT_ID_LEN, shared.get(uuid, 0) + 1)
        if uuid[size - 1 : size] == "-":
            size += 1  # never show an id ending in a dash
        out[uuid] = uuid[:size]
    return out


def _common_prefix(a: str, b: str) -> int:
    size = min(len(a), len(b))
    index = 0
    while index < size and a[index] == b[index]:
        index += 1
    return index
