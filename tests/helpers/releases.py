"""Publishing test releases of an agency's guidance through the real publish_release."""

from __future__ import annotations

from datetime import datetime

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
    touch: str | None = None,
    summary: str = "Test revision.",
    published_at: datetime | None = None,
    **options,
) -> Release:
    """Release N+1: the current cards with some fields changed, some retired and some added.

    edits maps a card id to new field values; a value that is a (old, new) pair replaces
    that text inside the field instead, and a callable maps the old value to the new one.
    add: new cards, each the card named by its "like" with the fields given.
    touch: a card whose body gains a last line "Revision N." (N: the new release's number),
    a change of content for a test that only needs one.
    summary: "{number}" in it becomes the new release's number.
    published_at: stored as the release's publication time instead of now.
    Other keyword options (changes, due_at, requires_ack, ...) go to publish_release as they are.
    """
    agency = agency or await Agency.get(slug=agency_slug)
    current = await Release.filter(agency=agency).order_by("-number").first()
    number = current.number + 1
    view = await load_release(current)
    edits = dict(edits or {})
    if touch is not None:
        note = f"\n\nRevision {number}."
        edits[touch] = {**edits.get(touch, {}), "body": lambda body: body + note}
    cards = []
    for card in view.cards:
        if card["id"] in retire:
            continue
        data = canonical_card(card)
        for name, value in edits.get(card["id"], {}).items():
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
    summary = summary.replace("{number}", str(number))
    release = await publish_release(agency, cards, current.categories, current.flow, summary, **options)
    if published_at is not None:
        release.published_at = published_at
        await Release.filter(id=release.id).update(published_at=published_at)
    return release
