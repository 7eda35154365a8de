"""Test fixtures: a fresh SQLite database per test and an HTTP client over the real app.

Every fixture shared by more than one test module is here; helpers (plain functions) are in
tests/helpers/, one module per concern. A test module never imports from another test module.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil

# Settings come from the environment: make sure a developer's own never leak into tests.
for _name in list(os.environ):
    if _name.startswith("FIELDGUIDE_"):
        del os.environ[_name]

import asyncpg
import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager

from server import bootstrap, db
from server.app import create_app
from server.settings import Settings

from .helpers.clients import sign_in
from .helpers.database import PG, TEMPLATE_DB
from .helpers.push import FAST_PUSH
from .helpers.push_service import PushService
from .helpers.route_matrix import build_world


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "fast_push: the settings fixture polls and retries push sending quickly (tests/helpers/push.py)"
    )


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory):
    """A database made once (migrations, base content, demo), copied for each test."""
    folder = tmp_path_factory.mktemp("template")
    settings = Settings(data_dir=folder)

    async def build():
        try:
            await bootstrap.prepare(settings, demo=True)
        finally:
            await db.close_db()

    asyncio.run(build())
    return folder


@pytest.fixture
def settings(request, tmp_path, template_dir) -> Settings:
    """Settings pointing at a fresh copy of the demo database (with FAST_PUSH under the fast_push marker)."""
    shutil.copy(template_dir / TEMPLATE_DB, tmp_path / TEMPLATE_DB)
    settings = Settings(data_dir=tmp_path)
    if request.node.get_closest_marker("fast_push"):
        settings = settings.with_(**FAST_PUSH)
    return settings


@pytest_asyncio.fixture
async def app(settings):
    """The app with its lifespan running."""
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


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


@pytest.fixture
async def pg_settings(tmp_path):
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    name = f"fieldguide_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{PG}/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Settings(data_dir=tmp_path, database_url=f"{PG}/{name}")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
def world_template(template_dir, tmp_path_factory):
    """The demo database plus the route matrix's second agency and objects, built once per run."""
    folder = tmp_path_factory.mktemp("world")
    shutil.copy(template_dir / TEMPLATE_DB, folder / TEMPLATE_DB)
    settings = Settings(data_dir=folder)

    async def build():
        await db.open_db(settings)
        try:
            return await build_world(settings)
        finally:
            await db.close_db()

    own, other = asyncio.run(build())
    return folder, own, other


@pytest_asyncio.fixture
async def world(world_template, tmp_path):
    """A fresh copy of the matrix world and the app on it (push sending off: nothing leaves the machine)."""
    folder, own, other = world_template
    shutil.copy(folder / TEMPLATE_DB, tmp_path / TEMPLATE_DB)
    app = create_app(Settings(data_dir=tmp_path, push_worker=False))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client, own, other
