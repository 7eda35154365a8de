"""/healthz and /readyz: public, uncached JSON; readiness follows the database, its migrations and the push backlog."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from tortoise import connections

from server import clock, db
from server.app import create_app
from server.models import PushOutbox
from server.web.middleware import SECURITY_HEADERS

from .helpers.push import fill_outbox


@pytest_asyncio.fixture
async def quiet(settings):
    """A client of the app with push sending off, so notices stay in the outbox."""
    app = create_app(settings.with_(push_worker=False))
    try:
        transport = httpx.ASGITransport(app=app)
        async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c
    finally:
        await db.close_db()


def assert_public_json(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers
    for name, _ in SECURITY_HEADERS:
        assert name.decode() in response.headers


async def test_healthz_answers_alive_without_sign_in(client):
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "alive"}
    assert_public_json(response)
    assert (await client.head("/healthz")).status_code == 200


async def test_readyz_reports_the_push_backlog_and_its_oldest_notice(quiet):
    empty = await quiet.get("/readyz")
    assert empty.status_code == 200, empty.text
    assert empty.json() == {
        "status": "ready", "database": "ok", "migrations": "current",
        "push": {"pending": 0, "oldest_pending_seconds": None},
    }
    assert_public_json(empty)

    await fill_outbox(pending=7, sent=3, subscriptions=4)
    oldest = await PushOutbox.filter(status="pending").order_by("id").first()
    oldest.created_at = clock.now() - timedelta(minutes=10)
    await oldest.save(update_fields=["created_at"])
    push = (await quiet.get("/readyz")).json()["push"]
    assert push["pending"] == 7
    assert 600 <= push["oldest_pending_seconds"] < 600 + 60


async def test_readyz_is_503_while_migrations_are_behind(quiet, settings):
    assert await db.pending_migrations(settings) == []
    await connections.get("default").execute_query(
        "DELETE FROM tortoise_migrations WHERE name = (SELECT MAX(name) FROM tortoise_migrations)"
    )
    response = await quiet.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "reason": "migrations behind", "migrations_pending": 1}
    assert_public_json(response)
    assert (await quiet.get("/healthz")).status_code == 200  # alive all the same


async def test_readyz_is_503_when_the_database_does_not_answer(quiet, monkeypatch):
    client = connections.get("default")

    async def refused(*args, **kwargs):
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setattr(type(client), "execute_query", refused)
    response = await quiet.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "reason": "database unreachable"}
    assert "refused" not in response.text


async def test_both_are_in_the_openapi_description(client):
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    assert {"200"} == set(paths["/healthz"]["get"]["responses"])
    assert {"200", "503"} == set(paths["/readyz"]["get"]["responses"])


@pytest.mark.sqlite_only("the route table is the same on either database")
async def test_nothing_sensitive_in_readyz(settings, backend, quiet):
    text = (await quiet.get("/readyz")).text
    assert str(settings.data_dir) not in text and "sqlite" not in text.lower()
