"""Keeping a device's offline copy current: the sync API and the page shell it fills."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.acknowledgments.sync import (
    CHECKED_HEADER,
    DEVICE_HEADER,
    BadSyncRequest,
    delta,
    held_release,
    page_delta,
    parse_claim,
    parse_device_id,
    record_sync,
)
from server.people.auth import now
from server.web.errors import ApiError
from server.web.fragments import CHANGES_PATH, MARKS, SHELL_RELEASE
from server.web.views.api import card_body, etag_matches, not_modified
from server.web.views.changes import changes_fragment
from server.web.views.common import page, release_for, signed_in

NO_STORE = "private, no-store"


async def sync(request: Request) -> Response:
    """304 when the device holds the current release; else its manifest and what the device lacks."""
    _, user = await signed_in(request)
    try:
        claim = parse_claim(request.headers.get("if-none-match"), request.query_params.get("have"))
        device_id = parse_device_id(request.headers.get(DEVICE_HEADER))
    except BadSyncRequest as exc:
        raise ApiError(400, str(exc), exc.details) from None
    current = await release_for(request, user)
    held = await held_release(claim, current, user.agency_id, request.app.state.releases)
    checked_at = now().isoformat()
    headers = {"ETag": current.etag, "Cache-Control": NO_STORE, CHECKED_HEADER: checked_at}
    if device_id is not None:
        user_agent = request.headers.get("user-agent", "")
        await record_sync(user, device_id, user_agent, held.number if held else None)
    if held is current:
        return Response(status_code=304, headers=headers)
    lacking, retired = delta(current, held)
    fragments = request.app.state.fragments
    # The what-changed page differs in every release, so it is always sent, never kept.
    offline_pages = {**fragments.pages(current), CHANGES_PATH: await changes_fragment(request, user, current)}
    pages, pages_kept = page_delta(offline_pages, fragments.pages(held) if held else None)
    body = current.manifest()
    body.update(
        checked_at=checked_at,
        base=held.number if held else None,
        retired=retired,
        card_bodies=[card_body(c, fragments) for c in lacking],
        pages=pages,
        pages_kept=pages_kept,
        # The whole index (gzip ~13 KB): it depends on every card. null when the held release's
        # index is the same (no searchable text changed): the phone keeps the one it has.
        search_index=None if held and held.index.digest == current.index.digest else current.index.shipped,
    )
    return JSONResponse(body, headers=headers)


async def shell(request: Request) -> Response:
    """The page frame, marked where the service worker puts a page's title, content and release."""
    await signed_in(request)
    response = page(request, "views/shell.html", {"release": SHELL_RELEASE, "marks": MARKS})
    etag = '"s' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    if etag_matches(request, etag):
        return not_modified(etag, "private, no-cache")
    response.headers["ETag"] = etag
    return response
