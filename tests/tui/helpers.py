"""Shared pieces of the TUI tests: fixed records seeded into a real daemon, the app opened on
it (`Tui`, the `tui` fixture), and Pilot waits."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from sesh_mesh.tui.app import Options, SeshApp
from sesh_mesh.tui.cwd_labels import CwdLabels
from tests.harness import Daemon
from tests.polling import Poll, eventually, scaled

NOW = datetime(2025, 11, 21, 12, 0, 0, tzinfo=UTC)
"""The TUI's clock in these tests, so the age column is stable in snapshots."""

SIZE = (120, 40)
"""The terminal the Pilot tests run in: wide enough for every column."""

UNTIL_PAUSE_S = 0.02
"""How long `until` lets the app run between checks: a few frames, so a push shows promptly."""

AUTH = "0b6c1d2e-9f7a-4c1b-8d2e-1f2a3b4c5d61"
DOCS = "1c7d2e3f-0a8b-4d2c-9e3f-2a3b4c5d6e72"
FLAKY = "2d8e3f40-1b9c-4e3d-8f40-3b4c5d6e7f83"
OLD = "3e9f4051-2cad-4f4e-9051-4c5d6e7f8094"

SEED: list[dict[str, Any]] = [
    {"uuid": AUTH, "agent": "claude", "name": "auth-refactor", "cwd": "/srv/app", "tags": ["work"],
     "createdAt": "2025-11-21T09:00:00Z", "updatedAt": "2025-11-21T11:58:00Z"},
    {"uuid": DOCS, "agent": "codex", "name": "docs-site", "cwd": "/srv/docs", "tags": ["docs", "web"],
     "createdAt": "2025-11-20T09:00:00Z", "updatedAt": "2025-11-21T10:00:00Z"},
    {"uuid": FLAKY, "agent": "pi", "name": "flaky-tests", "cwd": "/srv/app/tests", "tags": [],
     "createdAt": "2025-11-18T09:00:00Z", "updatedAt": "2025-11-19T12:00:00Z"},
    {"uuid": OLD, "agent": "claude", "name": "old-spike", "cwd": "/srv/spike", "tags": ["spike"], "archived": True,
     "createdAt": "2025-10-01T09:00:00Z", "updatedAt": "2025-10-02T12:00:00Z"},
]  # fmt: skip
"""Newest first by updatedAt: AUTH, DOCS, FLAKY active; OLD archived."""


def seed(daemon: Daemon, records: list[dict[str, Any]] | None = None) -> None:
    """Store fixed records through `sesh import` (one transaction, timestamps kept)."""
    wanted = records if records is not None else SEED
    if wanted:  # an empty import is a failure by contract (nothing imported); nothing to seed
        path = daemon.home / "legacy.json"
        path.write_text(json.dumps(wanted))
        run = daemon.sesh("import", str(path))
        assert run.code == 0, run.err
    quiet(daemon)


def quiet(daemon: Daemon, settle: float = 0.3, timeout: float = 10.0) -> None:
    """Wait until the daemon stops rewriting records (it re-derives live state after an import,
    which rewrites records; the seed is a year old so a real-time write always sorts first)."""
    last: list[tuple[str, Any]] | None = None

    def unchanged() -> bool:
        nonlocal last
        seqs = sorted((r["uuid"], r.get("originSeq")) for r in daemon.call("list", {"archived": True}))
        same, last = seqs == last, seqs
        return same

    eventually(unchanged, timeout, interval=scaled(settle), what="the daemon to stop rewriting records")


def order(daemon: Daemon) -> list[str]:
    """The daemon's own newest-first order of the active sessions (`list`)."""
    return [r["uuid"] for r in daemon.call("list")]


async def cursor_to(pilot: Pilot[Any], uuid: str) -> None:
    """Move the cursor down with `j` until it is on `uuid`."""
    app = pilot.app
    assert isinstance(app, SeshApp)
    for _ in range(len(app.rowset.visible) + 1):
        if app.table.cursor_uuid == uuid:
            return
        await pilot.press("j")
    raise AssertionError(f"{uuid} is not in the table: {names(app)}")


def make_app(daemon: Daemon | Path, **options: Any) -> SeshApp:
    socket = daemon.socket if isinstance(daemon, Daemon) else daemon
    options.setdefault("now", lambda: NOW)
    options.setdefault("cwd_labels", CwdLabels(home="/nonexistent-home"))
    return SeshApp(Options(socket=socket, **options))


async def until(pilot: Pilot[Any], predicate: Callable[[], object], within: float = 10.0, what: str = "") -> None:
    """Let the app run until `predicate()` holds (for pushes from the daemon, which no worker
    of ours can be awaited for); bounded like `eventually`."""
    poll = Poll(within, UNTIL_PAUSE_S, what or repr(predicate))
    while not (last := predicate()):
        if not poll.failed_try():
            raise poll.failure(last)
        await pilot.pause(UNTIL_PAUSE_S)


class Tui:
    """Opens the TUI on the test's daemon (the `tui` fixture), the way every Pilot test starts."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    @contextlib.asynccontextmanager
    async def open(self, messages: list[Message] | None = None,
                   **options: Any) -> AsyncIterator[tuple[SeshApp, Pilot[Any]]]:
        """The app at SIZE past its first snapshot; `messages` collects what its message hook sees."""
        app = make_app(self.daemon, **options)
        async with app.run_test(size=SIZE, message_hook=None if messages is None else messages.append) as pilot:
            await loaded(pilot)
            yield app, pilot


async def loaded(pilot: Pilot[Any]) -> SeshApp:
    app = pilot.app
    assert isinstance(app, SeshApp)
    await until(pilot, lambda: app.loaded, what="the first snapshot from the daemon")
    await pilot.pause()
    return app


def names(app: SeshApp) -> list[str]:
    return [row.cells["name"] for row in app.rowset.visible]


def notes(messages: list[Message]) -> list[str]:
    """The notifications among the messages a `message_hook` saw, as 'title: message'."""
    return [f"{m.notification.title}: {m.notification.message}" for m in messages if isinstance(m, Notify)]
