"""What a record may hold: bounds and character rules for every way a record gets in. Pure.

Local writes (the API, discovery, autoname, `import`) are refused with a `UsageError` that says
what is wrong and how to fix it; nothing is committed before these checks pass. Records from
peers are sanitised instead of refused (docs/mesh-protocol.md, "Hostile input"): a legacy or
hostile record must neither stop a link nor get lost, and every replica sanitises the same way.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from sesh_mesh import ids
from sesh_mesh.agent_names import check_agent_name, is_agent_name
from sesh_mesh.errors import UsageError
from sesh_mesh.store.record import Record, new_record, normalize_tags

NAME_MAX_CHARS = 200
"""Well above the namer's 60 and anything typed by hand; a name is one line of a table."""

TAG_MAX_CHARS = 64

TAGS_MAX = 32
"""Tags per session: 32 tags of 64 characters keep the tags of a record near 2 KiB."""

SUMMARY_MAX_CHARS = 2000
"""The namer writes at most 200; this leaves room for a hand-written paragraph."""

RECORD_MAX_BYTES = 64 * 1024
"""A whole record as UTF-8 JSON. Far below a batch (256 KiB) and the 4 MiB frame limit, so any
record written here can always be sent to a peer."""

MAX_SEQ = 2**53 - 1
"""Every seq and mark, local or on the wire, stays at or below this (the largest integer JSON
readers agree on). The local counter starts near 2**51 (the wall clock in microseconds), and
SQLite's limit is 2**63 - 1: a peer can never push the counter where a write would overflow."""

REPLACEMENT = "\ufffd"

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
"""Control characters (ESC, CR, BEL, C1 controls such as the 8-bit CSI), lone surrogates (they
cannot be encoded as UTF-8) and line or paragraph separators."""


def _bad_char(ch: str) -> bool:
    return unicodedata.category(ch) in _REFUSED_CATEGORIES or ch in _BIDI_CONTROLS


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X}"


_ASCII_CONTROL = re.compile("[\x00-\x1f\x7f]")
"""The refused characters an ASCII string can hold: the fast path for nearly every string."""


def _first_bad_char(text: str) -> str | None:
    if text.isascii():
        found = _ASCII_CONTROL.search(text)
        return None if found is None else found.group()
    return next((ch for ch in text if _bad_char(ch)), None)


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_name(name: Any) -> str:
    """A session name as typed: stripped, one line, no control characters, bounded."""
    if not isinstance(name, str) or not name.strip():
        raise UsageError("empty name", "give a name with at least one non-space character")
    bad = _first_bad_char(name)
    if bad is not None:
        raise UsageError(
            f"names cannot contain control characters ({_describe(bad)})",
            "use a single line of printable text",
        )
    stripped = name.strip()
    if len(stripped) > NAME_MAX_CHARS:
        raise UsageError(
            f"name is {len(stripped)} characters long; at most {NAME_MAX_CHARS}", "give a shorter name"
        )
    return stripped


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise UsageError("empty tag name", "give a tag with at least one non-space character")
    bad = _first_bad_char(tag)
    if bad is not None and not bad.isspace():
        raise UsageError(
            f"bad tag {_shown(tag)}: tags cannot contain control characters ({_describe(bad)})",
            "use letters, digits and punctuation",
        )
    if any(ch.isspace() for ch in tag):
        raise UsageError(f"bad tag {_shown(tag)}: tags cannot contain whitespace", "use - or _ instead of spaces")
    if len(tag) > TAG_MAX_CHARS:
        raise UsageError(
            f"tag {_shown(tag)} is {len(tag)} characters long; at most {TAG_MAX_CHARS}", "use a shorter tag"
        )
    return tag


def check_tags(tags: Any) -> list[str]:
    """A record's whole tag list: a list of valid tags, at most TAGS_MAX of them."""
    if not isinstance(tags, list):
        raise UsageError(f"tags must be a list, not {type(tags).__name__}", "give tags as a list of strings")
    for tag in tags:
        check_tag(tag)
    if len(tags) > TAGS_MAX:
        raise UsageError(
            f"a session can have at most {TAGS_MAX} tags; this would give it {len(tags)}",
            "remove some first: sesh untag <uuid> <tag>…",
        )
    return tags


def _check_changed_tags(tags: Any, before: Any) -> None:
    """New tags are checked one by one, and the count may not grow past TAGS_MAX (a record
    stored before the bound existed can still lose tags)."""
    if not isinstance(tags, list):
        raise UsageError(f"tags must be a list, not {type(tags).__name__}", "give tags as a list of strings")
    kept = {tag for tag in before if isinstance(tag, str)} if isinstance(before, list) else set()
    for tag in tags:
        if not isinstance(tag, str) or tag not in kept:
            check_tag(tag)
    if len(tags) > TAGS_MAX and len(tags) > len(kept):
        check_tags(tags)


def check_summary(summary: Any) -> str:
    if not isinstance(summary, str):
        raise UsageError(f"summary must be text, not {type(summary).__name__}", "give the summary as a string")
    if not encodable(summary):
        raise UsageError("summary is not valid Unicode text (a lone surrogate)", "give the summary as UTF-8 text")
    if len(summary) > SUMMARY_MAX_CHARS:
        raise UsageError(
            f"summary is {len(summary)} characters long; at most {SUMMARY_MAX_CHARS}", "give a shorter summary"
        )
    return summary


