"""The “what changed” page between two releases."""

from __future__ import annotations

from server.models import Agency, Release, ReleaseCard
from server.releases import load_release, publish_release


async def publish_with_edit(card_id: str, old: str, new: str, change: str = "major") -> Release:
    """Release N+1 of the demo agency with one card's body edited (and another retired)."""
    agency = await Agency.get(slug="demo")
    current = await Release.filter(agency=agency).order_by("-number").first()
    view = await load_release(current)
    cards = []
    for card in view.cards:
        data = {k: card[k] for k in ("id", "title", "category", "audience", "order", "summary", "tags", "related", "source", "body")}
        data["local_policy"] = [{"id": s["id"], "label": s["label"], "text": s["text"]} for s in card["local_policy"]]
        if card["id"] == card_id:
            assert old in data["body"]
            data["body"] = data["body"].replace(old, new)
        cards.append(data)
    release = await publish_release(agency, cards, current.categories, current.flow, "Edited one card.")
    await ReleaseCard.filter(release=release, card_id=card_id).update(change=change)
    return release


async def test_first_release_has_nothing_to_compare(officer):
    response = await officer.get("/changes")
    assert response.status_code == 200
    assert "first release" in response.text


async def test_changes_show_a_word_level_redline(officer):
    await publish_with_edit("restraint-devices", "Follow your agency's restraint policy", "Always follow your agency's written restraint policy")
    response = await officer.get("/changes")
    assert response.status_code == 200
    text = response.text
    assert "What changed in release 2" in text
    assert "Handcuffs and restraint devices" in text
    assert "major change" in text
    assert '<ins><span class="visually-hidden">[added: </span>Always ' in text
    assert "<ins><span class=\"visually-hidden\">[added: </span>written <" in text
    # Only the edited card is listed.
    assert text.count('class="change change-') == 1
    same = await officer.get("/releases/2/changes?from=1")
    assert same.text.count('class="change change-') == 1


async def test_bad_release_numbers_in_changes(officer):
    assert (await officer.get("/changes?to=abc")).status_code == 400
    assert (await officer.get("/changes?to=7")).status_code == 404
