"""The test database matrix itself: each backend gets its own fresh demo database, and the
PostgreSQL databases a crashed run left behind are dropped without touching a live run's."""

from __future__ import annotations

import subprocess
import sys

from server.models import Acknowledgment, Agency

from .helpers.database import PREFIX, database_name


async def test_each_backend_gets_its_own_fresh_demo_database(app, settings, backend):
    assert settings.is_sqlite == (backend == "sqlite")
    assert await Agency.filter(slug="demo").exists()
    # A fresh copy: what an earlier test wrote is not here.
    assert await Acknowledgment.all().count() == 0


def test_a_crashed_runs_databases_are_dropped_and_a_live_runs_kept(pg_admin):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    stale = pg_admin.create(f"{PREFIX}{finished.pid}_crashed")
    live = pg_admin.create(database_name())
    try:
        assert stale in pg_admin.drop_stale()
        names = pg_admin.test_databases()
        assert stale not in names and live in names
    finally:
        pg_admin.drop(stale)
        pg_admin.drop(live)
