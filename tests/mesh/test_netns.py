"""Two daemons on separate network stacks (Linux network namespaces joined by a veth pair).

Safety: test traffic only ever goes to addresses inside namespaces this test made.
A blackhole route for the test subnet is added in the root namespace before anything else, so
a stray connection from here fails at once instead of leaving the machine; daemons run inside
the namespaces and the test drives them through their Unix sockets (the filesystem is shared).
Everything is torn down in `finally`, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.harness import Daemon, uid
from tests.mesh.helpers import MESH_ENV, add_peer, register, replica, running, wait_converged
from tests.polling import eventually

pytestmark = [pytest.mark.mesh, pytest.mark.netns]

PORT = 7433
SUBNET_BASE = "10.231"
"""Only ever used inside the namespaces this test creates (and blackholed in the root one)."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


@dataclass
class NetnsDaemon(Daemon):
    netns: str = ""

    def start(self, timeout: float = 15) -> NetnsDaemon:
        assert self.listen and self.netns
        args = ["ip", "netns", "exec", self.netns, sys.executable, "-m", "sesh_mesh", "daemon", "run",
                "--listen", self.listen]
        with (self.home / "daemon.stderr").open("ab") as log:
            self.process = subprocess.Popen(args, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        eventually(self._answers, timeout, what=f"daemon {self.machine} in {self.netns} to answer")
        return self


@contextlib.contextmanager
def two_hosts() -> Iterator[tuple[str, str, str, str]]:
    """(netns A, netns B, address A, address B) joined by veth; torn down on exit."""
    if os.geteuid() != 0:
        pytest.skip("NOT RUN: network-namespace test needs root (ip netns add)")
    tag = f"{os.getpid() % 100000}"
    used = ip("route", "show", check=False).stdout
    third = next((n for n in range(1 + os.getpid() % 200, 255) if f"{SUBNET_BASE}.{n}.0/24" not in used), None)
    if third is None:
        pytest.skip("NOT RUN: no free test subnet under 10.231.0.0/16")
    subnet = f"{SUBNET_BASE}.{third}"
    ns_a, ns_b, veth_a, veth_b = f"sesh-{tag}-a", f"sesh-{tag}-b", f"vs{tag}a", f"vs{tag}b"
    guard = ip("route", "add", "blackhole", f"{subnet}.0/24", check=False)
    if guard.returncode != 0:
        pytest.skip(f"NOT RUN: cannot add the blackhole guard route: {guard.stderr.strip()}")
    try:
        made = ip("netns", "add", ns_a, check=False)
        if made.returncode != 0:
            pytest.skip(f"NOT RUN: ip netns add failed: {made.stderr.strip()}")
        ip("netns", "add", ns_b)
        ip("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        ip("link", "set", veth_a, "netns", ns_a)
        ip("link", "set", veth_b, "netns", ns_b)
        ip("-n", ns_a, "addr", "add", f"{subnet}.1/24", "dev", veth_a)
        ip("-n", ns_b, "addr", "add", f"{subnet}.2/24", "dev", veth_b)
        for ns, veth in ((ns_a, veth_a), (ns_b, veth_b)):
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", veth, "up")
        yield ns_a, ns_b, f"{subnet}.1", f"{subnet}.2"
    finally:
        for ns in (ns_a, ns_b):
            ip("netns", "del", ns, check=False)  # takes its end of the veth pair with it
        ip("route", "del", "blackhole", f"{subnet}.0/24", check=False)


def test_daemons_in_separate_network_stacks_survive_a_cut_link() -> None:
    with two_hosts() as (ns_a, ns_b, addr_a, addr_b):
        # The guard works: from the root namespace the test subnet is unreachable at once.
        with pytest.raises(OSError), socket.create_connection((addr_b, PORT), timeout=2):
            pass
        a = NetnsDaemon("alpha", listen=f"{addr_a}:{PORT}", extra_env=dict(MESH_ENV), netns=ns_a)
        b = NetnsDaemon("beta", listen=f"{addr_b}:{PORT}", extra_env=dict(MESH_ENV), netns=ns_b)
        add_peer(a, "beta", f"ws://{addr_b}:{PORT}", "netns-token-4f9c2a7e1b8d3c6f5a0e9b2d")
        add_peer(b, "alpha", f"ws://{addr_a}:{PORT}", "netns-token-4f9c2a7e1b8d3c6f5a0e9b2d")
        with running(a, b):
            register(a, uid(1), name="before-cut-a")
            register(b, uid(2), name="before-cut-b")
            wait_converged(a, b)

            veth_b = f"vs{os.getpid() % 100000}b"
            ip("-n", ns_b, "link", "set", veth_b, "down")
            try:
                register(a, uid(3), name="during-cut-a")
                register(b, uid(4), name="during-cut-b")
                eventually(lambda: not a.call("status")["peers"][0]["connected"], 15, what="alpha to see the cut")
                assert uid(3) not in replica(b) and uid(4) not in replica(a)
                refused = a.sesh("rename", uid(2), "x")
                assert refused.code == 1 and "cannot reach machine 'beta'" in refused.err
            finally:
                ip("-n", ns_b, "link", "set", veth_b, "up")
            final = wait_converged(a, b, timeout=30)
            assert {r[0] for r in final} == {uid(n) for n in range(1, 5)}
            assert a.sesh("rename", uid(2), "after-heal").code == 0
            eventually(lambda: replica(a)[uid(2)]["name"] == "after-heal", 10)
