"""Waiting on the push outbox, and test settings that make the push worker quick."""

from __future__ import annotations

import asyncio
import inspect
import time

from server.models import PushOutbox

# Settings for tests of push sending (the fast_push marker applies them to the `settings`
# fixture): the stand-in's loopback host accepted, fast polling and retries.
FAST_PUSH = {
    "push_extra_hosts": "127.0.0.1",
    "push_poll_ms": 20,
    "push_retry_base_ms": 40,
    "push_lease_seconds": 10,
    "push_max_attempts": 4,
}


async def eventually(check, timeout: float = 15.0):
    """Wait until check() (sync or async) is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def settled() -> bool:
    """Whether every notice in the outbox has been sent or given up on."""
    return not await PushOutbox.filter(status__in=("pending", "sending")).exists()
