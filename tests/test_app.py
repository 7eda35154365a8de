"""Start-up, migrations guard, error pages and security headers."""

from __future__ import annotations

import re

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.routing import Route

from server import bootstrap, db
from server.app import create_app
from server.models import Agency, BaseCard, Release, User
from server.web.middleware import SECURITY_HEADERS, BodyLimit

PARAM = re.compile(r"\{\w+(?::\w+)?\}")


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

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            page = await c.get("/boom")
            api = await c.get("/api/v1/boom")
    assert page.status_code == 500 and "secret internals" not in page.text
    assert "Something went wrong" in page.text
    assert api.status_code == 500 and api.json()["errno"] == 999
    assert "secret internals" not in api.text
    for response in (page, api):  # sent by Starlette's outermost ServerErrorMiddleware, yet protected
        assert {name for name, _ in SECURITY_HEADERS} <= {k.encode() for k in response.headers}


async def test_every_405_names_every_method_of_its_path(app, officer):
    # One route per method (GET and POST /admin/attestation): Starlette alone names only the first's.
    paths = {route.path for route in app.router.routes if isinstance(route, Route)}
    checked = 0
    for path in sorted(paths):
        allowed = set().union(*(r.methods for r in app.router.routes if isinstance(r, Route) and r.path == path))
        url = PARAM.sub("1", path)
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed):
            response = await officer.request(method, url)
            assert response.status_code == 405, (method, url, response.status_code)
            assert set(response.headers["allow"].split(", ")) == allowed, (method, url)
            assert {name for name, _ in SECURITY_HEADERS} <= {k.encode() for k in response.headers}
            checked += 1
    assert checked > 100


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


async def test_a_content_length_that_is_no_ascii_number_is_refused_before_reading():
    reached = []

    async def inner(scope, receive, send):
        reached.append(scope["path"])

    limit = BodyLimit(inner, max_bytes=100)
    for length in (b"\xc2\xb2", b"9" * 5000, b"-1", b"1e3", b"101", b""):
        sent = []

        async def send(message, sent=sent):
            sent.append(message)

        scope = {"type": "http", "path": "/x", "headers": [(b"content-length", length)]}
        await limit(scope, None, send)
        assert sent[0]["status"] == 413, length
    await limit({"type": "http", "path": "/fine", "headers": [(b"content-length", b"0")]}, None, None)
    assert reached == ["/fine"]


async def test_a_nul_in_an_address_is_a_400_in_the_error_shape(officer):
    api = await officer.get("/api/v1/cards/a%00b")
    assert api.status_code == 400 and api.json()["details"] == {"url": "nul"}
    for url in ("/cards/a%00b", "/search?q=a%00b", "/changes?to=1&x=%00"):
        page = await officer.get(url)
        assert page.status_code == 400 and "NUL" in page.text and "text/html" in page.headers["content-type"], url
