"""Waiting on asyncio events: the one helper the daemon's loops share."""

from __future__ import annotations

import asyncio


async def first_of(*events: asyncio.Event) -> None:
    """Return once any of `events` is set; the waits on the others are cancelled, none leaks."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
