"""The “what changed” page between two releases."""

from __future__ import annotations

from .helpers.releases import publish_revision


async def test_first_release_has_nothing_to_compare(officer):
    response = await officer.get("/changes")
    assert response.status_code == 200
    assert "first release" in response.text


async def test_changes_show_a_word_level_redline(officer):
    await publish_revision(
        edits={"restraint-devices": {"body": (
            "Follow your agency's policy on the appropriate use",
            "Always follow your agency's written policy on the appropriate use",
        )}},
        summary="Edited one card.",
        changes={"restraint-devices": "major"},
    )
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
