"""Running the picker from the CLI: on the terminal even when stdout is captured.

`sel=$(sesh pick)` hands the process a pipe as stdout; Textual draws on stderr, reads stdin
and sizes itself from stdout, so for the life of the UI fds 0, 1 and 2 that are not terminals
are pointed at /dev/tty, then restored. Only the selection, written after, reaches the pipe.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sesh_mesh.errors import UsageError
from sesh_mesh.store.record import Record
from sesh_mesh.tui.app import Options, SeshApp
from sesh_mesh.tui.columns import COLUMNS, DEFAULT_COLUMNS, parse_columns
from sesh_mesh.tui.cwd_labels import CwdLabels

__all__ = ["COLUMNS", "parse_columns", "run_picker"]

ATTENTION_FILE = "tui-attention.json"
"""Beside the daemon's socket, in SESH_HOME: the needs-you flags between runs."""


@contextlib.contextmanager
def on_terminal() -> Iterator[None]:
    """Point whichever of stdin, stdout and stderr is not a terminal at /dev/tty meanwhile."""
    swapped = [fd for fd in (0, 1, 2) if not _isatty(fd)]
    if not swapped:
        yield
        return
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        raise UsageError(
            "no terminal to draw the picker on", "run it in a terminal, or pick without a UI: --select <uuid>"
        ) from exc
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    saved = {fd: os.dup(fd) for fd in swapped}
    try:
        for fd in swapped:
            os.dup2(tty, fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(tty)


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def run_picker(
    socket: Path, *, enter_acts: bool, cursor: str | None, cwd_rules: Iterable[tuple[str, str]], title: str,
    machine: str | None = None, columns: tuple[str, ...] | None = None, preview: bool = False,
    enter_mark: Callable[[Record], str] | None = None,
) -> Record | None:
    """Show the UI until the user picks (the record) or cancels (None)."""
    options = Options(
        socket=socket, enter_acts=enter_acts, cursor=cursor, cwd_labels=CwdLabels.from_env(cwd_rules), title=title,
        machine=machine, columns=columns or DEFAULT_COLUMNS, preview=preview, enter_mark=enter_mark,
        attention_path=socket.parent / ATTENTION_FILE,
    )
    # An exported COLUMNS/LINES would pin Textual's size (shutil.get_terminal_size reads them
    # first) and ignore resizes; the terminal itself is the authority.
    pinned = {key: os.environ.pop(key) for key in ("COLUMNS", "LINES") if key in os.environ}
    try:
        with on_terminal():
            app = SeshApp(options)
            return app.run()
    finally:
        os.environ.update(pinned)
