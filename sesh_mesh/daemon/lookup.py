"""Finding records by uuid or agent-id prefix, and filtering lists. Pure over a record dict."""

from __future__ import annotations

from collections.abc import Iterable

from sesh_mesh.errors import AmbiguousPrefix, UnknownSession
from sesh_mesh.ids import check_prefix, is_full_uuid
from sesh_mesh.store.record import Record

MAX_LISTED_CANDIDATES = 8


def matches(record: Record, prefix: str) -> bool:
    agent_id = record.get("agentSessionId") or ""
    return bool(record["uuid"].startswith(prefix) or (agent_id and agent_id.startswith(prefix)))


def resolve(records: dict[str, Record], text: str) -> Record:
    """The one record whose uuid (or agentSessionId) starts with `text`.

    Live records are preferred over tombstones so an old deletion never makes a prefix ambiguous,
    and among several live ones a single unarchived record wins over archived ones.
    """
    prefix = check_prefix(text)
    if is_full_uuid(prefix) and prefix in records:
        return records[prefix]
    found = [record for record in records.values() if matches(record, prefix)]
    alive = [record for record in found if not record.get("deleted")]
    active = [record for record in alive if not record.get("archived")]
    candidates = active if len(active) == 1 else alive or found
    if not candidates:
        raise UnknownSession(f"no session matches {text!r}", "see `sesh list` or `sesh find <prefix>`")
    if len(candidates) > 1:
        shown = ", ".join(
            f"{r['uuid']} ({r.get('name') or r.get('agent')}@{r['machine']}{', archived' if r.get('archived') else ''})"
            for r in sorted(candidates, key=lambda r: r["uuid"])[:MAX_LISTED_CANDIDATES]
        )
        more = len(candidates) - MAX_LISTED_CANDIDATES
        tail = f" and {more} more" if more > 0 else ""
        raise AmbiguousPrefix(f"ambiguous prefix {text!r} matches {shown}{tail}", "type more characters of the uuid")
    return candidates[0]


def select(
    records: Iterable[Record],
    *,
    machine: str | None = None,
    agent: str | None = None,
    tag: str | None = None,
    archived: bool = False,
    prefix: str | None = None,
) -> list[Record]:
    out = []
    for record in records:
        if record.get("deleted"):
            continue
        if prefix is None and record.get("archived") and not archived:
            continue
        if machine and record["machine"] != machine:
            continue
        if agent and record.get("agent") != agent:
            continue
        if tag and tag not in record.get("tags", []):
            continue
        if prefix is not None and not matches(record, prefix):
            continue
        out.append(record)
    out.sort(key=lambda r: (str(r.get("updatedAt") or ""), r["uuid"]), reverse=True)
    return out
