"""`$SESH_HOME/peers.json`: each peer's name, websocket address and shared token. Stdlib only.

The CLI writes it (`sesh peer add|remove`) and tells the daemon to reload it; the daemon reads
it at start and on reload. A broken file is an error naming the file and the problem; it is
never silently treated as "no peers".

Format: {"peers": [{"name": "server", "address": "ws://100.64.0.2:7433", "token": "…"}]}; a
`wss://` peer may add "fingerprint": "SHA256:…", the pin on its TLS certificate (daemon/mesh_tls.py),
and any peer "ssh": "[user@]host[:port]", how to reach its terminal (docs/remote-enter.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sesh_mesh import wire
from sesh_mesh.daemon.mesh_tls import check_fingerprint
from sesh_mesh.errors import SeshError, UsageError
from sesh_mesh.ssh_target import SshTarget, parse_target, target_from_url
from sesh_mesh.store.replication import MACHINE_NAME_RE

PEERS_FILE = "peers.json"


@dataclass(frozen=True)
class Peer:
    name: str
    address: str
    token: str
    fingerprint: str | None = None
    """The SHA-256 pin on a wss:// peer's certificate; None: the system CAs vouch for it."""
    ssh: str | None = None
    """`[user@]host[:port]` for entering its sessions; None: the host of `address`."""

    def public(self) -> dict[str, str]:
        """Everything but the token (which is never shown)."""
        shown = {"name": self.name, "address": self.address}
        if self.fingerprint is not None:
            shown["fingerprint"] = self.fingerprint
        return shown if self.ssh is None else {**shown, "ssh": self.ssh}

    def ssh_target(self) -> SshTarget | None:
        return parse_target(self.ssh) if self.ssh else target_from_url(self.address)


class PeersFileError(SeshError):
    pass


def peers_path(home: Path) -> Path:
    return home / PEERS_FILE


def check_name(name: str) -> str:
    if not MACHINE_NAME_RE.match(name):
        raise UsageError(
            f"bad peer name {name!r}",
            "use the peer's machine name: letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def check_address(address: str) -> str:
    """A ws:// or wss:// URL with a host and a port, without credentials or a query."""
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad peer address {address!r}: {exc}", "write ws://HOST:PORT or wss://HOST:PORT") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname or port is None:
        raise UsageError(f"bad peer address {address!r}", "write ws://HOST:PORT or wss://HOST:PORT")
    if parts.username or parts.password or parts.query:
        raise UsageError(
            f"bad peer address {address!r}: no credentials or query in the URL (URLs end up in logs)",
            "pass the secret with --token",
        )
    return address


TOKEN_MIN_BITS = 128
"""A token must carry this much randomness: out of reach of guessing over the network."""

_HEX = frozenset("0123456789abcdefABCDEF")
_BASE64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def token_bits(token: str) -> int:
    """An upper bound on the randomness a token can hold, from its length and alphabet: 4 bits a
    character for hex, 6 for base64url, 6.5 otherwise; 0 for a short repeated pattern."""
    if len(set(token)) < 8 or any(token == token[:n] * (len(token) // n) + token[:len(token) % n]
                                  for n in range(1, len(token) // 2 + 1)):
        return 0
    per_char = 4.0 if set(token) <= _HEX else 6.0 if set(token) <= _BASE64URL else 6.5
    return int(len(token) * per_char)


def check_token(token: str) -> str:
    if not token or token != token.strip() or any(ch.isspace() for ch in token):
        raise UsageError(
            "the peer token is empty or contains whitespace", "use the same non-empty token on both machines"
        )
    if token_bits(token) < TOKEN_MIN_BITS:
        raise UsageError(
            f"the peer token is too weak: under {TOKEN_MIN_BITS} bits of randomness (at least 22 base64url "
            "or 32 hex characters, not a repeated pattern)",
            "make one with `sesh peer token` and use it on both machines",
        )
    return token


def check_pin(address: str, fingerprint: str | None) -> str | None:
    """A fingerprint only pins a wss:// peer; over ws:// there is no certificate to pin."""
    if fingerprint is None:
        return None
    if not address.startswith("wss://"):
        raise UsageError(
            f"a certificate fingerprint needs a wss:// address, not {address!r}", "write wss://HOST:PORT"
        )
    return check_fingerprint(fingerprint)


def load_peers(home: Path) -> dict[str, Peer]:
    """The configured peers by name; {} when the file does not exist."""
    path = peers_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise PeersFileError(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from exc
    try:
        raw = wire.decode(text)
    except json.JSONDecodeError as exc:
        raise PeersFileError(
            f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}",
            f"fix the JSON at that line, or move {path.name} away and re-add peers with `sesh peer add`",
        ) from None
    except ValueError as exc:
        raise PeersFileError(f"{path}: {exc}", f"move {path.name} away and re-add peers with `sesh peer add`") from None
    entries = raw.get("peers") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise PeersFileError(f"{path}: expected an object with a \"peers\" list", "see `sesh peer add --help`")
    peers: dict[str, Peer] = {}
    for index, entry in enumerate(entries, start=1):
        where = f"{path}: peer entry {index}"
        if not isinstance(entry, dict):
            raise PeersFileError(f"{where} is not an object", f"fix or remove it in {path}")
        fields = {key: entry.get(key) for key in ("name", "address", "token")}
        for key, value in fields.items():
            if not isinstance(value, str):
                raise PeersFileError(f"{where} has no {key} string", f"fix or remove it in {path}")
        pin = entry.get("fingerprint")
        if pin is not None and not isinstance(pin, str):
            raise PeersFileError(f"{where} has a fingerprint that is not a string", f"fix or remove it in {path}")
        ssh = entry.get("ssh")
        if ssh is not None and not isinstance(ssh, str):
            raise PeersFileError(f"{where} has an ssh target that is not a string", f"fix or remove it in {path}")
        try:
            peer = Peer(check_name(entry["name"]), check_address(entry["address"]), check_token(entry["token"]),
                        check_pin(entry["address"], pin), None if ssh is None else str(parse_target(ssh)))
        except UsageError as exc:
            raise PeersFileError(f"{where}: {exc.what}", exc.fix) from None
        if peer.name in peers:
            raise PeersFileError(f"{where}: peer {peer.name!r} appears twice", f"keep one entry in {path}")
        peers[peer.name] = peer
    return peers


def save_peers(home: Path, peers: dict[str, Peer]) -> None:
    """Replace the file atomically, readable by the owner only (it holds tokens)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = peers_path(home)
    body = {"peers": [{"name": p.name, "address": p.address, "token": p.token,
                       **({"fingerprint": p.fingerprint} if p.fingerprint else {}),
                       **({"ssh": p.ssh} if p.ssh else {})} for p in sorted(
        peers.values(), key=lambda p: p.name)]}
    fd, tmp = tempfile.mkstemp(prefix=".peers.", dir=home)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2)
            handle.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
