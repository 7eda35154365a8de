"""What changed between two releases of an agency: each card's class over every step between, word by word."""

from __future__ import annotations

from server.guidance.diff import CardChange, compare_releases
from server.guidance.releases import ReleaseCache, ReleaseView
from server.models import Release, ReleaseCard


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


async def compare(new: ReleaseView, old: ReleaseView | None) -> list[CardChange]:
    """The card changes from `old` to `new` (none when there is no older release)."""
    if old is None:
        return []
    classes = await change_classes(new.agency_id, old.number, new.number)
    return compare_releases(old.cards, new.cards, classes)


async def previous(release: ReleaseView, releases: ReleaseCache) -> ReleaseView | None:
    """The agency's release before this one, or None for a first release."""
    row = await Release.get_or_none(agency_id=release.agency_id, number=release.number - 1)
    return await releases.get(row) if row is not None else None


def shown_hashes(release: ReleaseView, changes: list[CardChange], first: bool) -> list[str]:
    """Hashes of the cards the changes page shows: the added and changed ones (all, for a first release).

    A release that only retires cards shows none of its own: its acknowledgment names every card
    it keeps (an acknowledgment always names the cards it acknowledges).
    """
    shown = sorted({release.by_id[c.card_id]["hash"] for c in changes if c.card_id in release.by_id})
    return shown if shown and not first else sorted({c["hash"] for c in release.cards})
