"""What the push and email outboxes share: their statements in either SQL dialect, claiming due
rows, finding when the next one is due, and how their workers wait for work."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.transactions import in_transaction

from server import clock

# Statements are written with ? placeholders; Statements(dialect) gives them by name, ready to run.
Statements = Callable[[str], dict[str, str]]


def numbered(sql: str) -> str:
    """SQLite's `?` placeholders as PostgreSQL's `$1, $2, …` (no statement here has a `?` in a literal)."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))


async def next_due(statements: Statements) -> datetime | None:
    """When the earliest row still to send is due (a retry, or a lease running out); None if none."""
    client = connections.get("default")
    rows = await client.execute_query_dict(statements(client.capabilities.dialect)["next_due"], [])
    return clock.stored_time(rows[0]["next_attempt_at"]) if rows else None


async def claim(statements: Statements, limit: int, lease_seconds: int) -> list[dict]:
    """Take up to `limit` due rows with the outbox's `claim` statement; each stays taken for the lease."""
    if limit <= 0:
        return []
    moment = clock.now()
    values = [moment + timedelta(seconds=lease_seconds), moment, limit]
    client = connections.get("default")
    if client.capabilities.dialect != "postgres":
        return await client.execute_query_dict(statements(client.capabilities.dialect)["claim"], values)
    async with in_transaction() as conn:
        # No wait for the disk at this commit: a claim lost in a database crash only puts its
        # rows back as due (sent again, as any row in flight at a crash), and the next
        # settle's commit, which does wait, makes the claim durable with it.
        await conn.execute_script("SET LOCAL synchronous_commit = off")
        return await conn.execute_query_dict(statements("postgres")["claim"], values)


def idle_timeout(poll: float, due: datetime | None, nap: float) -> float:
    """How long an idle worker sleeps: until the next row is due, at most `poll`, never under `nap`
    (a row due but taken by another worker this instant is not a spin)."""
    if due is None:
        return poll
    return min(poll, max(nap, (due - clock.now()).total_seconds()))


async def pause(wake: asyncio.Event, timeout: float) -> None:
    """Wait until `wake` is set or `timeout` passes, then clear it."""
    try:
        await asyncio.wait_for(wake.wait(), timeout)
    except TimeoutError:
        pass
    wake.clear()
