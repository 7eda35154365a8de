"""Test fixtures: a fresh SQLite database per test and an HTTP client over the real app."""

from __future__ import annotations

import asyncio
import os
import re
import shutil

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

TEMPLATE_DB = "fieldguide.sqlite3"


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
def settings(tmp_path, template_dir) -> Settings:
    """Settings pointing at a fresh copy of the demo database."""
    shutil.copy(template_dir / TEMPLATE_DB, tmp_path / TEMPLATE_DB)
    return Settings(data_dir=tmp_path)


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


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, email: str, password: str = bootstrap.DEMO_PASSWORD):
    """Sign in through the real form; returns the final response."""
    page = await client.get("/sign-in")
    token = CSRF.search(page.text).group(1)
    return await client.post(
        "/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )


@pytest_asyncio.fixture
async def officer(client):
    """The client, signed in as the demo officer."""
    response = await sign_in(client, "officer@demo.test")
    assert response.status_code == 303
    return client


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    return CSRF.search(html).group(1)
