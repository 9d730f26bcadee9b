"""first_of: returns on the first event set and leaves no waiting task behind."""

from __future__ import annotations

import asyncio

from sesh_mesh.daemon.waiting import first_of


async def test_first_of_returns_on_any_event_and_cancels_the_other_waits() -> None:
    a, b = asyncio.Event(), asyncio.Event()
    before = len(asyncio.all_tasks())
    waiting = asyncio.ensure_future(first_of(a, b))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    b.set()
    await asyncio.wait_for(waiting, 1)
    await asyncio.sleep(0)  # the cancelled waits finish
    assert len(asyncio.all_tasks()) == before


async def test_first_of_cancelled_leaves_no_waits() -> None:
    a = asyncio.Event()
    before = len(asyncio.all_tasks())
    waiting = asyncio.ensure_future(first_of(a))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == before
