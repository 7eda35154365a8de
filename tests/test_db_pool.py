"""FIELDGUIDE_DB_POOL_SIZE: the most PostgreSQL connections one process opens."""

from __future__ import annotations

import asyncio

import asyncpg
from tortoise import connections

from server import db
from server.settings import Settings


def test_the_pool_size_goes_to_asyncpg_unless_the_url_sets_it():
    url = "postgres://fieldguide@db.internal:5432/fieldguide"
    assert Settings(database_url=url, db_pool_size=7).db_url == (
        "asyncpg://fieldguide@db.internal:5432/fieldguide?minsize=1&maxsize=7"
    )
    assert Settings(database_url=url + "?maxsize=3").db_url.endswith("?maxsize=3")
    assert Settings(database_url=url + "?application_name=x", db_pool_size=4).postgres_dsn == (
        "postgresql://fieldguide@db.internal:5432/fieldguide?application_name=x"
    )
    assert "maxsize" not in Settings(db_pool_size=4).db_url  # SQLite: one connection anyway


async def test_a_busy_process_opens_no_more_connections_than_its_pool(pg_settings):
    settings = pg_settings.with_(db_pool_size=2)
    database = settings.postgres_dsn.rsplit("/", 1)[1]
    await db.open_db(settings)
    try:
        conn = connections.get("default")
        busy = asyncio.gather(*(conn.execute_query("SELECT pg_sleep(0.5)") for _ in range(6)))
        await asyncio.sleep(0.2)
        counter = await asyncpg.connect(settings.postgres_dsn)
        try:
            opened = await counter.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", database
            )
        finally:
            await counter.close()
        await busy
        assert opened == 2
    finally:
        await db.close_db()
