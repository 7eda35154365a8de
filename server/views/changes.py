"""“What changed”: two releases of the agency compared card by card, word by word."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..diff import compare_releases
from ..errors import ApiError
from ..models import ReleaseCard
from .acks import ack_panel, shown_hashes
from .common import page, release_for, signed_in


def _number(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > 10**9:
        raise ApiError(400, f"{name} must be a release number.", {name: raw})
    return int(raw)


async def change_classes(agency_id: int, after: int, upto: int) -> dict[str, str]:
    """Per card, major or minor over releases after..upto: major when any step in between was major."""
    rows = await ReleaseCard.filter(
        release__agency_id=agency_id,
        release__number__gt=after,
        release__number__lte=upto,
        change__in=["major", "minor", "added"],
    ).values("card_id", "change")
    classes: dict[str, str] = {}
    for row in rows:
        # A card retired and added back in between is as new to officers as a major change.
        major = row["change"] in ("major", "added")
        classes[row["card_id"]] = "major" if major or classes.get(row["card_id"]) == "major" else "minor"
    return classes


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
    classes = await change_classes(user.agency_id, from_number, new.number) if old is not None else {}
    card_changes = compare_releases(old.cards if old else [], new.cards, classes) if old else []
    return page(
        request,
        "views/changes.html",
        {
            "release": new,
            "old": old,
            "changes": card_changes,
            "ack": await ack_panel(user, new, shown_hashes(new, card_changes, old is None)),
        },
    )