def check_local_write(new: Record, current: Record | None) -> None:
    """Refuse a local write before it is committed. Fields are checked when the write sets or
    changes them, so a record stored before these bounds existed can still be updated."""
    old = current or {}
    if "name" in new and (current is None or new["name"] != old.get("name")) and new["name"] != "":
        check_name(new["name"])
    if "tags" in new and (current is None or new["tags"] != old.get("tags")):
        _check_changed_tags(new["tags"], old.get("tags"))
    if "summary" in new and (current is None or new["summary"] != old.get("summary")):
        check_summary(new["summary"])
    path = _unencodable_path(new)
    if path is not None:
        raise UsageError(
            f"{path} of session {new.get('uuid')} is not valid Unicode text (a lone surrogate)",
            "give it as UTF-8 text",
        )
    size = record_bytes(new)
    if size > RECORD_MAX_BYTES and (current is None or size > record_bytes(current)):
        raise UsageError(
            f"session {new.get('uuid')} would take {size} bytes; a record may take at most {RECORD_MAX_BYTES}",
            "shorten its name, tags or summary",
        )


def from_legacy(entry: Any, machine: str, now: str) -> Record:
    """A record owned by `entry["machine"]` (default `machine`) from one entry of a legacy
    sessions.json, through the same checks as the API; a UsageError says what is wrong."""
    if not isinstance(entry, dict):
        raise UsageError(f"a JSON {type(entry).__name__}, not an object", "each entry must be a record")
    uuid = entry.get("uuid")
    if not isinstance(uuid, str) or not ids.is_full_uuid(uuid.lower()):
        raise UsageError(f"malformed uuid {_shown(str(uuid))}", "give each entry a full uuid")
    raw_agent = entry.get("agent")
    # The shared wording, with the value cut short: an import file is untrusted input.
    agent = raw_agent if is_agent_name(raw_agent) else check_agent_name(str(raw_agent)[:40])
    if entry.get("deleted"):
        raise UsageError("a deleted session", "only live records are imported")
    name = _optional(entry, "name", str) or ""
    raw_tags = entry.get("tags")
    # A single string is one tag: iterating it would make a tag of every character.
    tags = [raw_tags] if isinstance(raw_tags, str) else ([] if raw_tags is None else raw_tags)
    check_tags(tags)
    record = new_record(
        uuid=uuid.lower(),
        agent=agent,
        machine=_optional(entry, "machine", str) or machine,
        cwd=_optional(entry, "cwd", str) or "",
        now=_optional(entry, "createdAt", str) or now,
        name=check_name(name) if name else "",
        tags=normalize_tags(tags),
        agent_session_id=_optional(entry, "agentSessionId", str) or None,
    )
    for key, kind in (("archived", bool), ("autoRename", bool), ("summary", str),
                      ("lastAutoNameTurnCount", int), ("filePath", str), ("updatedAt", str)):
        value = _optional(entry, key, kind)
        if value is not None:
            record[key] = value
    check_local_write(record, None)
    return record


def _optional(entry: dict[str, Any], key: str, kind: type) -> Any:
    value = entry.get(key)
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise UsageError(f"{key} must be {kind.__name__}, not {type(value).__name__}", f"fix {key} in the file")
    return value


def record_bytes(record: Record) -> int:
    """The record's size as it travels (compact UTF-8 JSON); lone surrogates count as escapes."""
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8", errors="surrogatepass"))


def sanitize_remote(record: Record) -> Record:
    """A peer's record made safe to store and print; unchanged when it already is.

    Lone surrogates anywhere become U+FFFD, and so do control characters in the name and tags;
    a `tags` value that is not a list of strings becomes the strings it holds.
    """
    clean = _replace_surrogates(record)
    assert isinstance(clean, dict)
    name = clean.get("name")
    if isinstance(name, str) and _first_bad_char(name) is not None:
        clean["name"] = _replace_bad(name)
    if "tags" in clean:
        tags = clean["tags"]
        if isinstance(tags, str):
            tags = [tags]
        elif not isinstance(tags, list):
            tags = []
        clean["tags"] = [_replace_bad(tag) for tag in tags if isinstance(tag, str)]
    return clean


def needs_sanitizing(record: Record, as_json: str) -> bool:
    """Whether `sanitize_remote` would change `record`, whose `json.dumps` (ASCII, the default)
    is `as_json`: a lone surrogate can only show there as a `\\udXXX` escape, so the common
    record, with none, costs one substring search instead of a walk over every value. Every
    character sanitising replaces is a control (escaped by JSON, or DEL, kept as it is) or not
    ASCII (escaped): JSON with no backslash and no DEL holds none, and only the tags' types remain."""
    if "\\" not in as_json and "\x7f" not in as_json:
        if "tags" not in record:
            return False
        tags = record["tags"]
        return not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)
    if "\\ud" in as_json or "\\uD" in as_json:
        return sanitize_remote(record) != record
    name = record.get("name")
    if isinstance(name, str) and _first_bad_char(name) is not None:
        return True
    if "tags" in record:
        tags = record["tags"]
        return not isinstance(tags, list) or any(not isinstance(t, str) or _first_bad_char(t) is not None
                                                 for t in tags)
    return False


def _replace_bad(text: str) -> str:
    if _first_bad_char(text) is None:
        return text
    return "".join(REPLACEMENT if _bad_char(ch) else ch for ch in text)


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value if value.isascii() or encodable(value) else "".join(
            REPLACEMENT if unicodedata.category(ch) == "Cs" else ch for ch in value
        )
    if isinstance(value, dict):
        return {_replace_surrogates(key): _replace_surrogates(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    return value


def _unencodable_path(value: Any, path: str = "") -> str | None:
    """The first field (dotted path) holding text that cannot be encoded as UTF-8, if any."""
    if isinstance(value, str):
        return None if encodable(value) else (path or "a value")
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and not encodable(key):
                return f"{path or 'a'} key"
            found = _unencodable_path(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unencodable_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _shown(text: str) -> str:
    """A value quoted for an error line: escapes visible, and never more than 40 characters."""
    shown = repr(text[:40])
    return shown + "…" if len(text) > 40 else shown
