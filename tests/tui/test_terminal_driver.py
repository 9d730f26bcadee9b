"""Frames reach the terminal whole even when a write to it is interrupted (terminal_driver).

A pseudo-terminal nobody reads fills up, so a big write blocks in the kernel; a signal sent to
the writing thread then makes that write return short. Textual's own stream drops the rest;
`WholeWrites` must deliver every byte. The same scenario with the plain stream is the control
that proves the write really was cut short.
"""

from __future__ import annotations

import io
import os
import select
import signal
import sys
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import pytest

from sesh_mesh.tui.terminal_driver import TerminalDriver, WholeWrites
from tests.tui.helpers import make_app

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="POSIX pseudo-terminals and pthread_kill")

FRAME = ("\x1b[1;1H" + "".join(f"row {n:05d} session-{n} claude ~/src/project " for n in range(6000))).encode()
"""A frame far bigger than a pseudo-terminal's buffer, so writing it must block."""

BLOCKED_WITHIN_S = 5.0
DRAIN_WITHIN_S = 10.0


def _interrupted(make_stream: Callable[[io.TextIOWrapper], object]) -> bytes:
    """Write FRAME through `make_stream(slave stream)` on a thread, interrupt the blocked
    write with a signal once, then read what reaches the terminal's other side."""
    master, slave = os.openpty()
    tty.setraw(slave)  # bytes pass unchanged (no newline translation, no echo)
    os.set_blocking(master, False)
    stream = io.TextIOWrapper(io.FileIO(slave, "w", closefd=False), encoding="utf-8", write_through=True)
    target = make_stream(stream)
    done = threading.Event()

    def write() -> None:
        try:
            target.write(FRAME.decode())  # type: ignore[attr-defined]
        finally:
            done.set()

    previous = signal.signal(signal.SIGUSR1, _ignore)
    writer = threading.Thread(target=write, daemon=True)
    try:
        writer.start()
        _wait_blocked(writer)
        assert writer.ident is not None
        signal.pthread_kill(writer.ident, signal.SIGUSR1)
        return _drain(master, done)
    finally:
        signal.signal(signal.SIGUSR1, previous)
        os.close(master)  # unblocks a writer still waiting (EIO), whatever the outcome
        writer.join(timeout=DRAIN_WITHIN_S)
        stream.close()
        os.close(slave)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A handler (not SIG_IGN): only a handled signal interrupts a blocked write."""


def _wait_blocked(thread: threading.Thread) -> None:
    """Until the thread sleeps in the kernel (its write waits for the terminal to read)."""
    stat = Path(f"/proc/self/task/{thread.native_id}/stat")
    deadline = time.monotonic() + BLOCKED_WITHIN_S
    while time.monotonic() < deadline:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        if fields[0] == "S" and Path(f"/proc/self/task/{thread.native_id}/wchan").read_text() != "0":
            time.sleep(0.05)  # and is surely inside write(2), not about to enter it
            return
        time.sleep(0.01)
    raise AssertionError(f"the writer did not block within {BLOCKED_WITHIN_S}s")


def _drain(master: int, done: threading.Event) -> bytes:
    """Everything the writer gets out, reading until it has finished and the terminal is empty."""
    got = bytearray()
    deadline = time.monotonic() + DRAIN_WITHIN_S
    while time.monotonic() < deadline:
        readable, _, _ = select.select([master], [], [], 0.05)
        if readable:
            got += os.read(master, 65536)
        elif done.is_set():
            break
    return bytes(got)


def test_plain_stream_drops_the_rest_of_an_interrupted_frame() -> None:
    """The control: the scenario really cuts a write short (else the next test proves nothing)."""
    got = _interrupted(lambda stream: stream)
    assert 0 < len(got) < len(FRAME)
    assert FRAME.startswith(got)


def test_whole_writes_deliver_every_byte_of_an_interrupted_frame() -> None:
    got = _interrupted(WholeWrites)
    assert got == FRAME


async def test_the_tui_draws_through_whole_writes() -> None:
    app = make_app(Path("/nonexistent/sesh.sock"))
    assert app.get_driver_class() is TerminalDriver
    driver = TerminalDriver(app, debug=False, mouse=False, size=(80, 24))
    assert isinstance(driver._file, WholeWrites)


def test_whole_writes_wait_for_a_non_blocking_terminal() -> None:
    """A terminal left non-blocking (O_NONBLOCK is shared by every process on it) refuses a
    full write with EAGAIN; the frame must still arrive whole once the reader catches up."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    os.set_blocking(slave, False)
    stream = io.TextIOWrapper(io.FileIO(slave, "w", closefd=False), encoding="utf-8", write_through=True)
    done = threading.Event()

    def write() -> None:
        try:
            WholeWrites(stream).write(FRAME.decode())
        finally:
            done.set()

    writer = threading.Thread(target=write, daemon=True)
    try:
        writer.start()
        assert _drain(master, done) == FRAME
    finally:
        os.close(master)
        writer.join(timeout=DRAIN_WITHIN_S)
        stream.close()
        os.close(slave)
