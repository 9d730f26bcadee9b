"""Jepsen-lite: three real daemons, a seeded schedule of CLI writes and faults, then a model check.

alpha, beta and gamma are linked in a triangle, each directed link through its own cuttable
proxy. A seeded schedule (the seed is printed) runs CLI writes on random machines: `register` of
a new session on the machine itself, and rename / tag / untag / archive / delete of a random
existing session from a random machine (forwarded to its owner). Between them come the faults:
a cut link, a machine cut off from both peers, kill -9 (down for a few writes, then restarted),
a wiped store (its files deleted while stopped), a restored store (copied aside earlier through
SQLite's backup, put back later), and one restart under `faketime -1d`. Cuts heal a few steps
later; a wiped or restored machine is sometimes restarted cut off, and writes before it links.

Every write the CLI acknowledged (exit 0) goes into the model (tests/jepsen_model.py, which
states the rule for when a field is known). Before each mutation the owner's own copy is read:
that tells whether the write is based on every earlier acknowledged write of the session, and
an owner that lost one without a wipe or restore is a violation by itself.

A wipe or a restore loses, by nature, what the machine alone held. So before either the run
waits (bounded) until a peer holds every record of the victim's own origin, healing the cuts if
it must: what is then lost or reverted is the protocol's doing, not the fault's.

At the end every cut heals, the mesh converges (bounded), and each replica is checked: nothing
lost, duplicated, resurrected or reverted. One figures line per run is printed.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Daemon, uid
from tests.jepsen_model import Model, in_doubt
from tests.mesh.helpers import Proxy, digest, link, mesh_daemon, proxies, replica, running, wait_converged
from tests.mesh.test_restore import STORE_FILES, _faketime_lib
from tests.polling import eventually, scaled

pytestmark = pytest.mark.mesh

SEEDS = (11, 23, 37)
"""11 found a recovering store's peers whose marks for it had already moved to its new lineage (its
older versions never came back), 23 an older lineage's full set replacing a newer mark when two
links read them at once (docs/mesh-protocol.md, Epochs); each has a deterministic test in
tests/unit/store/test_replication_sim.py."""
STEPS = 110
"""Schedule steps per run; each is one CLI write or one fault (about 0.1 s for a write)."""
RUN_BUDGET_S = 60.0
"""Writes stop being issued past this (faults still run), so a slow machine ends the run in time."""
FAULTS = ("cut", "isolate", "kill9", "wipe", "restore", "slowclock", "cut", "kill9")
TAGS = ("red", "green", "blue", "work", "later")
MUTATIONS = ("rename", "tag", "untag", "archive", "delete")
MUTATION_WEIGHTS = (5, 3, 3, 1, 1)
REPLICATED_S = 10.0
"""Bound on waiting for a peer to hold all of a victim's records before its wipe or restore."""
FINAL_CONVERGE_S = 45.0


