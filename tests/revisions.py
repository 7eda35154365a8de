"""Publishing test revisions of an agency's guidance through the real publish_release."""

from __future__ import annotations

from server.guidance.content import canonical_card
from server.guidance.releases import load_release, publish_release
from server.models import Agency, Release


async def publish_revision(
    agency_slug: str = "demo",
    *,
    agency: Agency | None = None,
    edits: dict[str, dict] | None = None,
    retire: tuple[str, ...] = (),
    add: tuple[dict, ...] = (),
    summary: str = "Test revision.",
    **options,
) -> Release:
    """Release N+1: the current cards with some fields changed, some retired and some added.

    edits maps a card id to new field values; a value that is a (old, new) pair replaces
    that text inside the field instead, and a callable maps the old value to the new one. Other keyword options (changes, due_at,
    requires_ack, ...) go to publish_release as they are.
    """
    agency = agency or await Agency.get(slug=agency_slug)
    current = await Release.filter(agency=agency).order_by("-number").first()
    view = await load_release(current)
    cards = []
    for card in view.cards:
        if card["id"] in retire:
            continue
        data = canonical_card(card)
        for name, value in (edits or {}).get(card["id"], {}).items():
            if callable(value):
                value = value(data[name])
            elif isinstance(value, tuple):
                old, new = value
                assert old in data[name], (card["id"], name, old)
                value = data[name].replace(old, new)
            data[name] = value
        cards.append(data)
    for extra in add:
        data = canonical_card(dict(view.by_id[extra["like"]], **{k: v for k, v in extra.items() if k != "like"}))
        cards.append(data)
    return await publish_release(agency, cards, current.categories, current.flow, summary, **options)
