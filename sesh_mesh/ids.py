"""Session ids: validation and minting. Pure."""

from __future__ import annotations

import os
import re

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
