"""The guidance pages: home, a card, search and the decision flow."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.guidance.search import check_query
from server.web.page_context import (
    card_context,
    flow_context,
    home_context,
    search_context,
)
from server.web.views.common import page, release_for, release_param, signed_in


async def home(request: Request) -> Response:
    """Cards grouped by category, with search and the decision flow up front."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    return page(request, "views/home.html", home_context(release))


async def card(request: Request) -> Response:
    """One card: the one-line answer, Do / Don't / Why, local policy, sources, related cards."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    card_id = request.path_params["card_id"]
    item = release.by_id.get(card_id)
    article = request.app.state.fragments.article(item) if item else None
    return page(request, "views/card.html", card_context(release, card_id, article, request.app.state.fragments.passages))


async def search(request: Request) -> Response:
    """Server-side search over title, tags, summary and body."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    query = check_query(request.query_params.get("q", ""))
    return page(request, "views/search.html", search_context(release, query))


async def flow(request: Request) -> Response:
    """One step of "Should I step in?": a question with answer links, or an outcome."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    passages = request.app.state.fragments.passages
    return page(request, "views/flow.html", flow_context(release, request.path_params.get("node"), passages))


async def offline(request: Request) -> Response:
    """Shown by the service worker for a page that was not saved on this device."""
    return page(request, "views/offline.html", {})
