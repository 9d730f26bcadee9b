"""TLS for mesh links: the listener's certificate, and the dialer's pin on its SHA-256 fingerprint.

A `wss://` peer with a fingerprint in peers.json is trusted by that fingerprint alone: the
certificate may be self-signed, and its names are not checked. A `wss://` peer without one is
checked against the system's CAs and its host name, as a browser would. The pin is checked
after the TLS handshake and before the hello, so a wrong certificate never sees the token.
Stdlib only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import ssl
from pathlib import Path

from sesh_mesh.errors import SeshError, UsageError

FINGERPRINT_RE = re.compile(r"^(?:sha256:)?((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})$", re.IGNORECASE)


def format_fingerprint(der: bytes) -> str:
    """`SHA256:AB:CD:…`, the digits `openssl x509 -noout -fingerprint -sha256` prints."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def check_fingerprint(text: str) -> str:
    """The canonical form of a SHA-256 fingerprint given with or without `SHA256:` and colons."""
    match = FINGERPRINT_RE.match(text.strip())
    digits = match.group(1).replace(":", "") if match else ""
    if len(digits) != 64:
        raise UsageError(
            f"bad certificate fingerprint {text!r}",
            "copy the SHA256:… line that `sesh daemon tls-fingerprint` prints on the peer",
        )
    return format_fingerprint_hex(digits)


def format_fingerprint_hex(digits: str) -> str:
    upper = digits.upper()
    return "SHA256:" + ":".join(upper[i:i + 2] for i in range(0, len(upper), 2))


def cert_fingerprint(cert: Path) -> str:
    """The fingerprint of the first certificate in a PEM file."""
    try:
        pem = cert.read_text(encoding="ascii")
        der = ssl.PEM_cert_to_DER_cert(pem[pem.index("-----BEGIN CERTIFICATE-----"):])
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SeshError(
            f"cannot read a PEM certificate from {cert}: {getattr(exc, 'strerror', None) or exc}",
            "point [mesh] tls_cert (or --tls-cert) at a PEM certificate file",
        ) from None
    return format_fingerprint(der)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise SeshError(
            f"cannot load the TLS certificate {cert} with key {key}: {getattr(exc, 'strerror', None) or exc}",
            "set [mesh] tls_cert and tls_key (or --tls-cert/--tls-key) to a PEM certificate and its key",
        ) from None
    return context


def client_context(fingerprint: str | None) -> ssl.SSLContext:
    if fingerprint is None:
        return ssl.create_default_context()
    # Trust comes from the pin checked by `pin_mismatch`, not from a CA or the host name.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def pin_mismatch(peer_cert: bytes | None, pinned: str, peer: str, address: str) -> str | None:
    """None when the certificate presented matches the pin, else the error to show (fatal)."""
    if peer_cert is None:
        return f"{address} presented no TLS certificate; {peer}'s pin {pinned} cannot match"
    seen = format_fingerprint(peer_cert)
    if hmac.compare_digest(seen, pinned):
        return None
    return (
        f"TLS certificate at {address} is {seen}, not the pinned {pinned}: nothing was sent "
        f"(if {peer}'s certificate changed on purpose, run `sesh daemon tls-fingerprint` there and "
        f"`sesh peer add {peer} {address} --token T --fingerprint NEW` here)"
    )


def verify_failed(exc: ssl.SSLCertVerificationError, peer: str, address: str) -> str:
    return (
        f"TLS certificate at {address} is not trusted: {exc.verify_message or exc.reason} "
        f"(pin it: run `sesh daemon tls-fingerprint` on {peer}, then "
        f"`sesh peer add {peer} {address} --token T --fingerprint SHA256:…` here)"
    )
