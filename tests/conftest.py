"""Test fixtures: a fresh database per test, on SQLite and on PostgreSQL, and an HTTP client
over the real app.

Every test that uses a database fixture (settings, app, client, officer, world, empty_settings)
runs once per backend, with ids `[sqlite]` and `[postgres]`; `@pytest.mark.sqlite_only("why")`
keeps a test whose behaviour cannot exist on PostgreSQL to SQLite. Each test gets its own copy
of a template database built once per run (tests/helpers/database.py).

Every fixture shared by more than one test module is here; helpers (plain functions) are in
tests/helpers/, one module per concern. A test module never imports from another test module.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import time
from collections.abc import Callable

# Settings come from the environment: make sure a developer's own never leak into tests.
for _name in list(os.environ):
    if _name.startswith("FIELDGUIDE_"):
        del os.environ[_name]

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager

from server import bootstrap, db
from server.app import create_app
from server.settings import Settings

from .helpers.clients import sign_in
from .helpers.database import (
    BACKENDS,
    TEMPLATE_DB,
    PostgresAdmin,
    PostgresUnavailable,
    database_name,
)
from .helpers.push import FAST_PUSH
from .helpers.push_service import PushService
from .helpers.route_matrix import build_world

_ADMIN = pytest.StashKey[PostgresAdmin]()
_DATABASE = pytest.StashKey[str]()
_SETUP_SECONDS = pytest.StashKey[dict]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "fast_push: the settings fixture polls and retries push sending quickly (tests/helpers/push.py)"
    )
    config.stash[_SETUP_SECONDS] = {backend: [] for backend in BACKENDS}


def pytest_generate_tests(metafunc):
    """Run each test that uses a database once per backend (only SQLite under sqlite_only)."""
    if "backend" not in metafunc.fixturenames:
        return
    only = metafunc.definition.get_closest_marker("sqlite_only")
    if only is not None and not (only.args and isinstance(only.args[0], str) and only.args[0].strip()):
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs a reason: sqlite_only(\"why\")")
    backends = ["sqlite"] if only else list(BACKENDS)
    metafunc.parametrize("backend", backends, indirect=True, ids=backends)


def pytest_collection_finish(session):
    """Fail the run at once, and loudly, when PostgreSQL tests were collected but it does not answer."""
    wanted = any(getattr(item, "callspec", None) and item.callspec.params.get("backend") == "postgres"
                 for item in session.items)
    if not wanted or session.config.option.collectonly:
        return
    try:
        session.config.stash[_ADMIN] = PostgresAdmin()
    except PostgresUnavailable as error:
        pytest.exit(str(error), returncode=pytest.ExitCode.TESTS_FAILED)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Name the backend and database of a failed test in its report."""
    report = yield
    if report.failed and _DATABASE in item.stash:
        report.sections.append(("database", item.stash[_DATABASE]))
    return report


def pytest_terminal_summary(terminalreporter, config):
    """Print how long a test's fresh database took to make, per backend."""
    parts = []
    for backend, seconds in config.stash[_SETUP_SECONDS].items():
        if seconds:
            parts.append(f"{backend} median {statistics.median(seconds) * 1000:.0f} ms "
                         f"(max {max(seconds) * 1000:.0f} ms, {len(seconds)} tests)")
    if parts:
        terminalreporter.write_line("database set-up per test: " + "; ".join(parts))


@pytest.fixture
def backend(request) -> str:
    """The database backend of this test: "sqlite" or "postgres" (see pytest_generate_tests)."""
    return request.param


@pytest.fixture(scope="session")
def pg_admin(request):
    """The connection that makes and drops this run's PostgreSQL databases (and a crashed run's)."""
    admin = request.config.stash.get(_ADMIN, None)
    if admin is None:
        try:
            admin = PostgresAdmin()
        except PostgresUnavailable as error:
            pytest.fail(str(error), pytrace=False)
    admin.drop_stale()
    yield admin
    admin.close()


def _build(settings: Settings, work) -> object:
    async def run():
        await db.open_db(settings)
        try:
            return await work(settings)
        finally:
            await db.close_db()

    return asyncio.run(run())


async def _prepare(settings: Settings) -> None:
    await bootstrap.prepare(settings, demo=True)
    # prepare leaves its own connection open: close it before the file or database is copied.
    await db.close_db()


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory):
    """A SQLite database made once (migrations, base content, demo), copied for each test."""
    folder = tmp_path_factory.mktemp("template")
    asyncio.run(_prepare(Settings(data_dir=folder)))
    return folder


@pytest.fixture(scope="session")
def pg_template(pg_admin, tmp_path_factory):
    """The PostgreSQL twin of template_dir: a database made once, the template of each test's."""
    name = pg_admin.create(database_name("template"))
    asyncio.run(_prepare(Settings(data_dir=tmp_path_factory.mktemp("pg-template"), database_url=pg_admin.url(name))))
    yield name
    pg_admin.drop(name)


