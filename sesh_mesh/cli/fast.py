"""`sesh info <uuid> --json` and `sesh list --json` into a pipe, without the CLI.

A script polling sesh pays for every import and for argparse's whole command tree, which is
most of a read's cost. These two verbs, in their plain form (no other flag, stdout not a
terminal), are answered here with os, sys and _socket only: the request is written by hand and
the daemon's reply is passed through without parsing. The daemon frames a result as
`{"ok":true,"result":…}` in compact JSON, which is exactly what `render.print_json` prints
into a pipe, so the result's bytes are the output. Anything else, or anything unusual (a
terminal, another flag, a malformed uuid, no daemon yet), returns None and the full CLI runs,
which says what is wrong, or starts the daemon.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

_OK = b'{"ok":true,"result":'
_HEX = frozenset("0123456789abcdef-")
_LIST_ARGS = '{"machine":null,"agent":null,"tag":null,"archived":false,"archived_only":false}'


def request(argv: Sequence[str]) -> str | None:
    """The request line for argv when it is one this path answers, else None."""
    words = [a for a in argv if a != "--json"]
    if len(words) == len(argv) or argv.count("--json") != 1:
        return None
    if words == ["list"]:
        return '{"op":"list","args":' + _LIST_ARGS + ',"ctx":{}}\n'
    if len(words) == 2 and words[0] == "info":
        prefix = words[1].strip().lower()
        if prefix and len(prefix) <= 36 and set(prefix) <= _HEX:
            return '{"op":"info","args":{"uuid":"' + prefix + '"},"ctx":{}}\n'
    return None


def run(argv: Sequence[str]) -> int | None:
    """The exit code, or None when the full CLI must handle argv."""
    line = request(argv)
    if line is None or os.isatty(1):
        return None
    op = "list" if "list" in argv else "info"
    home = os.environ.get("SESH_HOME") or os.path.join(os.path.expanduser("~"), ".sesh")
    import _socket

    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            conn.settimeout(5.0)
            conn.connect(os.path.join(os.path.expanduser(home), "daemon.sock"))
        except OSError:
            return None  # not running: the full CLI starts it
        conn.settimeout(None)
        conn.sendall(line.encode())
        chunks = []
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                break
    except OSError:
        return _in_doubt(op)
    finally:
        conn.close()
    reply = b"".join(chunks)
    if not reply.endswith(b"}\n"):
        return _in_doubt(op)
    if not reply.startswith(_OK):
        return _failure(op, reply)
    try:
        out = sys.stdout.buffer
        out.write(reply[len(_OK):-2])
        out.write(b"\n")
        out.flush()
    except BrokenPipeError:
        # `sesh list --json | head -c 100`: the reader has what it wanted, a quiet success.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        except OSError:
            pass
    return 0


def _failure(op: str, reply: bytes) -> int:
    """The daemon's error, as the full CLI reports it: one `sesh:` line and its exit code."""
    import json

    from sesh_mesh.errors import from_wire

    try:
        message = json.loads(reply)
        error = message.get("error")
    except (ValueError, AttributeError):
        return _in_doubt(op)
    if message.get("ok") is True and isinstance(message.get("notice"), str):
        # A result with a notice (config.toml broken or changed): say it, then print the result.
        sys.stderr.write(f"sesh: warning: {message['notice']}\n")
        sys.stdout.write(json.dumps(message.get("result"), ensure_ascii=False, separators=(",", ":")) + "\n")
        return 0
    if not isinstance(error, dict):
        return _in_doubt(op)
    exc = from_wire(error)
    sys.stderr.write(exc.line() + "\n")
    return int(exc.exit_code)


def _in_doubt(op: str) -> int:
    from sesh_mesh.client import InDoubt

    exc = InDoubt(op, "the daemon's reply was cut off or garbled")
    sys.stderr.write(exc.line() + "\n")
    return int(exc.exit_code)
