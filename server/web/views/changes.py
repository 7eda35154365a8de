"""“What changed”: two releases of the agency compared card by card, word by word."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.acknowledgments.ledger import attestation_text
from server.guidance.diff import compare_releases
from server.guidance.releases import ReleaseView
from server.models import Agency, ReleaseCard
from server.web.errors import ApiError
from server.web.page_context import changes_context
from server.web.views.acks import ack_panel, device_ack_panel, shown_hashes
from server.web.views.common import page, release_for, signed_in


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


async def comparison(request: Request, user, new: ReleaseView, from_number: int) -> tuple[ReleaseView | None, list]:
    """(release `from_number`, None when it is 0, and the card changes from it to `new`)."""
    old = await release_for(request, user, from_number) if from_number >= 1 else None
    if old is None:
        return None, []
    classes = await change_classes(user.agency_id, from_number, new.number)
    return old, compare_releases(old.cards, new.cards, classes)


async def changes(request: Request) -> Response:
    """/changes?to=N&from=M (defaults: the current release against the one before it)."""
    _, user = await signed_in(request)
    new = await release_for(request, user, _number(request, "to") or request.path_params.get("number"))
    from_number = _number(request, "from")
    if from_number is None:
        from_number = new.number - 1
    if from_number >= new.number and new.number > 0 and from_number != 0:
        raise ApiError(400, "Compare an older release (from) with a newer one (to).")
    old, card_changes = await comparison(request, user, new, from_number)
    ack = await ack_panel(user, new, shown_hashes(new, card_changes, old is None))
    return page(request, "views/changes.html", changes_context(new, old, card_changes, ack))


async def changes_fragment(request: Request, user, release: ReleaseView) -> dict:
    """The release's what-changed page (against the release before it) as every officer's device keeps it."""
    agency = await Agency.get(id=user.agency_id)
    attestation = attestation_text(agency, release.number)

    async def context() -> dict:
        old, card_changes = await comparison(request, user, release, release.number - 1)
        hashes = shown_hashes(release, card_changes, old is None)
        return changes_context(release, old, card_changes, device_ack_panel(release, hashes, attestation))

    return await request.app.state.fragments.changes_page(release, attestation, context)
