"""Forwarding: mutations of another machine's record run at the owner and replicate back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.harness import Daemon, uid
from tests.mesh.helpers import (
    link,
    linked_pair,
    log_line,
    mesh_daemon,
    proxies,
    register,
    replica,
    running,
    wait_converged,
    wait_linked,
)
from tests.polling import eventually

pytestmark = pytest.mark.mesh

UNREACHABLE = re.compile(
    r"^sesh: cannot reach machine 'beta' \(link down since \S+, last error: [^\n]+\); nothing was changed "
    r"\(retry when it is back online; `sesh daemon status` shows the link\)\n$"
)


def _field_is(daemon: Daemon, field: str, expected: object) -> Callable[[], bool]:
    return lambda: bool(replica(daemon)[uid(1)][field] == expected)


def test_rename_tag_archive_delete_of_a_remote_record_land_on_the_owner() -> None:
    with linked_pair() as (a, b):
        register(b, uid(1), name="owned-by-beta", tags=["one"])
        wait_converged(a, b)
        steps: list[tuple[list[str], str, object]] = [
            (["rename", uid(1), "renamed-from-alpha"], "name", "renamed-from-alpha"),
            (["tag", uid(1)[:8], "two", "three"], "tags", ["one", "three", "two"]),
            (["untag", uid(1), "one"], "tags", ["three", "two"]),
            (["retag", uid(1), "two=deux"], "tags", ["deux", "three"]),
            (["archive", uid(1)], "archived", True),
            (["unarchive", uid(1)], "archived", False),
            (["autoname-toggle", uid(1), "--on"], "autoRename", True),
        ]
        for argv, field, expected in steps:
            run = a.sesh(*argv, "--json")
            assert run.code == 0, (argv, run.err)
            assert run.json()[field] == expected  # the owner's committed record comes back
            owner_copy = replica(b)[uid(1)]
            assert owner_copy[field] == expected and owner_copy["origin"] == "beta"
            eventually(_field_is(a, field, expected), 5, what=f"{field} back on alpha")
        run = a.sesh("delete", uid(1))
        assert (run.code, run.out) == (0, f"deleted {uid(1)}\n"), run.err
        assert replica(b)[uid(1)]["deleted"] is True
        wait_converged(a, b)
        assert a.sesh("info", uid(1), "--json").json()["deleted"] is True
        assert a.sesh("list", "--json").json() == []


def test_owner_down_fails_with_a_clear_error_and_changes_nothing() -> None:
    with linked_pair() as (a, b):
        register(b, uid(1), name="before")
        wait_converged(a, b)
        before = replica(a)[uid(1)]
        b.stop()
        eventually(lambda: not a.call("status")["peers"][0]["connected"], 10, what="alpha to see beta down")
        for argv in (["rename", uid(1), "after"], ["tag", uid(1), "x"], ["archive", uid(1)], ["delete", uid(1)]):
            run = a.sesh(*argv)
            assert run.code == 1 and run.out == ""
            assert UNREACHABLE.match(run.err), run.err
        assert replica(a)[uid(1)] == before
        listed = a.sesh("list", "--json").json()
        assert listed[0]["stale"] is True and listed[0]["lastContact"]
        b.start()
        wait_converged(a, b)
        assert replica(b)[uid(1)]["name"] == "before" and replica(b)[uid(1)]["originSeq"] == before["originSeq"]


def test_a_forwarded_mutation_retried_after_a_dropped_link_takes_effect_once() -> None:
    a = mesh_daemon("alpha", listen=False)
    b = mesh_daemon("beta")
    assert b.port
    with proxies(b.port) as (wire,), running(b):
        link(a, b, a_dials=wire.url)
        register(b, uid(1), name="toggle-me")
        with running(a):
            wait_converged(a, b)
            assert replica(b)[uid(1)]["autoRename"] is True
            wire.stall_down = True  # beta's answers are lost in flight from now on
            toggle = subprocess.Popen(
                [sys.executable, "-m", "sesh_mesh", "autoname-toggle", uid(1), "--json"],
                env=a.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            try:
                eventually(lambda: replica(b)[uid(1)]["autoRename"] is False, 10, what="the toggle applied at beta")
                wire.stall_down = False
                wire.cut()  # the link drops after beta applied, before alpha heard back
                out, err = toggle.communicate(timeout=30)
            finally:
                if toggle.poll() is None:
                    toggle.kill()
            assert toggle.returncode == 0, err
            assert json.loads(out)["autoRename"] is False
            log_line(b, "answered from the finished call")  # the retry reached beta…
            assert replica(b)[uid(1)]["autoRename"] is False  # …and did not toggle it back
            wait_converged(a, b)
            assert replica(a)[uid(1)]["autoRename"] is False


def test_delete_force_tombstones_an_orphan_and_the_owner_adopts_it() -> None:
    with linked_pair() as (a, b):
        register(b, uid(1), name="orphan")
        wait_converged(a, b)
        b.stop()
        assert a.sesh("delete", uid(1)).code == 1
        run = a.sesh("delete", uid(1), "--force", "--json")
        assert run.code == 0, run.err
        assert run.json()["deleted"] is True and run.json()["machine"] == "beta"
        b.start()
        wait_converged(a, b)
        assert replica(b)[uid(1)]["deleted"] is True
        assert b.sesh("list", "--json").json() == []
        refused = b.sesh("rename", uid(1), "zombie")
        assert refused.code == 1 and "is deleted" in refused.err


def test_daemon_status_and_doctor_run_on_another_machine() -> None:
    with linked_pair() as (a, b):
        wait_linked(a, "beta")
        status = a.sesh("daemon", "status", "--machine", "beta", "--json")
        assert status.code == 0, status.err
        assert status.json()["machine"] == "beta" and status.json()["listen"] == b.listen
        assert [p["name"] for p in status.json()["peers"]] == ["alpha"]
        doctor = a.sesh("doctor", "--machine", "beta", "--json")
        assert doctor.code == 0, doctor.err
        checks = {c["check"]: c for c in doctor.json()}
        assert checks["daemon"]["detail"].startswith("beta: pid ")
        assert checks["peer alpha"]["status"] == "ok"
        human = a.sesh("daemon", "status")
        line = r"^peer beta: connected since \S+, lag alpha:0, beta:0, 0 records held$"
        assert re.search(line, human.out, re.MULTILINE), human.out
        unknown = a.sesh("daemon", "status", "--machine", "nosuch")
        assert unknown.code == 1
        assert unknown.err == (
            "sesh: cannot reach machine 'nosuch' (it is not a peer of this machine and no linked peer reaches it); "
            "nothing was changed (retry when it is back online; `sesh daemon status` shows the link)\n"
        )
