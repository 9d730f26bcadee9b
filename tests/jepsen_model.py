"""The model behind the Jepsen-lite runs: what every acknowledged write promises, and the checker.

Used by the real-daemon run (tests/mesh/test_jepsen_lite.py), and written to serve an
in-memory run over the sans-I/O sessions as well. The model only knows what a writer was told: a write
counts once it was acknowledged, and a field is checked only where the model is sure of it.

The rule for "sure". Only a session's owner writes it, so the owner orders every write of it.
A write W is *based* when, just before it, the owner's copy showed every earlier acknowledged
write of the session (those writes were acknowledged and had converged where order is decided)
and no earlier write of the session ended in doubt. Then:

- a based write moves the model exactly: rename sets the name, archive sets archived, tag and
  untag add to or take from the known tag set, delete makes the session deleted for good;
- a write on a base that shows less (which may only happen right after the owner's store was
  wiped or restored: it writes on the copy it has, and by design that write wins) still sets
  the field it names (a rename its name, a delete deletes), but the fields it carries from its
  stale base become unknown, and so do the tags after a tag or untag;
- a write that failed in doubt (not "nothing was changed") leaves the session unknown for good,
  except a delete already acknowledged; a register in doubt is not required to exist;
- an owner that shows less than the model although its store was neither wiped nor restored
  since the session's last acknowledged write has lost or reverted that write: a violation.

The four checks after convergence: every acknowledged register is present (lost), no uuid or
agent session appears twice and no record exists that nobody registered (duplicated), every
acknowledged delete is still deleted (resurrected), and every known field equals the model
(reverted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("lost", "duplicated", "resurrected", "reverted")

NO_EFFECT_MARKERS = ("nothing was changed", "no session matches", "is deleted")
"""Error text that says a write did nothing (the owner was unreachable, or the target is gone)."""


@dataclass
class Expected:
    """What the acknowledged writes of one session promise; None means the model is not sure."""

    uuid: str
    owner: str
    name: str | None
    tags: frozenset[str] | None
    archived: bool | None = False
    deleted: bool | None = False
    surely_registered: bool = True
    in_doubt: bool = False
    last_ack: int = 0
    """The step of the last acknowledged write (wipes and restores after it excuse an owner)."""


@dataclass
class Model:
    sessions: dict[str, Expected] = field(default_factory=dict)
    acked: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    lost_state: dict[str, int] = field(default_factory=dict)
    """machine -> the last step at which its store was wiped or restored."""
    owner_behind: list[str] = field(default_factory=list)
    """Owners seen without a write they acknowledged, with no wipe or restore to excuse it."""

    def registered(self, step: int, uuid: str, owner: str, name: str, tag: str, ok: bool, doubt: bool) -> None:
        if ok:
            self.acked["register"] += 1
            self.sessions[uuid] = Expected(uuid, owner, name, frozenset({tag}), last_ack=step)
        elif doubt:
            self.failed["register"] += 1
            self.sessions[uuid] = Expected(uuid, owner, None, None, None, None, surely_registered=False,
                                           in_doubt=True)
        else:
            self.failed["register"] += 1

    def differences(self, uuid: str, held: Mapping[str, Any] | None) -> list[str]:
        """The known fields of `uuid` that `held` (a stored record, or None) does not show."""
        expected = self.sessions[uuid]
        if held is None:
            return ["missing"] if expected.surely_registered else []
        found: list[str] = []
        if expected.deleted is not None and bool(held.get("deleted")) != expected.deleted:
            found.append(f"deleted={held.get('deleted')} (expected {expected.deleted})")
        if held.get("deleted") or expected.deleted is not False:
            return found  # a tombstone keeps no body; a maybe-deleted one has no knowable body
        if expected.name is not None and held.get("name") != expected.name:
            found.append(f"name={held.get('name')!r} (expected {expected.name!r})")
        if expected.tags is not None and sorted(held.get("tags") or []) != sorted(expected.tags):
            found.append(f"tags={sorted(held.get('tags') or [])} (expected {sorted(expected.tags)})")
        if expected.archived is not None and bool(held.get("archived")) != expected.archived:
            found.append(f"archived={held.get('archived')} (expected {expected.archived})")
        return found

    def based(self, step: int, uuid: str, owner_copy: Mapping[str, Any] | None, owner_up: bool) -> bool:
        """Whether a write issued now sees every earlier acknowledged write at the owner."""
        expected = self.sessions[uuid]
        if expected.in_doubt or not owner_up:
            return False
        differences = self.differences(uuid, owner_copy)
        if differences and self.lost_state.get(expected.owner, -1) < expected.last_ack:
            self.owner_behind.append(f"step {step}: {expected.owner} shows {uuid} with {'; '.join(differences)}")
        return not differences

    def mutated(self, step: int, uuid: str, kind: str, value: str, based: bool, ok: bool, doubt: bool) -> None:
        expected = self.sessions[uuid]
        if not ok:
            self.failed[kind] += 1
            if doubt:
                expected.in_doubt = True
                expected.name = expected.tags = None
                expected.archived = None
                if expected.deleted is not True:
                    expected.deleted = None
            return
        self.acked[kind] += 1
        expected.last_ack = step
        if not based:
            expected.name = expected.tags = None
            expected.archived = None
        if kind == "rename":
            expected.name = value
        elif kind == "tag" and expected.tags is not None:
            expected.tags = expected.tags | {value}
        elif kind == "untag" and expected.tags is not None:
            expected.tags = expected.tags - {value}
        elif kind == "archive":
            expected.archived = True
        elif kind == "delete":
            expected.deleted = True

    def check(self, replicas: Mapping[str, Iterable[Mapping[str, Any]]]) -> Verdict:
        """The four checks against each replica (`machine -> every record it holds, as listed`)."""
        verdict = Verdict()
        for machine, listed in replicas.items():
            records = list(listed)
            uuids = Counter(str(r["uuid"]) for r in records)
            agent_ids = Counter(str(r.get("agentSessionId")) for r in records if r.get("agentSessionId"))
            for uuid, count in uuids.items():
                if count > 1:
                    verdict.note("duplicated", f"{machine}: uuid {uuid} listed {count} times")
                if uuid not in self.sessions:
                    verdict.note("duplicated", f"{machine}: {uuid} was never registered")
            for agent_id, count in agent_ids.items():
                if count > 1:
                    verdict.note("duplicated", f"{machine}: agent session {agent_id} held by {count} records")
            held = {str(r["uuid"]): r for r in records}
            for uuid, expected in self.sessions.items():
                verdict.checked += 1
                record = held.get(uuid)
                if record is None:
                    if expected.surely_registered:
                        verdict.note("lost", f"{machine}: acknowledged register of {uuid} missing")
                    continue
                if expected.deleted is True and not record.get("deleted"):
                    verdict.note("resurrected", f"{machine}: {uuid} deleted, now live as {record.get('name')!r}")
                    continue
                for difference in self.differences(uuid, record):
                    verdict.note("reverted", f"{machine}: {uuid} {difference}")
        for behind in self.owner_behind:
            verdict.note("reverted", f"owner copy behind its own acknowledged write: {behind}")
        return verdict


@dataclass
class Verdict:
    checked: int = 0
    problems: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def note(self, kind: str, what: str) -> None:
        self.problems[kind].append(what)

    def figures(self) -> str:
        return " / ".join(f"{kind} {len(self.problems[kind])}" for kind in KINDS)

    def ok(self) -> bool:
        return not any(self.problems.values())

    def report(self) -> str:
        return "\n".join(f"{kind}: {what}" for kind in KINDS for what in self.problems[kind])



def in_doubt(code: int, stderr: str) -> bool:
    """A failed CLI write that may still have taken effect (anything but a clear "did nothing")."""
    return code != 0 and code != 2 and not any(marker in stderr for marker in NO_EFFECT_MARKERS)
