"""The terminal driver: Textual's Linux driver, with frames written to the terminal whole.

Textual's writer thread hands each frame to `sys.__stderr__`, a write-through text stream over
an unbuffered file, which passes the frame to one write(2) and ignores how much of it was
taken. A terminal write that blocks (the terminal reads slower than the frame arrives: a big
redraw, a slow ssh link) and is then interrupted (a signal, a debugger or profiler attaching)
returns short, and the rest of that frame is dropped: the screen keeps showing the previous
filter's rows until something repaints them. `WholeWrites` writes until every byte is out, and
waits for a terminal left non-blocking instead of failing (which would end the writer thread).
"""

from __future__ import annotations

import os
import select
from typing import Any, TextIO

from textual.drivers.linux_driver import LinuxDriver

__all__ = ["TerminalDriver", "WholeWrites"]


class WholeWrites:
    """The write side of a text stream: `write` returns only when all of its bytes are out."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._fd = stream.fileno()
        self._encoding = stream.encoding or "utf-8"
        self._errors = stream.errors or "strict"

    def write(self, text: str) -> int:
        self._stream.flush()  # anything written to the stream itself goes out first, in order
        pending = memoryview(text.encode(self._encoding, self._errors))
        while pending:
            try:
                pending = pending[os.write(self._fd, pending):]  # os.write retries EINTR (PEP 475)
            except BlockingIOError:  # a terminal someone set non-blocking: wait until it drains
                select.select([], [self._fd], [])
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered here."""

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return self._stream.isatty()


class TerminalDriver(LinuxDriver):
    """LinuxDriver whose output stream is wrapped in `WholeWrites` before its writer thread starts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stream = getattr(self, "_file", None)
        if stream is None or not hasattr(stream, "fileno"):
            # Textual moved its output stream: fail loudly rather than draw with torn frames.
            raise RuntimeError("not implemented: this Textual version's LinuxDriver has no _file stream to wrap")
        # Duck-typed: the writer thread and the driver only write, flush and ask fileno/isatty.
        self._file = WholeWrites(stream)  # type: ignore[assignment]