def _copy_database(request, backend: str, template, folder) -> tuple[Settings, Callable[[], None]]:
    """Settings on a fresh copy of a template (a SQLite folder or a PostgreSQL database name), and
    what removes the copy after the test."""
    started = time.perf_counter()
    if backend == "sqlite":
        shutil.copy(template / TEMPLATE_DB, folder / TEMPLATE_DB)
        settings, remove = Settings(data_dir=folder), lambda: None
    else:
        admin = request.getfixturevalue("pg_admin")
        name = admin.copy(template)
        settings, remove = Settings(data_dir=folder, database_url=admin.url(name)), lambda: admin.drop_later(name)
    request.config.stash[_SETUP_SECONDS][backend].append(time.perf_counter() - started)
    request.node.stash[_DATABASE] = f"{backend}: {settings.db_url}"
    return settings, remove


@pytest.fixture
def settings(request, backend, tmp_path):
    """Settings pointing at a fresh copy of the demo database (with FAST_PUSH under the fast_push marker)."""
    template = request.getfixturevalue("template_dir" if backend == "sqlite" else "pg_template")
    settings, remove = _copy_database(request, backend, template, tmp_path)
    if request.node.get_closest_marker("fast_push"):
        settings = settings.with_(**FAST_PUSH)
    yield settings
    remove()


@pytest.fixture
def empty_settings(request, backend, tmp_path):
    """Settings pointing at a brand-new, empty database (no migrations yet), dropped afterwards."""
    folder = tmp_path / "new"
    request.node.stash[_DATABASE] = backend
    if backend == "sqlite":
        yield Settings(data_dir=folder)
        return
    admin = request.getfixturevalue("pg_admin")
    name = admin.create(database_name())
    try:
        yield Settings(data_dir=folder, database_url=admin.url(name))
    finally:
        admin.drop(name)


@pytest.fixture
def pg_settings(pg_admin, tmp_path):
    """A brand-new PostgreSQL database for a PostgreSQL-only test, dropped afterwards."""
    name = pg_admin.create(database_name())
    try:
        yield Settings(data_dir=tmp_path, database_url=pg_admin.url(name))
    finally:
        pg_admin.drop(name)


async def _forget_database() -> None:
    """Close the ORM's connections even when the app's shutdown failed (it is a no-op after a
    clean one): one test whose shutdown broke must not fail every later test that connects."""
    await db.close_db()


@pytest_asyncio.fixture
async def app(settings):
    """The app with its lifespan running."""
    application = create_app(settings)
    try:
        async with LifespanManager(application):
            yield application
    finally:
        await _forget_database()


@pytest_asyncio.fixture
async def client(app):
    """An HTTP client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest_asyncio.fixture
async def officer(client):
    """The client, signed in as the demo officer."""
    response = await sign_in(client, "officer@demo.test")
    assert response.status_code == 303
    return client


@pytest.fixture
def service(app):
    """The push-service stand-in, checking pushes against this app's VAPID key."""
    stand_in = PushService(vapid_key=app.state.push_signer.public_key).start()
    yield stand_in
    assert stand_in.errors() == [], "the server broke the Web Push protocol"
    stand_in.stop()


@pytest.fixture(scope="session")
def world_template(template_dir, tmp_path_factory):
    """The SQLite demo database plus the route matrix's second agency and objects, built once per run."""
    folder = tmp_path_factory.mktemp("world")
    shutil.copy(template_dir / TEMPLATE_DB, folder / TEMPLATE_DB)
    own, other = _build(Settings(data_dir=folder), build_world)
    return folder, own, other


@pytest.fixture(scope="session")
def pg_world_template(pg_admin, pg_template, tmp_path_factory):
    """The PostgreSQL twin of world_template: (database name, own, other)."""
    name = pg_admin.create(database_name("world"), template=pg_template)
    folder = tmp_path_factory.mktemp("pg-world")
    own, other = _build(Settings(data_dir=folder, database_url=pg_admin.url(name)), build_world)
    yield name, own, other
    pg_admin.drop(name)


@pytest.fixture
def world_settings(request, backend, tmp_path):
    """Settings on a fresh copy of the matrix world of this backend, with its two Sides."""
    location, own, other = request.getfixturevalue("world_template" if backend == "sqlite" else "pg_world_template")
    settings, remove = _copy_database(request, backend, location, tmp_path)
    yield settings.with_(push_worker=False), own, other
    remove()


@pytest_asyncio.fixture
async def world(world_settings):
    """A fresh copy of the matrix world and the app on it (push sending off: nothing leaves the machine)."""
    settings, own, other = world_settings
    app = create_app(settings)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                yield app, client, own, other
    finally:
        await _forget_database()
