"""Start-up, migrations guard, error pages and security headers."""

from __future__ import annotations

import pytest
from asgi_lifespan import LifespanManager

from server import bootstrap, db
from server.app import create_app
from server.models import Agency, BaseCard, Release, User


async def test_first_start_on_empty_database_creates_everything(empty_settings):
    settings = empty_settings
    try:
        prepared = await bootstrap.prepare(settings, demo=True)
        assert prepared.new_database
        assert prepared.migrations_applied
        assert not settings.is_sqlite or (settings.data_dir / "fieldguide.sqlite3").exists()
        assert await BaseCard.all().count() >= 18
        agency = await Agency.get(slug="demo")
        roles = sorted(u.role.value for u in await User.filter(agency=agency))
        assert roles.count("admin") == 2 and "officer" in roles and "supervisor" in roles
        release = await Release.get(agency=agency)
        assert release.number == 1
    finally:
        await db.close_db()

    # A second start keeps the data and creates nothing twice.
    try:
        again = await bootstrap.prepare(settings, demo=True)
        assert not again.new_database and not again.migrations_applied
        assert not again.demo_created and again.base_cards_changed == []
        assert await Release.all().count() == 1
        assert await User.all().count() == len(bootstrap.DEMO_USERS)
    finally:
        await db.close_db()


async def test_app_refuses_to_start_when_migrations_are_behind(empty_settings):
    settings = empty_settings
    await db.open_db(settings)
    try:
        await db.migrate(settings)
        conn = db.connections.get("default")
        # Forget the newest migration, as a database made by an older version would.
        await conn.execute_query(
            "DELETE FROM tortoise_migrations WHERE name = (SELECT name FROM tortoise_migrations ORDER BY name DESC LIMIT 1)"
        )
    finally:
        await db.close_db()
    app = create_app(settings)
    with pytest.raises(db.MigrationsBehind, match="fieldguide migrate"):
        async with LifespanManager(app):
            pass


async def test_unknown_page_is_a_friendly_404(officer):
    response = await officer.get("/no/such/page")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "There is no page at this address." in response.text
    assert "Traceback" not in response.text


async def test_api_errors_have_one_json_shape(officer):
    response = await officer.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"code", "errno", "error", "message", "details"}
    assert body["code"] == 404


async def test_server_error_shows_no_stack_trace(settings):
    app = create_app(settings)

    async def boom(request):
        raise RuntimeError("secret internals")

    app.add_route("/boom", boom)
    app.add_route("/api/v1/boom", boom)
    import httpx

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            page = await c.get("/boom")
            api = await c.get("/api/v1/boom")
    assert page.status_code == 500 and "secret internals" not in page.text
    assert "Something went wrong" in page.text
    assert api.status_code == 500 and api.json()["errno"] == 999
    assert "secret internals" not in api.text


async def test_security_headers_and_compression(officer):
    response = await officer.get("/", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-encoding"] == "gzip"


async def test_request_bodies_are_limited(client):
    response = await client.post("/sign-in", content=b"x" * 1_100_000)
    assert response.status_code == 413
    assert response.json()["code"] == 413
