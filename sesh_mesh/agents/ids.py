"""UUID and timestamp helpers shared by the adapters (agent ids are UUIDs; codex and pi mint UUIDv7)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_uuid(text: str) -> bool:
    return UUID_RE.fullmatch(text) is not None


def last_uuid_in(text: str) -> str | None:
    """The last UUID inside text (rollout and pi file names end with the id)."""
    found = UUID_RE.findall(text)
    return found[-1] if found else None


def uuid7(now: datetime, rand: bytes | None = None) -> str:
    """An RFC 9562 UUIDv7 for `now` (stdlib has none before 3.14); `rand` (10 bytes) makes it deterministic."""
    unix_ms = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    noise = int.from_bytes(rand if rand is not None else os.urandom(10), "big")
    rand_a = (noise >> 62) & 0xFFF
    rand_b = noise & ((1 << 62) - 1)
    value = (unix_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    hex32 = f"{value:032x}"
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


def uuid7_time(text: str) -> datetime | None:
    """The creation time embedded in a UUIDv7, or None for other versions."""
    if not is_uuid(text) or text[14] != "7":
        return None
    unix_ms = int(text.replace("-", "")[:12], 16)
    return datetime.fromtimestamp(unix_ms / 1000, tz=UTC)


def iso_z(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z, the format all three agents write."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def iso_from_epoch(seconds: float) -> str:
    return iso_z(datetime.fromtimestamp(seconds, tz=UTC))


def epoch_from_iso(text: str | None) -> float | None:
    """The inverse of `iso_from_epoch`, for any ISO-8601 time an agent writes; None if it is none."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
