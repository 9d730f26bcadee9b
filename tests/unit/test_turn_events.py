"""The turn-event hub: waits wake on events and changes of their session, time out, and end on stop."""

from __future__ import annotations

import asyncio

import pytest

from sesh_mesh.daemon.turn_events import TurnEvents, WaitStopped

A = "a-session"
B = "b-session"


async def test_a_true_predicate_returns_at_once_even_when_stopping() -> None:
    stop = asyncio.Event()
    stop.set()
    assert await TurnEvents().wait_until(lambda: True, 0.01, stop) is True


async def test_a_wait_wakes_on_its_sessions_turn_start() -> None:
    hub = TurnEvents()
    stop = asyncio.Event()
    waiter = asyncio.ensure_future(hub.wait_until(lambda: hub.turn(A) > 0, 5, stop, A))
    await asyncio.sleep(0)
    assert hub.waiting() == 1
    event = hub.publish(A, "started")
    assert (event.uuid, event.kind, event.turn) == (A, "started", 1)
    assert await asyncio.wait_for(waiter, 1) is True
    assert hub.waiting() == 0


async def test_an_end_carries_the_number_of_its_turn() -> None:
    hub = TurnEvents()
    hub.publish(A, "started")
    hub.publish(A, "started")
    ended = hub.publish(A, "ended")
    assert (ended.turn, hub.turn(A), hub.turn(B)) == (2, 2, 0)
    assert hub.last(A) == ended


async def test_another_sessions_change_does_not_wake_it_but_its_own_does() -> None:
    hub = TurnEvents()
    stop = asyncio.Event()
    checks: list[int] = []
    flag = {"done": False}

    def predicate() -> bool:
        checks.append(1)
        return flag["done"]

    waiter = asyncio.ensure_future(hub.wait_until(predicate, 5, stop, A))
    await asyncio.sleep(0)
    hub.changed(B)
    hub.publish(B, "started")
    await asyncio.sleep(0)
    assert len(checks) == 1
    flag["done"] = True
    hub.changed(A)
    assert await asyncio.wait_for(waiter, 1) is True
    assert len(checks) == 2


async def test_a_wait_on_any_session_wakes_on_each() -> None:
    hub = TurnEvents()
    stop = asyncio.Event()
    waiter = asyncio.ensure_future(hub.wait_until(lambda: hub.turn(B) > 0, 5, stop))
    await asyncio.sleep(0)
    hub.publish(B, "started")
    assert await asyncio.wait_for(waiter, 1) is True


async def test_a_wait_times_out_without_news() -> None:
    hub = TurnEvents()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await hub.wait_until(lambda: False, 0.05, asyncio.Event(), A) is False
    assert loop.time() - started >= 0.05
    assert hub.waiting() == 0


async def test_stop_ends_a_wait() -> None:
    hub = TurnEvents()
    stop = asyncio.Event()
    waiter = asyncio.ensure_future(hub.wait_until(lambda: False, None, stop, A))
    await asyncio.sleep(0)
    stop.set()
    with pytest.raises(WaitStopped):
        await asyncio.wait_for(waiter, 1)
    assert hub.waiting() == 0
