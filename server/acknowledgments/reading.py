"""Proof of reading, lightly: which changed cards of a release an officer opened on the device, and for how long.

The phone (pwa/static/reading.js) times each card open in this app on this device, and sends
nothing of it except with the acknowledgment. The changed cards of a release are those it adds
or changes against the release before it (ReleaseCard.change), the cards its "what changed"
page lists; a first release changes none.
"""

from __future__ import annotations

from server.errors import Invalid
from server.guidance.releases import ReleaseView
from server.models import ReleaseCard

# A card open longer than a day is a phone left on a desk: whole seconds up to this are believed.
MAX_SECONDS = 86_400
CHANGED = ("added", "major", "minor")


async def changed_cards(release: ReleaseView) -> dict[str, str]:
    """The cards this release adds or changes, by id, with their hashes in this release (in guide order)."""
    ids = set(
        await ReleaseCard.filter(release_id=release.id, change__in=CHANGED).values_list("card_id", flat=True)
    )
    return {c["id"]: c["hash"] for c in release.cards if c["id"] in ids}


def check_reading(release: ReleaseView, raw) -> list[dict] | None:
    """The cards read as the ack records them ([{card_id, hash, seconds}], by card id), None when not sent.

    Each must be a card of the release with its hash in this release, once, with whole seconds
    from 0 to MAX_SECONDS; Invalid names the entry at fault.
    """
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) > len(release.cards):
        raise Invalid("reading must be a list of the cards opened: {card_id, hash, seconds}.", {"reading": "invalid"})
    seen: dict[str, dict] = {}
    for index, item in enumerate(raw):
        field = f"reading[{index}]"
        if not isinstance(item, dict) or set(item) != {"card_id", "hash", "seconds"}:
            raise Invalid(f"{field} must be {{card_id, hash, seconds}}.", {field: "invalid"})
        card = release.by_id.get(item["card_id"]) if isinstance(item["card_id"], str) else None
        if card is None:
            raise Invalid(f"{field}.card_id is not a card of release {release.number}.", {f"{field}.card_id": "unknown"})
        if item["hash"] != card["hash"]:
            raise Invalid(
                f"{field}.hash is not the text of that card in release {release.number}.", {f"{field}.hash": "wrong"}
            )
        seconds = item["seconds"]
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_SECONDS:
            raise Invalid(
                f"{field}.seconds must be a whole number of seconds from 0 to {MAX_SECONDS}.",
                {f"{field}.seconds": "invalid"},
            )
        if card["id"] in seen:
            raise Invalid(f"{field} names a card twice.", {f"{field}.card_id": "repeated"})
        seen[card["id"]] = {"card_id": card["id"], "hash": card["hash"], "seconds": seconds}
    return [seen[k] for k in sorted(seen)]


def unread(changed: dict[str, str], reading: list[dict] | None) -> list[str]:
    """The changed cards (ids) the reading does not show opened with their text in this release."""
    opened = {(r["card_id"], r["hash"]) for r in reading or []}
    return [card_id for card_id, card_hash in changed.items() if (card_id, card_hash) not in opened]
