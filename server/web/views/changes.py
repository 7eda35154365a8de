"""“What changed”: two releases of the agency compared card by card, word by word."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.guidance.changes import compare, shown_hashes
from server.guidance.releases import ReleaseView
from server.params import parse_release_number
from server.web.errors import ApiError
from server.web.page_context import changes_context
from server.web.views.acks import ack_panel
from server.web.views.common import page, release_for, signed_in


def _number(request: Request, name: str) -> int | None:
    """?to=N or ?from=N: None when not given, 0 for "no release" (from=0: everything is new)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return 0 if raw == "0" else parse_release_number(raw, name)


async def comparison(request: Request, user, new: ReleaseView, from_number: int) -> tuple[ReleaseView | None, list]:
    """(release `from_number`, None when it is 0, and the card changes from it to `new`)."""
    old = await release_for(request, user, from_number) if from_number >= 1 else None
    return old, await compare(new, old)


async def changes(request: Request) -> Response:
    """/changes?to=N&from=M (defaults: the current release against the one before it)."""
    _, user = await signed_in(request)
    new = await release_for(request, user, _number(request, "to") or request.path_params.get("number"))
    from_number = _number(request, "from")
    if from_number is None:
        from_number = new.number - 1
    if from_number >= new.number and new.number > 0 and from_number != 0:
        raise ApiError(400, "Compare an older release (from) with a newer one (to).")
    return await changes_page(request, user, new, from_number)


async def changes_page(request: Request, user, new: ReleaseView, from_number: int, trying: dict | None = None) -> Response:
    """The what-changed page of `new` against release `from_number`; trying: check answers not yet all right (no JS)."""
    old, card_changes = await comparison(request, user, new, from_number)
    ack = await ack_panel(user, new, shown_hashes(new, card_changes, old is None), trying)
    return page(request, "views/changes.html", changes_context(new, old, card_changes, ack))
