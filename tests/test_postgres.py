"""The same app on PostgreSQL: migrations, base content, sign-in, the read API and publishing."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from server import bootstrap, db
from server.app import create_app

from .helpers.clients import sign_in
from .helpers.releases import publish_revision


async def test_whole_slice_on_postgresql(pg_settings):
    try:
        prepared = await bootstrap.prepare(pg_settings, demo=True)
        assert prepared.new_database and prepared.demo_created
    finally:
        await db.close_db()

    app = create_app(pg_settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert (await sign_in(client, "officer@demo.test")).status_code == 303
            manifest = await client.get("/api/v1/manifest")
            assert manifest.status_code == 200 and manifest.json()["release"] == 1
            etag = manifest.headers["etag"]
            assert (await client.get("/api/v1/manifest", headers={"If-None-Match": etag})).status_code == 304
            card = manifest.json()["cards"][0]
            assert (await client.get(f"/api/v1/cards/{card['hash']}")).status_code == 200
            results = (await client.get("/api/v1/search", params={"q": "zip ties"})).json()["results"]
            assert results[0]["id"] == "restraint-devices"

            await publish_revision(
                edits={"teacher": {"body": ("## Do", "## Do\n- Greet students by name.\n")}},
                summary="Edited one card.",
                changes={"teacher": "major"},
            )
            assert (await client.get("/api/v1/manifest", headers={"If-None-Match": etag})).status_code == 200
            changes = await client.get("/changes")
            assert "What changed in release 2" in changes.text and "Greet students by name" in changes.text
