"""The read-only JSON API: manifest with ETag/304, cards by hash, bundle, OpenAPI."""

from __future__ import annotations

import hashlib

from server.guidance.content import content_hash, load_content
from server.settings import ROOT
from server.web.resources import Assets


async def test_api_needs_sign_in(client):
    response = await client.get("/api/v1/manifest")
    assert response.status_code == 401
    assert response.json()["errno"] == 104


async def test_manifest_lists_every_card_with_its_hash(officer):
    response = await officer.get("/api/v1/manifest")
    assert response.status_code == 200
    body = response.json()
    assert body["release"] == 1
    cards = load_content(ROOT / "content").cards
    assert [c["id"] for c in body["cards"]] == [c["id"] for c in cards]
    for entry, card in zip(body["cards"], cards):
        assert entry["hash"] == content_hash(card)
    assert response.headers["etag"].startswith('"r1-')
    assert "no-cache" in response.headers["cache-control"]


async def test_manifest_answers_304_for_a_current_etag(officer):
    first = await officer.get("/api/v1/manifest")
    etag = first.headers["etag"]
    second = await officer.get("/api/v1/manifest", headers={"If-None-Match": etag})
    assert second.status_code == 304
    assert second.headers["etag"] == etag
    assert second.content == b""
    stale = await officer.get("/api/v1/manifest", headers={"If-None-Match": '"r0-old"'})
    assert stale.status_code == 200


async def test_card_by_hash_is_immutable_and_verifiable(officer):
    manifest = (await officer.get("/api/v1/manifest")).json()
    entry = next(c for c in manifest["cards"] if c["id"] == "restraint-devices")
    response = await officer.get(f"/api/v1/cards/{entry['hash']}")
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    body = response.json()
    assert body["id"] == "restraint-devices" and "<h2>Do</h2>" in body["html"]
    again = await officer.get(f"/api/v1/cards/{entry['hash']}", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_unknown_and_malformed_card_hashes(officer):
    unknown = await officer.get("/api/v1/cards/" + hashlib.sha256(b"nope").hexdigest())
    assert unknown.status_code == 404
    malformed = await officer.get("/api/v1/cards/not-a-hash")
    assert malformed.status_code == 400
    assert "64 lower-case hexadecimal" in malformed.json()["message"]


async def test_bundle_holds_the_whole_release(officer):
    response = await officer.get("/api/v1/bundle")
    body = response.json()
    assert len(body["card_bodies"]) == len(body["cards"]) == body["search_index"]["cards"]
    assert body["flow"]["start"] in body["flow"]["nodes"]


async def test_release_parameter_is_validated(officer):
    assert (await officer.get("/api/v1/manifest?release=abc")).status_code == 400
    assert (await officer.get("/api/v1/manifest?release=99")).status_code == 404
    pinned = await officer.get("/api/v1/manifest?release=1")
    assert pinned.status_code == 200 and "immutable" in pinned.headers["cache-control"]


async def test_openapi_describes_every_api_route(client, app):
    response = await client.get("/api/v1/openapi.json")
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    api = {
        (method.lower(), r.path)
        for r in app.routes
        if getattr(r, "path", "").startswith("/api/v1/") and not r.path.endswith("openapi.json")
        for method in r.methods - {"HEAD"}
    }
    described = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert api <= described, api - described  # every method of every API route is described
    routes = {(m.lower(), r.path) for r in app.routes for m in getattr(r, "methods", None) or ()}
    assert described <= routes, described - routes  # and nothing is described that the app lacks


async def test_api_docs_mention_every_route(app):
    docs = (ROOT / "docs" / "api.md").read_text()
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/v1/"):
            assert path in docs, path


async def test_static_assets_are_cached_forever_when_hashed(client, app):
    url = app.state.assets.url("app.css")
    hashed = await client.get(url)
    assert hashed.status_code == 200 and "immutable" in hashed.headers["cache-control"]
    plain = await client.get("/static/app.css")
    assert plain.headers["cache-control"] == "no-cache"


async def test_web_manifest_and_service_worker_headers(client):
    manifest = await client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    sw = await client.get("/sw.js")
    assert sw.status_code == 200
    assert sw.headers["cache-control"] == "no-cache"
    assert sw.headers["content-type"].startswith("text/javascript")


async def test_the_precache_list_names_the_shell_files_by_hashed_url(client, app):
    listing = await client.get("/sw/assets.json")
    assert listing.status_code == 200 and listing.headers["cache-control"] == "no-cache"
    body = listing.json()
    assert app.state.assets.url("app.js") in body["assets"]
    assert app.state.assets.url("db.js") in body["assets"]  # imported by the modules, not by the page
    assert app.state.assets.url("editor.js") not in body["assets"]  # admin only, online only
    for url in body["assets"]:
        file = await client.get(url)
        assert file.status_code == 200 and "immutable" in file.headers["cache-control"], url
    etag = listing.headers["etag"]
    assert body["version"] in etag
    again = await client.get("/sw/assets.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag


def test_the_precache_version_changes_with_a_listed_file_only(tmp_path):
    (tmp_path / "app.js").write_text("// one")
    (tmp_path / "editor.js").write_text("// admin")
    first = Assets(tmp_path).precache
    assert first["assets"] == [Assets(tmp_path).url("app.js")]
    (tmp_path / "editor.js").write_text("// admin, edited")
    assert Assets(tmp_path).precache == first
    (tmp_path / "app.js").write_text("// two")
    second = Assets(tmp_path).precache
    assert second["version"] != first["version"] and second["assets"] != first["assets"]


async def test_search_says_whether_the_match_is_close(officer):
    close = (await officer.get("/api/v1/search", params={"q": "restrant"})).json()
    assert close["close"] is True and close["results"][0]["id"] == "restraint-devices"
    far = (await officer.get("/api/v1/search", params={"q": "zzzz qqqq"})).json()
    assert far == {"release": 1, "query": "zzzz qqqq", "close": False, "results": []}
