"""wss:// links: a TLS listener with a self-signed certificate, and dialers pinned to its fingerprint.

Certificates are made per test with `openssl req -x509` for 127.0.0.1; all traffic is loopback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidMessage
from websockets.sync.client import connect

from tests.harness import Daemon, uid
from tests.mesh.helpers import NOBODY, add_peer, mesh_daemon, register, replica, running, wait_converged, wait_linked
from tests.polling import eventually

pytestmark = pytest.mark.mesh

TOKEN = "tls-token-0123456789-Wm4Kq8Zr"


def make_cert(folder: Path, name: str = "mesh") -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("NOT AVAILABLE: openssl, needed to make the test certificate")
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return cert, key


def openssl_fingerprint(cert: Path) -> str:
    """The fingerprint as openssl itself computes it, to check ours against."""
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(cert)],
                         check=True, capture_output=True, text=True, timeout=30).stdout
    return "SHA256:" + out.strip().split("=", 1)[1]


def tls_daemon(machine: str) -> Daemon:
    """A daemon whose listener speaks wss:// ([mesh] tls_cert/tls_key in its config.toml)."""
    daemon = mesh_daemon(machine)
    make_cert(daemon.home)
    (daemon.home / "config.toml").write_text('[mesh]\ntls_cert = "mesh-cert.pem"\ntls_key = "mesh-key.pem"\n')
    return daemon


def wss(daemon: Daemon) -> str:
    return f"wss://{daemon.listen}"


def peer_state(daemon: Daemon, name: str) -> dict[str, object]:
    return next(p for p in daemon.call("status")["peers"] if p["name"] == name)


@pytest.fixture
def pair() -> Iterator[tuple[Daemon, Daemon]]:
    """alpha (no listener: it only dials) and beta (a wss:// listener); beta knows alpha's token."""
    a, b = mesh_daemon("alpha", listen=False), tls_daemon("beta")
    add_peer(b, "alpha", NOBODY, TOKEN)
    with running(a, b):
        yield a, b


def test_records_converge_over_wss_with_a_pinned_fingerprint(pair: tuple[Daemon, Daemon]) -> None:
    a, b = pair
    printed = b.sesh("daemon", "tls-fingerprint")
    assert printed.code == 0 and printed.err == ""
    fingerprint = printed.out.strip()
    assert fingerprint == openssl_fingerprint(b.home / "mesh-cert.pem")
    added = a.sesh("peer", "add", "beta", wss(b), "--token", TOKEN, "--fingerprint", fingerprint.lower())
    assert added.code == 0, added.err
    assert json.loads((a.home / "peers.json").read_text())["peers"][0]["fingerprint"] == fingerprint
    register(a, uid(1), name="from-alpha")
    register(b, uid(2), name="from-beta")
    wait_linked(a, "beta")
    final = wait_converged(a, b)
    assert {(r[0], r[4]) for r in final} == {(uid(1), "from-alpha"), (uid(2), "from-beta")}
    assert peer_state(a, "beta")["address"] == wss(b)
    checks = {c["check"]: c for c in b.sesh("doctor", "--json").json()}
    assert checks["mesh-tls"]["detail"] == f"peers dial wss://{b.listen}; certificate {fingerprint}"


def test_a_wrong_fingerprint_is_fatal_and_nothing_replicates(pair: tuple[Daemon, Daemon]) -> None:
    a, b = pair
    other_cert, _ = make_cert(a.home, "other")
    wrong = openssl_fingerprint(other_cert)
    right = openssl_fingerprint(b.home / "mesh-cert.pem")
    register(a, uid(1), name="secret-of-alpha")
    register(b, uid(2), name="secret-of-beta")
    assert a.sesh("peer", "add", "beta", wss(b), "--token", TOKEN, "--fingerprint", wrong).code == 0
    expected = (
        f"TLS certificate at {wss(b)} is {right}, not the pinned {wrong}: nothing was sent "
        f"(if beta's certificate changed on purpose, run `sesh daemon tls-fingerprint` there and "
        f"`sesh peer add beta {wss(b)} --token T --fingerprint NEW` here)"
    )
    eventually(lambda: peer_state(a, "beta")["lastError"] == expected, 15, what="the pin refusal in status")
    state = peer_state(a, "beta")
    assert state["fatal"] is True and state["connected"] is False
    status = a.sesh("daemon", "status")
    line = next(line for line in status.out.splitlines() if line.startswith("peer beta: "))
    assert line.startswith(f"peer beta: down since {state['since']}, ") and line.endswith(f"last error: {expected}")
    doctor = {c["check"]: c for c in a.sesh("doctor", "--json").json()}["peer beta"]
    assert doctor["status"] == "fail" and doctor["detail"] == expected
    assert doctor["fix"] == (f"run `sesh daemon tls-fingerprint` on beta and pin that: sesh peer add beta {wss(b)} "
                             "--token T --fingerprint SHA256:…")
    # No fingerprint: the system CAs must vouch for the certificate, and they do not know this one.
    assert a.sesh("peer", "add", "beta", wss(b), "--token", TOKEN).code == 0
    eventually(lambda: "is not trusted" in str(peer_state(a, "beta")["lastError"]), 15, what="the CA refusal")
    assert peer_state(a, "beta")["fatal"] is True
    assert set(replica(a)) == {uid(1)} and set(replica(b)) == {uid(2)}
    assert peer_state(b, "alpha")["connected"] is False
    # The daemon never got as far as a hello: beta logged no authentication attempt from alpha.
    assert "sent a wrong token" not in (b.home / "daemon.log").read_text()


def test_a_plain_ws_client_to_the_tls_port_is_refused(pair: tuple[Daemon, Daemon]) -> None:
    a, b = pair
    with pytest.raises((InvalidMessage, OSError, EOFError)):
        connect(f"ws://{b.listen}", proxy=None, open_timeout=5).close()
    assert a.sesh("peer", "add", "beta", f"ws://{b.listen}", "--token", TOKEN).code == 0
    register(a, uid(1), name="from-alpha")
    eventually(lambda: peer_state(a, "beta")["lastError"] is not None, 15, what="the refused plain link")
    assert peer_state(a, "beta")["connected"] is False
    assert b.call("ping")["machine"] == "beta"
    assert replica(b) == {}
    fingerprint_over_ws = a.sesh("peer", "add", "beta", f"ws://{b.listen}", "--token", TOKEN,
                                 "--fingerprint", openssl_fingerprint(b.home / "mesh-cert.pem"))
    assert (fingerprint_over_ws.code, fingerprint_over_ws.err) == (
        2, f"sesh: a certificate fingerprint needs a wss:// address, not 'ws://{b.listen}' (write wss://HOST:PORT)\n")
