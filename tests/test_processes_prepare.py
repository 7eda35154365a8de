"""`fieldguide serve` started several times at once on one new PostgreSQL database: the processes take
turns preparing it (advisory lock), so migrations, the base content and the demo are made once."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from server import bootstrap, db
from server.guidance.content import load_content
from server.models import Agency, BaseCard, Release, User
from server.settings import Settings

from .helpers.browser import free_port
from .helpers.database import database_name
from .helpers.processes import (
    APP_UNIT,
    Process,
    new_ledger_key,
    new_vapid_key,
    unit_command,
    unit_environment,
)

SERVERS = 3


@pytest.fixture
def new_database(pg_admin):
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = pg_admin.create(database_name("prepare"))
    try:
        yield pg_admin.url(name)
    finally:
        pg_admin.drop(name)


async def test_servers_started_at_once_on_a_new_database_prepare_it_once(new_database, tmp_path):
    site = {
        "FIELDGUIDE_DATABASE_URL": new_database,
        "FIELDGUIDE_DATA_DIR": str(tmp_path),
        "FIELDGUIDE_VAPID_PRIVATE_KEY": new_vapid_key(),
        "FIELDGUIDE_LEDGER_SIGNING_KEY": new_ledger_key(),
    }
    servers = []
    for _ in range(SERVERS):
        port = str(free_port())
        # The unit's command with the demo on, so seeding races too.
        argv = [arg for arg in unit_command(APP_UNIT, port) if arg != "--no-demo"]
        servers.append(Process(f"serve-{port}", argv, unit_environment(APP_UNIT, site),
                               tmp_path / f"serve-{port}.log", url=f"http://127.0.0.1:{port}"))
    settings = Settings(data_dir=tmp_path, database_url=new_database)
    try:
        for process in servers:
            process.start()
        for process in servers:
            await asyncio.to_thread(process.wait_ready)
        logs = [p.log() for p in servers]
        assert sum("Created a new database" in log for log in logs) == 1, logs
        await db.open_db(settings)
        rows = await connections.get("default").execute_query_dict("SELECT name FROM tortoise_migrations")
        assert len(rows) == len({r["name"] for r in rows}) and await db.pending_migrations(settings) == []
        assert await BaseCard.all().count() == len(load_content(settings.content_dir).cards)
        assert await Agency.filter(slug=bootstrap.DEMO_AGENCY[0]).count() == 1
        assert await Release.all().count() == 1
        assert sorted(await User.all().values_list("email", flat=True)) == sorted(u[0] for u in bootstrap.DEMO_USERS)
    finally:
        for process in servers:
            process.stop()
        await db.close_db()
        for process in servers:
            print(f"===== {process.name}\n{process.log()}")
