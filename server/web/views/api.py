"""The read-only JSON API under /api/v1/: manifest, card bodies, bundle, search, flow."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import clock
from server.acknowledgments.sync import CHECKED_HEADER
from server.guidance.search import check_query
from server.models import ReleaseCard
from server.web.errors import ApiError
from server.web.offline_copy import card_body
from server.web.views.common import release_for, release_param, signed_in

IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"
HASH = re.compile(r"^[0-9a-f]{64}$")


def etag_matches(request: Request, etag: str) -> bool:
    """Whether If-None-Match names this ETag (or is *)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    candidates = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in candidates or etag in candidates


def not_modified(etag: str, cache_control: str) -> Response:
    """304 Not Modified with the validators a cache needs."""
    return Response(status_code=304, headers={"ETag": etag, "Cache-Control": cache_control})


async def manifest(request: Request) -> Response:
    """The current release's manifest (or ?release=N); 304 when If-None-Match is current."""
    _, user = await signed_in(request)
    number = release_param(request)
    release = await release_for(request, user, number)
    cache = IMMUTABLE if number else REVALIDATE
    checked = {CHECKED_HEADER: clock.now().isoformat()}
    if etag_matches(request, release.etag):
        response = not_modified(release.etag, cache)
        response.headers.update(checked)
        return response
    body = release.manifest()
    body["checked_at"] = checked[CHECKED_HEADER]
    return JSONResponse(body, headers={"ETag": release.etag, "Cache-Control": cache, **checked})


async def card_by_hash(request: Request) -> Response:
    """One card version by content hash; immutable, and only for the user's own agency."""
    _, user = await signed_in(request)
    digest = request.path_params["hash"]
    if not HASH.match(digest):
        raise ApiError(400, "A card hash is 64 lower-case hexadecimal characters.", {"hash": digest})
    row = (
        await ReleaseCard.filter(version_id=digest, release__agency_id=user.agency_id)
        .prefetch_related("release")
        .first()
    )
    if row is None:
        raise ApiError(404, "No card with that hash in your agency's guidance.")
    release = await request.app.state.releases.get(row.release)
    etag = f'"{digest}"'
    if etag_matches(request, etag):
        return not_modified(etag, IMMUTABLE)
    return JSONResponse(
        card_body(release.by_id[row.card_id], request.app.state.fragments),
        headers={"ETag": etag, "Cache-Control": IMMUTABLE},
    )


async def bundle(request: Request) -> Response:
    """A whole release in one response (manifest, every card, the flow, the search index) for a first sync."""
    _, user = await signed_in(request)
    number = release_param(request)
    release = await release_for(request, user, number)
    etag = release.etag.replace('"r', '"b', 1)
    cache = IMMUTABLE if number else REVALIDATE
    if etag_matches(request, etag):
        return not_modified(etag, cache)
    body = release.manifest()
    body["flow"] = release.flow
    body["card_bodies"] = [card_body(c, request.app.state.fragments) for c in release.cards]
    body["search_index"] = release.index.shipped
    return JSONResponse(body, headers={"ETag": etag, "Cache-Control": cache})


async def search(request: Request) -> Response:
    """Cards for ?q=, best first, and whether any is a close match."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    query = check_query(request.query_params.get("q", ""))
    results = release.search(query)
    return JSONResponse(
        {
            "release": release.number,
            "query": query,
            "close": results.close,
            "results": [{"id": c["id"], "title": c["title"], "summary": c["summary"]} for c in results],
        },
        headers={"Cache-Control": REVALIDATE},
    )


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 description of this API."""
    return JSONResponse(request.app.state.openapi)
