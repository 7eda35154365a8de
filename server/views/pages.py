"""The guidance pages: home, a card, search and the decision flow."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..errors import ApiError
from ..search import BadQuery, check_query
from .common import page, release_for, release_param, signed_in


async def home(request: Request) -> Response:
    """Cards grouped by category, with search and the decision flow up front."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    return page(request, "views/home.html", {"release": release, "groups": release.grouped()})


async def card(request: Request) -> Response:
    """One card: the one-line answer, Do / Don't / Why, local policy, sources, related cards."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    card_id = request.path_params["card_id"]
    item = release.by_id.get(card_id)
    if item is None:
        raise ApiError(404, f"There is no card “{card_id}” in your agency's guidance.")
    related = [release.by_id[r] for r in item["related"] if r in release.by_id]
    category = next((c for c in release.categories if c["id"] == item["category"]), None)
    return page(
        request,
        "views/card.html",
        {"release": release, "card": item, "related": related, "category": category},
    )


async def search(request: Request) -> Response:
    """Server-side search over title, tags, summary and body."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    try:
        query = check_query(request.query_params.get("q", ""))
    except BadQuery as exc:
        raise ApiError(400, str(exc)) from None
    results = release.search(query) if query else []
    return page(
        request, "views/search.html", {"release": release, "query": query, "results": results}
    )


async def flow(request: Request) -> Response:
    """One step of "Should I step in?": a question with answer links, or an outcome."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    nodes = release.flow["nodes"]
    node_id = request.path_params.get("node", release.flow["start"])
    node = nodes.get(node_id)
    if node is None:
        raise ApiError(404, "That step of the decision flow does not exist.")
    cards = [release.by_id[c] for c in node.get("cards", []) if c in release.by_id]
    return page(
        request,
        "views/flow.html",
        {
            "release": release,
            "flow": release.flow,
            "node_id": node_id,
            "node": node,
            "cards": cards,
            "is_start": node_id == release.flow["start"],
        },
    )


async def offline(request: Request) -> Response:
    """Shown by the service worker for a page that was not saved on this device."""
    return page(request, "views/offline.html", {})
