"""Where a message comes from: the argument as given, `-` for stdin, or `--file PATH`; and what
`send --json` says about delivery when the send failed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sesh_mesh.cli.checks import check_message
from sesh_mesh.cli.parser import Parser
from sesh_mesh.client import InDoubt
from sesh_mesh.errors import SeshError, TurnFailed, Unconfirmed, UsageError

STDIN = "-"


class IntermixedParser(Parser):
    """A command whose last positional (the message) is optional (`--file` may stand for it):
    plain argparse binds an optional positional to nothing as soon as the uuid is read, so
    `send UUID --interrupt TEXT` would leave TEXT unrecognised. Options and positionals may mix."""

    _mixing = False

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        if self._mixing:
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def intermixed(parser: Any) -> None:
    """Make a subcommand's parser an IntermixedParser (argparse makes every subparser one class)."""
    parser.__class__ = IntermixedParser


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
