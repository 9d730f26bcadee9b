"""Small helpers over the tmux CLI for tests that drive real agents in real panes.

Every command names its server explicitly (``-L <unique socket name>``), so a test can never
reach the developer's default tmux server. Waits go through ``tests.polling`` (bounded, scaled
by ``SESH_TEST_TIME_FACTOR``).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from tests.polling import eventually, scaled

SUBMIT_PAUSE_S = 0.3
"""Gap between typed text and Enter: codex turns an Enter within ~120 ms of text into a newline."""
TMUX_TIMEOUT_S = 10.0
"""Bound on one tmux client command; a healthy server answers in milliseconds."""


class TmuxError(RuntimeError):
    """A tmux command failed; the message carries its argv and stderr."""


class PrivateTmux:
    """A tmux server on a unique socket, torn down by ``kill_server()`` (also on ``__exit__``)."""

    def __init__(self, conf: Path | None = None, socket_name: str | None = None) -> None:
        self.socket_name = socket_name or f"sesh-test-{uuid.uuid4().hex[:12]}"
        self.conf = conf
        self.socket_path: Path | None = None
        self._env: dict[str, str] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill_server()

    def argv(self, *args: str) -> list[str]:
        base = ["tmux", "-L", self.socket_name]
        if self.conf is not None:
            base += ["-f", str(self.conf)]
        return [*base, *args]

    def run(self, *args: str, input_text: str | None = None, check: bool = True) -> str:
        """Run one tmux command against this server and return its stdout."""
        argv = self.argv(*args)
        proc = subprocess.run(
            argv, check=False, input=input_text, capture_output=True, text=True, timeout=TMUX_TIMEOUT_S, env=self._env
        )
        if check and proc.returncode != 0:
            raise TmuxError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def new_session(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        name: str = "test",
        width: int = 200,
        height: int = 50,
    ) -> str:
        """Start a detached session running ``command`` (argv, no shell); return its pane id.

        The first session also starts the server, whose global environment is then ``env``
        rather than the test process's, so inherited variables (TMUX, agent homes) stay out.
        """
        if self._env is None:
            self._env = dict(env)
        flags = [f"-e{key}={value}" for key, value in env.items()]
        pane = self.run(
            "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", name, "-x", str(width), "-y", str(height),
            "-c", str(cwd), *flags, "--", *command,
        ).strip()  # fmt: skip
        if self.socket_path is None:
            self.socket_path = Path(self.display(pane, "#{socket_path}"))
        return pane

    def display(self, pane: str, fmt: str) -> str:
        return self.run("display-message", "-p", "-t", pane, fmt).rstrip("\n")

    def pane_pid(self, pane: str) -> int:
        return int(self.display(pane, "#{pane_pid}"))

    def capture(self, pane: str, history: bool = False) -> str:
        """The visible pane text (plus scrollback if ``history``), wrapped lines joined."""
        args = ["capture-pane", "-p", "-J", "-t", pane]
        if history:
            args += ["-S", "-"]
        return self.run(*args)

    def leave_mode(self, pane: str) -> None:
        """Quit copy/view mode: with no client attached, claude's and codex's own tmux queries
        often leave the pane in view-mode, which swallows keys."""
        if self.display(pane, "#{pane_in_mode}") == "1":
            self.run("send-keys", "-t", pane, "-X", "cancel", check=False)

    def send_keys(self, pane: str, *keys: str) -> None:
        """Send tmux key names (``Enter``, ``Escape``, ``C-c``) after leaving any mode."""
        self.leave_mode(pane)
        self.run("send-keys", "-t", pane, *keys)

    def send_text(self, pane: str, text: str, submit: bool = True) -> None:
        """Type ``text`` literally and, if ``submit``, press Enter after a short pause.

        Multi-line text goes in as one bracketed paste so the newlines stay in the message
        instead of submitting it line by line.
        """
        self.leave_mode(pane)
        if "\n" in text:
            buffer = f"sesh-{uuid.uuid4().hex[:8]}"
            self.run("load-buffer", "-b", buffer, "-", input_text=text)
            self.run("paste-buffer", "-p", "-d", "-b", buffer, "-t", pane)
        else:
            self.run("send-keys", "-t", pane, "-l", text)
        if submit:
            time.sleep(scaled(SUBMIT_PAUSE_S))
            self.send_keys(pane, "Enter")

    def wait_for_text(self, pane: str, needle: str, timeout: float = 30.0) -> str:
        """Wait until ``needle`` shows in the pane; return the capture that had it."""
        last = ""

        def seen() -> str | None:
            nonlocal last
            last = self.capture(pane)
            return last if needle in last else None

        try:
            return eventually(seen, timeout, 0.2, what=f"{needle!r} in pane {pane}")
        except AssertionError:
            raise TimeoutError(f"{needle!r} not in pane {pane} within {scaled(timeout):.1f}s; pane:\n{last}") from None

    def kill_server(self) -> None:
        """Kill the server and unlink its socket; never raises (runs in finalizers)."""
        try:
            subprocess.run(
                self.argv("kill-server"), check=False, capture_output=True, timeout=TMUX_TIMEOUT_S, env=self._env
            )
        except (OSError, subprocess.SubprocessError):
            pass  # server already gone or tmux missing: nothing left to kill
        # tmux does not reliably unlink its socket on a non-graceful exit.
        socket_path = self.socket_path or _default_socket_path(self.socket_name, self._env)
        try:
            socket_path.unlink(missing_ok=True)
        except OSError:
            pass


def _default_socket_path(socket_name: str, env: Mapping[str, str] | None) -> Path:
    tmpdir = (env or os.environ).get("TMUX_TMPDIR") or "/tmp"
    return Path(tmpdir) / f"tmux-{os.getuid()}" / socket_name
