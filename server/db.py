"""Database set-up: the Tortoise config, start/stop, and the migration guard."""

from __future__ import annotations

from contextlib import asynccontextmanager

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.executor import MigrationExecutor
from tortoise.transactions import in_transaction

from server import ledger_signing as signing
from server.settings import Settings

APP_LABEL = "models"
# pg_advisory_lock key taken while a process migrates or loads the base content ("fgprep").
PREPARE_LOCK = 0x6667_7072_6570


# What connecting to an unreachable or missing database raises, by driver (the network, PostgreSQL, Tortoise).
UNREACHABLE = (OSError, asyncpg.PostgresError, DBConnectionError)


class MigrationsBehind(RuntimeError):
    """The database is missing migrations that this version of the app needs."""


def tortoise_config(settings: Settings) -> dict:
    """The Tortoise ORM config for these settings."""
    return {
        "connections": {"default": settings.db_url},
        "apps": {
            APP_LABEL: {
                "models": ["server.models"],
                "default_connection": "default",
                "migrations": "server.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_data_dir(settings: Settings) -> None:
    if settings.is_sqlite and not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)


async def open_db(settings: Settings) -> None:
    """Connect Tortoise to the configured database (global, so any task can query)."""
    _ensure_data_dir(settings)
    # Tortoise caches each table's INSERT and DELETE SQL by connection name, in the placeholder
    # style of the first backend used: a process that reconnects (tests, SQLite then
    # PostgreSQL) must not reuse SQLite's "?" on PostgreSQL.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    # Ledger rows appended from now on are signed with this site's key.
    signing.use_settings(settings)


async def close_db() -> None:
    """Close every database connection and forget the global context."""
    await Tortoise.close_connections()


async def within(work, connection=None):
    """Run work(conn) on the caller's connection (its transaction), or in a new transaction."""
    if connection is not None:
        return await work(connection)
    async with in_transaction() as conn:
        return await work(conn)


def _executor(settings: Settings) -> MigrationExecutor:
    config = tortoise_config(settings)
    return MigrationExecutor(connections.get("default"), config["apps"])


async def pending_migrations(settings: Settings) -> list[str]:
    """Names of migrations not yet applied to the open database."""
    steps = await _executor(settings).plan()
    return [step.migration.name for step in steps if not step.backward]


async def applied_count(settings: Settings) -> int:
    """How many migrations the open database has applied."""
    executor = _executor(settings)
    return len(await executor.recorder.applied_migrations())


async def migrate(settings: Settings) -> list[str]:
    """Apply every pending migration; return the names applied."""
    pending = await pending_migrations(settings)
    if pending:
        await _executor(settings).migrate()
    return pending


async def ensure_current(settings: Settings) -> None:
    """Raise MigrationsBehind when the open database lacks migrations."""
    pending = await pending_migrations(settings)
    if pending:
        raise MigrationsBehind(
            f"The database is {len(pending)} migration(s) behind this version of the app "
            f"({', '.join(pending)}). Back it up, then run: fieldguide migrate"
        )


@asynccontextmanager
async def preparing(settings: Settings):
    """Hold PostgreSQL's advisory lock for preparing the database, so processes started at once take turns.

    The lock lives on a connection of its own (advisory locks belong to a session, and the pool
    would hand its queries to any connection); a process that dies lets go as its connection drops.
    SQLite needs none: it serves one process.
    """
    if settings.is_sqlite:
        yield
        return
    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", PREPARE_LOCK)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", PREPARE_LOCK)
    finally:
        await conn.close()


# For the `tortoise` command line (makemigrations): tortoise -c server.db.TORTOISE_ORM ...
TORTOISE_ORM = tortoise_config(Settings.from_env())
