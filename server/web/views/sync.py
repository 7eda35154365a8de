"""Keeping a device's offline copy current: the sync API (it parses, calls offline_copy and answers) and the page shell."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

from server import clock
from server.acknowledgments.sync import (
    CHECKED_HEADER,
    DEVICE_HEADER,
    held_release,
    parse_claim,
    parse_device_id,
    record_sync,
)
from server.models import Agency
from server.web.fragments import MARKS, SHELL_RELEASE
from server.web.offline_copy import answer_key, offline_copy
from server.web.sync_answers import accepts_gzip
from server.web.views.api import etag_matches, not_modified
from server.web.views.common import current_release, page, signed_in

NO_STORE = "private, no-store"


async def sync(request: Request) -> Response:
    """304 when the device holds the current release; else its manifest and what the device lacks.

    An unchanged device costs one query (session, user and the agency's latest release
    together): the release is loaded once per process, the device's record is written at most
    once a minute and this process remembers it (docs/sync.md, "What a check costs"). A 200
    is built once per held release, current release and agency wording (SyncAnswers).
    """
    session, user = await signed_in(request)
    claim = parse_claim(request.headers.get("if-none-match"), request.query_params.get("have"))
    device_id = parse_device_id(request.headers.get(DEVICE_HEADER))
    current = await current_release(request, session)
    held = await held_release(claim, current, user.agency_id, request.app.state.releases)
    checked_at = clock.now().isoformat()
    headers = {"ETag": current.etag, "Cache-Control": NO_STORE, CHECKED_HEADER: checked_at}
    if device_id is not None:
        user_agent = request.headers.get("user-agent", "")
        await record_sync(
            user,
            device_id,
            user_agent,
            held.number if held else None,
            request.app.state.recent_syncs,
            max_devices=request.app.state.settings.max_devices_per_user,
        )
    if held is current:
        return Response(status_code=304, headers=headers)
    agency = await Agency.get(id=user.agency_id)
    # Every phone of the agency holding the same release gets the same answer: built,
    # serialized and gzipped once per process, only checked_at added per request.
    answers = request.app.state.sync_answers
    key = answer_key(current, held, agency)
    answer = answers.get(key)
    if answer is None:
        body = await offline_copy(current, held, agency, request.app.state.releases, request.app.state.fragments)
        answer = answers.put(key, body)
    if accepts_gzip(request):
        # Already compressed: GZipMiddleware passes an answer with Content-Encoding through.
        headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(answer.gzipped(checked_at), media_type="application/json", headers=headers)
    return Response(answer.body(checked_at), media_type="application/json", headers=headers)


async def shell(request: Request) -> Response:
    """The page frame, marked where the service worker puts a page's title, content and release."""
    await signed_in(request)
    response = page(request, "views/shell.html", {"release": SHELL_RELEASE, "marks": MARKS})
    etag = '"s' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    if etag_matches(request, etag):
        return not_modified(etag, "private, no-cache")
    response.headers["ETag"] = etag
    return response
