"""The HTTP API's bearer token: `[http] token`, else one generated into `$SESH_HOME/http.token`."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

TOKEN_FILE = "http.token"
TOKEN_BYTES = 32
"""256 bits, as urlsafe base64: far past guessing, and short enough to paste into a header."""


def token_path(home: Path) -> Path:
    return home / TOKEN_FILE


def http_token(home: Path, configured: str | None) -> str:
    """The configured token, else the one in http.token, written (0600) on first use."""
    if configured:
        return configured
    path = token_path(home)
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    token = secrets.token_urlsafe(TOKEN_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
    return token


def authorized(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