@dataclass
class Run:
    rng: random.Random
    daemons: dict[str, Daemon]
    links: dict[tuple[str, str], Proxy]
    """(dialer, listener) -> the proxy the dialer goes through."""
    base_env: dict[str, dict[str, str]]
    model: Model = field(default_factory=Model)
    faults: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    copy: dict[str, Path] = field(default_factory=dict)
    next_uuid: int = 1
    step: int = 0

    # ---- faults ----------------------------------------------------------------------------

    def block(self, *machines: str, pair: tuple[str, str] | None = None) -> None:
        for (dialer, listener), proxy in self.links.items():
            if (pair is not None and {dialer, listener} == set(pair)) or dialer in machines or listener in machines:
                proxy.block()

    def heal(self) -> None:
        if any(proxy.blocked for proxy in self.links.values()):
            self.faults["heal"] += 1
            self.note("heal every link")
        for proxy in self.links.values():
            proxy.unblock()

    def restart(self, machine: str, slow: bool = False) -> None:
        daemon = self.daemons[machine]
        daemon.extra_env = dict(self.base_env[machine])
        if slow:
            lib = _faketime_lib()
            daemon.extra_env.update({"LD_PRELOAD": lib, "FAKETIME": "-1d", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        daemon.start()
        self.down.discard(machine)

    def replicated(self, victim: str) -> bool:
        """Some running peer holds every record of the victim's own origin, at its version."""
        own = {d for d in digest(self.daemons[victim]) if d[1] == victim}
        return any(own <= digest(self.daemons[m]) for m in self.daemons if m != victim and m not in self.down)

    def await_replicated(self, victim: str) -> None:
        try:
            eventually(lambda: self.replicated(victim), 2, interval=0.1, what=f"{victim}'s records on a peer")
        except AssertionError:
            self.heal()
            eventually(lambda: self.replicated(victim), REPLICATED_S, interval=0.1,
                       what=f"{victim}'s records on a peer after healing")

    def snapshot(self, machine: str) -> None:
        """A consistent copy of a running store, as a backup tool would take it."""
        if machine in self.down:
            self.restart(machine)
            self.note(f"restart {machine}")
        home = self.daemons[machine].home
        target = home / "jepsen-copy.sqlite"
        with (contextlib.closing(sqlite3.connect(f"file:{home / 'store.sqlite'}?mode=ro", uri=True)) as source,
              contextlib.closing(sqlite3.connect(target)) as copy):
            source.backup(copy)
        self.copy[machine] = target
        self.note(f"copy {machine}'s store aside")

    def fault(self, kind: str, victim: str) -> None:
        self.faults[kind] += 1
        daemon = self.daemons[victim]
        if kind == "cut":
            other = self.rng.choice([m for m in self.daemons if m != victim])
            self.block(pair=(victim, other))
            self.note(f"cut {victim}-{other}")
        elif kind == "isolate":
            self.block(victim)
            self.note(f"isolate {victim}")
        elif kind == "kill9":
            daemon.kill9()
            self.down.add(victim)
            self.note(f"kill -9 {victim}")
        elif kind == "slowclock":
            daemon.stop()
            self.restart(victim, slow=True)
            self.note(f"restart {victim} under faketime -1d")
        elif kind in ("wipe", "restore"):
            self.await_replicated(victim)
            daemon.stop()
            for name in STORE_FILES:
                (daemon.home / name).unlink(missing_ok=True)
            if kind == "restore":
                shutil.copy2(self.copy[victim], daemon.home / "store.sqlite")
                (daemon.home / "store.sqlite").chmod(0o600)
            self.model.lost_state[victim] = self.step
            alone = self.rng.random() < 0.5
            if alone:
                self.block(victim)
            self.restart(victim)
            self.note(f"{kind} {victim}'s store and restart it" + (", cut off" if alone else ""))

    # ---- writes ----------------------------------------------------------------------------

    def up(self) -> list[str]:
        return [m for m in self.daemons if m not in self.down]

    def write(self) -> None:
        machine = self.rng.choice(self.up())
        daemon = self.daemons[machine]
        live = [s for s in self.model.sessions.values() if s.deleted is not True]
        gone = [s for s in self.model.sessions.values() if s.deleted is True]
        if not live or self.rng.random() < 0.25:
            uuid, self.next_uuid = uid(self.next_uuid), self.next_uuid + 1
            name, tag = f"r{self.step}", self.rng.choice(TAGS)
            run = daemon.sesh("register", uuid, "--agent", "claude", "--name", name, "--tag", tag, "--cwd", "/tmp")
            self.model.registered(self.step, uuid, machine, name, tag, run.code == 0, in_doubt(run.code, run.err))
            self.note(f"{machine}: register {uuid[-3:]} {name} [{tag}] -> {run.code} {run.err.strip()}")
            return
        target = self.rng.choice(gone) if gone and self.rng.random() < 0.1 else self.rng.choice(live)
        kind = self.rng.choices(MUTATIONS, MUTATION_WEIGHTS)[0]
        value = f"n{self.step}" if kind == "rename" else self.rng.choice(TAGS)
        owner_up = target.owner not in self.down
        owner_copy = replica(self.daemons[target.owner]).get(target.uuid) if owner_up else None
        based = self.model.based(self.step, target.uuid, owner_copy, owner_up)
        args = {"rename": [value], "tag": [value], "untag": [value]}.get(kind, [])
        run = daemon.sesh(kind, target.uuid, *args)
        self.model.mutated(self.step, target.uuid, kind, value, based, run.code == 0, in_doubt(run.code, run.err))
        self.note(f"{machine}: {kind} {target.uuid[-3:]} (owner {target.owner}) {' '.join(args)}"
                  f"{'' if based else ' [unbased]'} -> {run.code} {run.err.strip()}")

    def note(self, what: str) -> None:
        self.log.append(f"{self.step:3d} {what}")


def plan(rng: random.Random, machines: list[str]) -> tuple[dict[int, tuple[str, str]], tuple[int, str]]:
    """Fault steps with their victims, and the step and machine of the copy the restore puts back."""
    kinds = list(FAULTS)
    rng.shuffle(kinds)
    if kinds[0] == "restore":
        kinds[0], kinds[1] = kinds[1], kinds[0]
    steps = sorted(rng.sample(range(12, STEPS - 8), len(kinds)))
    restored = rng.choice(machines)
    wiped = rng.choice([m for m in machines if m != restored])  # a copy is never put back across a wipe
    faults: dict[int, tuple[str, str]] = {}
    for step, kind in zip(steps, kinds, strict=True):
        victim = restored if kind == "restore" else wiped if kind == "wipe" else rng.choice(machines)
        faults[step] = (kind, victim)
    restore_step = next(step for step, (kind, _) in faults.items() if kind == "restore")
    return faults, (rng.randrange(4, restore_step - 4), restored)


def divergence(daemons: list[Daemon]) -> str:
    """What each daemon holds that another does not (uuid, origin, seq, deleted, name)."""
    held = {d.machine: digest(d) for d in daemons}
    lines: list[str] = []
    for a, held_a in held.items():
        for b, held_b in held.items():
            if a < b:
                lines += [f"only {a}: {x}" for x in sorted(held_a - held_b)]
                lines += [f"only {b}: {x}" for x in sorted(held_b - held_a)]
    return "\n".join(lines)


def keep_homes(daemons: dict[str, Daemon]) -> None:
    """A failed run keeps every home (store, daemon.log) for the report, and says where."""
    for daemon in daemons.values():
        daemon.keep_home = True  # type: ignore[attr-defined]
        print(f"kept {daemon.machine}'s home: {daemon.home}")


def integrity(daemon: Daemon) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{daemon.home / 'store.sqlite'}?mode=ro", uri=True)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.mark.parametrize("seed", SEEDS)
def test_jepsen_lite_nothing_lost_duplicated_resurrected_or_reverted(seed: int) -> None:
    print(f"jepsen-lite seed {seed}")
    started = time.monotonic()
    rng = random.Random(seed)
    names = ["alpha", "beta", "gamma"]
    daemons = {name: mesh_daemon(name) for name in names}
    pairs = [(a, b) for a in names for b in names if a != b]
    targets = [daemons[listener].port or 0 for _, listener in pairs]
    with proxies(*targets) as made, running(*daemons.values()):
        links = dict(zip(pairs, made, strict=True))
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                link(daemons[a], daemons[b], a_dials=links[a, b].url, b_dials=links[b, a].url)
        run = Run(rng, daemons, links, {name: dict(d.extra_env) for name, d in daemons.items()})
        faults, (copy_step, copied) = plan(rng, names)
        heal_at: int | None = None
        restart_at: dict[str, int] = {}
        for run.step in range(STEPS):
            for machine, at in list(restart_at.items()):
                if at <= run.step or run.step in faults:
                    del restart_at[machine]
                    run.restart(machine)
                    run.note(f"restart {machine}")
            if heal_at is not None and heal_at <= run.step:
                heal_at = None
                run.heal()
            if run.step == copy_step:
                run.snapshot(copied)
            if run.step in faults:
                kind, victim = faults[run.step]
                run.fault(kind, victim)
                if kind == "kill9":
                    restart_at[victim] = run.step + rng.randint(1, 4)
                if any(proxy.blocked for proxy in links.values()):
                    heal_at = run.step + rng.randint(4, 12)
            elif time.monotonic() - started < scaled(RUN_BUDGET_S):
                run.write()
        for machine in list(run.down):
            run.restart(machine)
        run.heal()
        converged = ""
        try:
            wait_converged(*daemons.values(), timeout=FINAL_CONVERGE_S)
        except AssertionError as exc:
            converged = f"no convergence within {FINAL_CONVERGE_S:.0f} s:\n{divergence(list(daemons.values()))}\n{exc}"
        listed: dict[str, list[dict[str, Any]]] = {m: d.call("replica") for m, d in daemons.items()}
        verdict = run.model.check(listed)
        for machine, daemon in daemons.items():
            active = [r["uuid"] for r in daemon.sesh("list", "--json").json()]
            for uuid, count in Counter(active).items():
                if count > 1:
                    verdict.note("duplicated", f"{machine}: `sesh list` shows {uuid} {count} times")
            assert integrity(daemon) == "ok", machine
        sessions = len(run.model.sessions)
        print(f"jepsen-lite seed {seed}: writes acknowledged {sum(run.model.acked.values())} "
              f"({dict(sorted(run.model.acked.items()))}), failed {sum(run.model.failed.values())}; "
              f"faults {dict(sorted(run.faults.items()))}; records checked {verdict.checked} "
              f"({sessions} sessions x {len(daemons)} replicas); {verdict.figures()}; "
              f"{'converged' if not converged else 'NOT CONVERGED'}; "
              f"{time.monotonic() - started:.1f} s")
        if converged or not verdict.ok():
            print("\n".join(run.log))
            keep_homes(daemons)
        assert verdict.ok() and not converged, f"seed {seed}:\n{verdict.report()}\n{converged}"
