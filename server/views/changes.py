"""“What changed”: two releases of the agency compared card by card, word by word."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..diff import compare_releases
from ..errors import ApiError
from ..models import ReleaseCard
from .common import page, release_for, signed_in


def _number(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > 10**9:
        raise ApiError(400, f"{name} must be a release number.", {name: raw})
    return int(raw)


async def changes(request: Request) -> Response:
    """/changes?to=N&from=M (defaults: the current release against the one before it)."""
    _, user = await signed_in(request)
    new = await release_for(request, user, _number(request, "to") or request.path_params.get("number"))
    from_number = _number(request, "from")
    if from_number is None:
        from_number = new.number - 1
    if from_number >= new.number and new.number > 0 and from_number != 0:
        raise ApiError(400, "Compare an older release (from) with a newer one (to).")
    old = await release_for(request, user, from_number) if from_number >= 1 else None
    classes = {}
    if old is not None and from_number == new.number - 1:
        rows = await ReleaseCard.filter(release_id=new.id, change__isnull=False).values("card_id", "change")
        classes = {r["card_id"]: r["change"] for r in rows if r["change"] in ("major", "minor")}
    card_changes = compare_releases(old.cards if old else [], new.cards, classes) if old else []
    return page(
        request,
        "views/changes.html",
        {"release": new, "old": old, "changes": card_changes},
    )
