"""Where test databases come from: a SQLite file copied per test, or a PostgreSQL database
made per test from a template database.

Every test that touches the database runs once per backend in BACKENDS (ids `[sqlite]` and
`[postgres]`); tests/conftest.py makes the fixtures. PostgreSQL databases of a run are named
`fieldguide_test_<pid>_...`, so a later run can drop those a crashed run left behind (their
process is gone) without touching another run that is still going on this machine.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import threading
from concurrent.futures import Future

import asyncpg

from server.settings import Settings

BACKENDS = ("sqlite", "postgres")
# The SQLite file of the template database (migrations, base content, demo), copied per test.
TEMPLATE_DB = "fieldguide.sqlite3"
# The PostgreSQL server (trust auth) the PostgreSQL tests make and drop their databases on.
PG = os.environ.get("TEST_POSTGRES_SERVER", "postgres://postgres@127.0.0.1:5432")
# The database the admin connection uses to make and drop the others.
PG_ADMIN_DB = "test"
PREFIX = "fieldguide_test_"
_OWNED = re.compile(rf"^{PREFIX}(\d+)_")


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server the tests need does not answer."""


def database_name(kind: str = "") -> str:
    """A new database name of this run: the prefix, this process id, then kind or a random part."""
    return f"{PREFIX}{os.getpid()}_{kind or secrets.token_hex(5)}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresAdmin:
    """Makes and drops databases on the PostgreSQL server, usable from synchronous fixtures.

    It runs a small connection pool on its own thread and event loop, so it never touches the
    loops pytest-asyncio gives the tests. copy() keeps the next copy of each template made in
    the background while a test runs, and drop_later() drops without waiting: under load a
    CREATE or DROP DATABASE waits on the disk for a few hundred milliseconds.
    """

    def __init__(self, server: str = PG):
        self.server = server
        self._spares: dict[str, Future] = {}  # template -> the future name of its next copy
        self._dropping: set[Future] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="postgres-admin", daemon=True)
        self._thread.start()
        try:
            self._pool = self._run(self._open())
        except (TimeoutError, OSError, asyncpg.PostgresError) as error:
            self._stop()
            raise PostgresUnavailable(
                f"PostgreSQL is not reachable at {server}/{PG_ADMIN_DB} ({error!r}). The tests run every "
                "database test on PostgreSQL too: start it (.ci/run does), or run only SQLite with "
                "-k 'not postgres'."
            ) from error

    async def _open(self) -> asyncpg.Pool:
        return await asyncpg.create_pool(f"{self.server}/{PG_ADMIN_DB}", min_size=1, max_size=3, timeout=5)

    def _start(self, coroutine) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def _run(self, coroutine):
        return self._start(coroutine).result(timeout=120)

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def url(self, name: str) -> str:
        """The URL of a database on this server."""
        return f"{self.server}/{name}"

    async def _create(self, name: str, template: str | None) -> str:
        # WAL_LOG (PostgreSQL 15's default) copied the demo template in ~80 ms on a quiet machine;
        # FILE_COPY forces a checkpoint and took ~125 ms.
        copy = f' TEMPLATE "{template}" STRATEGY WAL_LOG' if template else ""
        await self._pool.execute(f'CREATE DATABASE "{name}"{copy}')
        return name

    async def _drop(self, name: str) -> None:
        await self._pool.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create(self, name: str, template: str | None = None) -> str:
        """Make a database (a copy of template when given) and return its name."""
        return self._run(self._create(name, template))

    def copy(self, template: str) -> str:
        """A new copy of template (made while the previous test ran), and start making the next."""
        spare = self._spares.pop(template, None)
        name = spare.result(timeout=120) if spare else self.create(database_name(), template)
        self._spares[template] = self._start(self._create(database_name(), template))
        return name

    def drop(self, name: str) -> None:
        """Drop a database now, closing whatever still connects to it (first its spare copy, if a template)."""
        spare = self._spares.pop(name, None)
        if spare is not None:
            self.drop(spare.result(timeout=120))
        self._run(self._drop(name))

    def drop_later(self, name: str) -> None:
        """Drop a database in the background (close() waits for it)."""
        self._dropping = {f for f in self._dropping if not f.done()}
        self._dropping.add(self._start(self._drop(name)))

    def test_databases(self) -> set[str]:
        """The names of every test database on the server (of any run)."""
        rows = self._run(self._pool.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PREFIX}%"))
        return {row["datname"] for row in rows}

    def drop_stale(self) -> list[str]:
        """Drop the test databases of runs whose process is gone; return their names."""
        stale = []
        for name in sorted(self.test_databases()):
            owned = _OWNED.match(name)
            if owned and not _process_alive(int(owned.group(1))):
                self.drop(name)
                stale.append(name)
        return stale

    def close(self) -> None:
        """Drop the spare copies, wait for the drops under way, then close the pool and its thread."""
        for template in list(self._spares):
            self.drop(self._spares.pop(template).result(timeout=120))
        for dropping in self._dropping:
            dropping.result(timeout=120)
        self._run(self._pool.close())
        self._stop()


def backend_of(settings: Settings) -> str:
    """Which backend these settings use: "sqlite" or "postgres"."""
    return "sqlite" if settings.is_sqlite else "postgres"


def cli_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment without FIELDGUIDE_*, plus what points a subprocess at settings' database."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FIELDGUIDE_")}
    environment["FIELDGUIDE_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        environment["FIELDGUIDE_DATABASE_URL"] = settings.database_url
    environment.update(extra)
    return environment
