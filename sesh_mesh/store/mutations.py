"""User mutations of a record as pure functions (record in, record out), validated here.

The daemon runs them at the owner inside `Store.write_local`; a forwarded mutation travels as
`(op, args)` and runs through the same function at the owner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.store.record import Record, normalize_tags, tombstone
from sesh_mesh.store.validation import TAGS_MAX, check_name, check_tag

__all__ = ["MUTATION_OPS", "build", "check_name", "check_tag", "parse_retag", "validate"]

MUTATION_OPS = ("rename", "tag", "untag", "retag", "archive", "unarchive", "autoname-toggle", "delete")


def parse_retag(pair: str) -> tuple[str, str]:
    if not isinstance(pair, str):
        raise UsageError(f"bad retag {pair!r}", "write old=new with both tags non-empty")
    old, sep, new = pair.partition("=")
    if not sep or not old.strip() or not new.strip():
        raise UsageError(f"bad retag {pair!r}", "write old=new with both tags non-empty")
    return check_tag(old), check_tag(new)


def validate(op: str, args: dict[str, Any]) -> None:
    """Raise UsageError for bad arguments before anything is looked up or changed."""
    if op == "rename":
        check_name(args.get("name", ""))
    elif op in ("tag", "untag"):
        tags = args.get("tags") or []
        if not isinstance(tags, list) or not tags:
            raise UsageError(f"{op} needs at least one tag", f"sesh {op} <uuid> <tag>…")
        if op == "tag" and len(tags) > TAGS_MAX:
            raise UsageError(f"a session can have at most {TAGS_MAX} tags; this call adds {len(tags)}",
                             "give fewer tags")
        for tag in tags:
            check_tag(tag)
    elif op == "retag":
        pairs = args.get("pairs") or []
        if not isinstance(pairs, list) or not pairs:
            raise UsageError("retag needs old=new", "sesh retag <uuid> old=new")
        for pair in pairs:
            parse_retag(pair)
    elif op == "autoname-toggle":
        if args.get("value") not in (None, True, False):
            raise UsageError("autoname-toggle takes --on or --off", "sesh autoname-toggle <uuid> --on")
    elif op not in MUTATION_OPS:
        raise UsageError(f"unknown mutation {op!r}", "see sesh --help")


def build(op: str, args: dict[str, Any], now: str) -> Callable[[Record | None], Record | None]:
    """The mutation for `op`; it returns None when the record would not change."""
    validate(op, args)

    def apply(current: Record | None) -> Record | None:
        if current is None:
            raise SeshError("session vanished while being changed", "retry the command")
        if current.get("deleted"):
            raise SeshError(f"session {current['uuid']} is deleted", "nothing to change")
        new = dict(current)
        if op == "rename":
            new["name"] = check_name(args["name"])
            if not args.get("keep_auto"):
                new["autoRename"] = False
        elif op == "tag":
            new["tags"] = normalize_tags([*current.get("tags", []), *args["tags"]])
        elif op == "untag":
            new["tags"] = [t for t in current.get("tags", []) if t not in set(args["tags"])]
        elif op == "retag":
            tags = list(current.get("tags", []))
            for pair in args["pairs"]:
                old, replacement = parse_retag(pair)
                if old not in tags:
                    raise SeshError(
                        f"session {current['uuid']} has no tag {old!r}",
                        f"its tags: {', '.join(tags) or 'none'}",
                    )
                tags = [replacement if t == old else t for t in tags]
            new["tags"] = normalize_tags(tags)
        elif op == "archive":
            new["archived"] = True
        elif op == "unarchive":
            new["archived"] = False
        elif op == "autoname-toggle":
            value = args.get("value")
            new["autoRename"] = (not current.get("autoRename", True)) if value is None else bool(value)
        elif op == "delete":
            if current.get("live") and not args.get("force"):
                raise SeshError(
                    f"session {current['uuid']} is live in a pane",
                    f"stop it first: sesh stop {current['uuid'][:8]}",
                )
            return {**tombstone(current), "updatedAt": now}
        if new == current:
            return None
        new["updatedAt"] = now
        return new

    return apply
