"""Waking a push worker from PostgreSQL: LISTEN on a connection of its own, reconnecting when it drops.

Writing notices runs NOTIFY in the same transaction (outbox.announce), delivered at commit, so
every listening worker, in any process, looks for them at once. The connection is not one of
the pool's: a pooled connection goes back to the pool and to other queries, and its LISTEN with
it. While the connection is down the worker still polls; every (re)connect wakes it once, since
notices written meanwhile were announced to no one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from server.push.outbox import CHANNEL
from server.settings import Settings

log = logging.getLogger("fieldguide.push")
APPLICATION_NAME = "fieldguide push listener"  # how the connection shows in pg_stat_activity
FIRST_RETRY = 0.5  # seconds before reconnecting, doubling up to LAST_RETRY
LAST_RETRY = 30.0
CONNECT_TIMEOUT = 10.0
# A connection cut without a word (a NAT or firewall dropping it) sends no end: ask now and then.
HEARTBEAT = 30.0


class WakeListener:
    """Calls wake() on every NOTIFY on the push channel; keeps its connection up, with backoff."""

    def __init__(self, settings: Settings, wake: Callable[[], None], heartbeat: float = HEARTBEAT):
        self.dsn = settings.postgres_dsn
        self.wake = wake
        self.heartbeat = heartbeat
        self.listening = False
        self.connects = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Listen in the background of the current event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="push-listener")

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        delay = FIRST_RETRY
        while True:
            try:
                connection = await asyncpg.connect(
                    self.dsn, timeout=CONNECT_TIMEOUT, server_settings={"application_name": APPLICATION_NAME}
                )
            except Exception as exc:  # whatever it is, the worker keeps polling and this tries again
                log.warning("push listener: cannot connect (%s); polling meanwhile, retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(LAST_RETRY, delay * 2)
                continue
            connects = self.connects
            try:
                await self._listen(connection)
            except Exception as exc:
                if self.connects > connects:  # it was up: a new loss retries quickly again
                    delay = FIRST_RETRY
                log.warning("push listener: connection lost (%s); polling meanwhile, reconnecting in %.1f s",
                            exc, delay)
            finally:
                self.listening = False
                await _close(connection)
            await asyncio.sleep(delay)
            delay = min(LAST_RETRY, delay * 2)

    async def _listen(self, connection: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(CHANNEL, lambda *_: self.wake())
        self.listening = True
        self.connects += 1
        self.wake()
        while True:
            try:
                await asyncio.wait_for(lost.wait(), self.heartbeat)
            except TimeoutError:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), CONNECT_TIMEOUT)
                continue
            raise ConnectionError("the server closed the connection")


async def _close(connection: asyncpg.Connection) -> None:
    """Say goodbye to the server if it still answers (no "connection reset" in its log), else just drop it."""
    try:
        await asyncio.wait_for(connection.close(), 2.0)
    except Exception:
        connection.terminate()
