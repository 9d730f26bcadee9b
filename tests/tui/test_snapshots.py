"""SVG snapshots of the layout only (glyphs, columns, footer, staleness marker, empty state);
behaviour is tested against daemon state elsewhere. Update with `--snapshot-update`.

The age column is frozen: the clock is set five minutes after the newest record, because the
daemon re-derives state after an import and stamps records with the real time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from textual.pilot import Pilot

from sesh_mesh.tui.app import SeshApp
from sesh_mesh.tui.link import DaemonLink
from sesh_mesh.tui.rows import parse_time
from tests.harness import Daemon
from tests.tui.helpers import NOW, loaded, make_app, seed

SIZE = (120, 16)
Snap = Callable[..., bool]


async def freeze_clock(pilot: Pilot[Any]) -> None:
    app = await loaded(pilot)
    times = [parse_time(r.record.get("updatedAt")) for r in app.rowset.rows.values()]
    latest = max((t for t in times if t is not None), default=NOW)
    app.table.now = lambda: latest + timedelta(minutes=5)
    app.table.refresh()
    await pilot.pause()


def test_list_layout(daemon: Daemon, snap_compare: Snap) -> None:
    seed(daemon)
    assert snap_compare(make_app(daemon), terminal_size=SIZE, run_before=freeze_clock)


def test_filter_highlight_and_footer(daemon: Daemon, snap_compare: Snap) -> None:
    seed(daemon)

    async def filtered(pilot: Pilot[Any]) -> None:
        await freeze_clock(pilot)
        await pilot.press("slash", *"srvap", "escape")

    assert snap_compare(make_app(daemon), terminal_size=SIZE, run_before=filtered)


def test_id_column_and_all_view(daemon: Daemon, snap_compare: Snap) -> None:
    seed(daemon)

    async def with_ids(pilot: Pilot[Any]) -> None:
        await freeze_clock(pilot)
        await pilot.press("i", "tab", "tab")

    assert snap_compare(make_app(daemon), terminal_size=SIZE, run_before=with_ids)


def test_glyphs_and_staleness_marker(daemon: Daemon, snap_compare: Snap) -> None:
    """Live, busy, needs-input and stale rows need real agents and a lost peer; these records
    are hand-built and delivered through the subscription's own message, to show their layout."""
    seed(daemon, [])

    def state(uuid: str, name: str, minutes: int, **extra: Any) -> dict[str, Any]:
        stamp = (NOW - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
        return {"uuid": uuid, "name": name, "agent": "claude", "machine": "alpha", "cwd": "/srv/app",
                "tags": [], "updatedAt": stamp, "archived": False, **extra}  # fmt: skip

    records = [
        state("a0000000-0000-4000-8000-000000000001", "busy-one", 1, turnStatus="busy", live=True),
        state("a0000000-0000-4000-8000-000000000002", "idle-live", 2, turnStatus="idle", live=True),
        state("a0000000-0000-4000-8000-000000000003", "asks-trust", 3, turnStatus="idle", live=True,
              needsInput=True),
        state("a0000000-0000-4000-8000-000000000004", "detached", 90, turnStatus="unknown", live=False),
        state("a0000000-0000-4000-8000-000000000005", "on-laptop", 600, machine="laptop", stale=True,
              turnStatus="idle", live=True, tags=["far"]),
    ]  # fmt: skip

    async def inject(pilot: Pilot[Any]) -> None:
        app = await loaded(pilot)
        app.post_message(DaemonLink.Changed(records))
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(make_app(daemon), terminal_size=SIZE, run_before=inject)


def test_empty_state(daemon: Daemon, snap_compare: Snap) -> None:
    assert snap_compare(make_app(daemon), terminal_size=SIZE, run_before=loaded)


def test_80_columns_with_preview_and_a_flag(daemon: Daemon, snap_compare: Snap) -> None:
    """At 80 columns: the cwd keeps its project name, the key help wraps, the preview sits
    below the list, a flagged row leads with its mark and the status line counts it."""
    seed(daemon, [
        {"uuid": "b0000000-0000-4000-8000-000000000001", "agent": "claude", "name": "api",
         "cwd": "/home/someone/src/work/clients/big-client/services/payments-api", "tags": ["work"],
         "createdAt": "2025-11-21T09:00:00Z", "updatedAt": "2025-11-21T11:58:00Z"},
        {"uuid": "b0000000-0000-4000-8000-000000000002", "agent": "pi", "name": "web",
         "cwd": "/home/someone/src/work/clients/big-client/frontends/storefront-web", "tags": [],
         "createdAt": "2025-11-21T09:00:00Z", "updatedAt": "2025-11-21T10:58:00Z"},
    ])  # fmt: skip

    async def cockpit(pilot: Pilot[Any]) -> None:
        await freeze_clock(pilot)
        app = pilot.app
        assert isinstance(app, SeshApp)
        await pilot.press("j", "f", "j", "p")  # flag web (it moves up), preview api
        for _ in range(200):
            if app.preview.problem:
                break
            await pilot.pause(0.02)
        assert app.preview.problem, "the preview's line about the missing transcript"
        await pilot.pause()

    assert snap_compare(make_app(daemon), terminal_size=(80, 24), run_before=cockpit)
