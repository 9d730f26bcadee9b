"""The one door to the session records held in memory: get, select, resolve, owned-here.

Every daemon part reads records through this object rather than the store's dict, so "which
records exist and which are ours" has one answer (docs/architecture.md, "Records").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sesh_mesh import ids
from sesh_mesh.daemon import lookup
from sesh_mesh.store.record import Record

if TYPE_CHECKING:
    from sesh_mesh.store.store import Store


class Sessions:
    def __init__(self, store: Store, machine: str) -> None:
        self._store = store
        self.machine = machine
        self._id_pairs: dict[str, str] = {}
        """(uuid → agentSessionId) of every record not deleted, as of the last `short_ids`."""
        self._short: dict[str, str] | None = None
        store.subscribe(self._on_commit)

    def _on_commit(self, record: Record) -> None:
        if self._short is None:
            return
        ids_now = None if record.get("deleted") else (record.get("agentSessionId") or "")
        if self._id_pairs.get(record["uuid"]) != ids_now:
            self._short = None  # the set of ids changed: shown ids may need more characters

    def short_ids(self) -> dict[str, str]:
        """Each record's shown id: the shortest prefix (8 characters or more) that resolves to it
        alone (`ids.short_ids`), recomputed only when a record's ids come or go."""
        if self._short is None:
            self._id_pairs = {r["uuid"]: r.get("agentSessionId") or "" for r in self._store.records.values()
                              if not r.get("deleted")}
            self._short = ids.short_ids(list(self._id_pairs.items()))
        return self._short

    def get(self, uuid: str) -> Record | None:
        return self._store.records.get(uuid)

    def __getitem__(self, uuid: str) -> Record:
        return self._store.records[uuid]

    def __contains__(self, uuid: object) -> bool:
        return uuid in self._store.records

    def __len__(self) -> int:
        return len(self._store.records)

    def all(self) -> list[Record]:
        """Every record held, tombstones included (a copy: safe to iterate across awaits)."""
        return list(self._store.records.values())

    def owned_here(self) -> Iterator[Record]:
        """Records this machine owns and has not deleted."""
        for record in list(self._store.records.values()):
            if record["machine"] == self.machine and not record.get("deleted"):
                yield record

    def resolve(self, text: str) -> Record:
        """The one record a uuid or agent-id prefix names (see `lookup.resolve`)."""
        return lookup.resolve(self._store.records, text)

    def select(
        self,
        *,
        machine: str | None = None,
        agent: str | None = None,
        tag: str | None = None,
        archived: bool = False,
        prefix: str | None = None,
    ) -> list[Record]:
        return lookup.select(
            self._store.records.values(), machine=machine, agent=agent, tag=tag, archived=archived, prefix=prefix
        )
