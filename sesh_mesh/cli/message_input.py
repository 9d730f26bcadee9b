"""Where a message comes from: the argument as given, `-` for stdin, or `--file PATH`; and what
`send --json` says about delivery when the send failed."""

from __future__ import annotations

import sys
from pathlib import Path

from sesh_mesh.cli.checks import check_message
from sesh_mesh.client import InDoubt
from sesh_mesh.errors import SeshError, TurnFailed, Unconfirmed, UsageError

STDIN = "-"


def read_message(text: str | None, file: str | None, flag: str = "the message") -> str:
    """The message text, verbatim: `text`, stdin when `text` is `-`, or the contents of `file`."""
    if text is not None and file is not None:
        raise UsageError(f"{flag} was given twice (as text and as --file)", "give one of them")
    if file is not None:
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --file {file}: {exc.strerror or exc}", "pass a readable file") from None
        return check_message(_decode(data, f"--file {file}"))
    if text is None:
        raise UsageError(f"{flag} is missing", "give it as an argument, `-` to read stdin, or --file PATH")
    if text == STDIN:
        return check_message(_decode(sys.stdin.buffer.read(), "stdin"))
    return check_message(text)


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the message on {where} is not UTF-8 text", "convert it to UTF-8") from None


def delivery_of(error: SeshError) -> str:
    """How far a failed send got: the daemon says when it knows; else the kind of error tells."""
    if error.delivery is not None:
        return error.delivery
    if isinstance(error, TurnFailed):
        return "delivered"
    if isinstance(error, Unconfirmed):
        return "delivered-unconfirmed"
    if isinstance(error, InDoubt):
        return "unknown"
    return "not-delivered"
