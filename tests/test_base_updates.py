"""NASRO base guidance updates: taken in with one click, or resolved side by side on a conflict."""

from __future__ import annotations

from markupsafe import escape

from server.guidance.content import content_hash, load_content
from server.guidance.releases import sync_base_content
from server.models import BaseCard, Draft, DraftCard, ReleaseCard
from server.settings import ROOT

from .helpers.clients import client_as
from .helpers.editor import (
    DRAFT_URL,
    current_card,
    edit_body,
    post,
    review_and_publish,
    save_card,
    start_draft,
    step,
)

POLICY = "Call the on-duty crisis counselor at extension 4400."
NASRO_OLD = "Lean on relationships you have built."
NASRO_NEW = "Lean first on relationships you have built."


async def ship_new_base(card_id: str, old: str, new: str, extra: dict | None = None) -> str:
    """What a new app version does at start-up: content/ changed one card (and maybe adds one)."""
    content = load_content(ROOT / "content")
    card = next(c for c in content.cards if c["id"] == card_id)
    assert old in card["body"]
    card["body"] = card["body"].replace(old, new)
    if extra:
        content.cards.append(extra)
    changed = await sync_base_content(content)
    assert changed == [card_id] + ([extra["id"]] if extra else [])
    return content_hash(card)


async def _fill_policy(author, reviewer, card_id: str, text: str):
    draft_url = await start_draft(author)
    card = await current_card(card_id)
    slots = [dict(card["local_policy"][-1], text=text)]
    response = await save_card(author, draft_url, card_id, local_policy=card["local_policy"][:-1] + slots)
    assert response.status_code == 303, response.text
    return await review_and_publish(author, reviewer, draft_url, "Our crisis contacts.")


async def test_an_update_to_a_card_the_agency_never_edited_is_taken_in_with_one_click(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        # Filling in local policy is not editing NASRO's text: no conflict later.
        await _fill_policy(author, reviewer, "de-escalation", POLICY)
        assert "NASRO base guidance updated" not in (await author.get("/admin")).text
        new_hash = await ship_new_base("de-escalation", NASRO_OLD, NASRO_NEW)

        dashboard = (await author.get("/admin")).text
        assert "NASRO base guidance updated" in dashboard
        assert "NASRO changed this card" in dashboard
        assert '<ins><span class="visually-hidden">[added: </span>first' in dashboard
        assert "You edited it too" not in dashboard
        assert "Take in all 1 card you never edited" in dashboard

        taken = await post(author, "/admin/base-updates/de-escalation", {"choice": "base"})
        assert taken.status_code == 303
        draft_url = DRAFT_URL.match(taken.headers["location"]).group(0)
        assert "Taken into the draft" in (await author.get("/admin")).text
        release = await review_and_publish(author, reviewer, draft_url, "NASRO update taken in.")

        row = await ReleaseCard.get(release=release, card_id="de-escalation").prefetch_related("version")
        assert row.base_hash == new_hash
        assert NASRO_NEW in row.version.data["body"]
        assert row.version.data["local_policy"][-1]["text"] == POLICY
        assert "NASRO base guidance updated" not in (await author.get("/admin")).text
    async with client_as(app, "officer@demo.test") as officer:
        page = (await officer.get("/cards/de-escalation")).text
        assert NASRO_NEW in page and POLICY in page
        changes = (await officer.get("/changes")).text
        assert "What changed in release 3" in changes and "Calming a situation" in changes


async def _agency_edited_then_nasro_changed(author, reviewer) -> tuple[str, str]:
    draft_url = await start_draft(author)
    await edit_body(author, draft_url, "de-escalation", "Use the techniques your agency trains", "Use the de-escalation techniques your agency trains")
    await review_and_publish(author, reviewer, draft_url, "Our wording.")
    new_hash = await ship_new_base("de-escalation", NASRO_OLD, NASRO_NEW)
    return new_hash, (await current_card("de-escalation"))["body"]


async def test_a_conflict_is_shown_side_by_side_and_the_agency_can_keep_its_version(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        new_hash, ours = await _agency_edited_then_nasro_changed(author, reviewer)
        dashboard = (await author.get("/admin")).text
        assert "You edited it too: resolve side by side" in dashboard
        assert "Take in all" not in dashboard

        page = (await author.get("/admin/base-updates/de-escalation")).text
        assert "Your agency's version" in page and "NASRO's new version" in page
        assert "Use the de-escalation techniques your agency trains" in page  # ours
        assert str(escape(NASRO_NEW)) in page  # theirs
        assert "What your agency changed" in page

        kept = await post(author, "/admin/base-updates/de-escalation", {"choice": "ours"})
        assert kept.status_code == 303
        draft_url = DRAFT_URL.match(kept.headers["location"]).group(0)
        edit = await DraftCard.get(card_id="de-escalation", draft__status="draft")
        assert edit.base_hash == new_hash and edit.data["body"] == ours
        release = await review_and_publish(author, reviewer, draft_url, "Seen NASRO's update; kept ours.")
    row = await ReleaseCard.get(release=release, card_id="de-escalation").prefetch_related("version")
    assert row.base_hash == new_hash and row.version.data["body"] == ours and row.change is None
    assert not release.requires_ack


async def test_a_conflict_can_take_nasros_version_or_a_merged_text(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        new_hash, ours = await _agency_edited_then_nasro_changed(author, reviewer)
        merged = ours.replace(NASRO_OLD, NASRO_NEW)

        broken = await post(
            author, "/admin/base-updates/de-escalation",
            {"choice": "merged", "title": "Calming a situation", "summary": "Prevention first.",
             "body": merged.replace("## Why", "## Reasons") + "My merge note."},
        )
        assert broken.status_code == 400
        assert "The merged text was not saved." in broken.text and "My merge note." in broken.text
        assert await DraftCard.filter(draft__status="draft").count() == 0

        saved = await post(
            author, "/admin/base-updates/de-escalation",
            {"choice": "merged", "title": "Calming a situation", "summary": "Prevention first.", "body": merged},
        )
        assert saved.status_code == 303
        edit = await DraftCard.get(card_id="de-escalation", draft__status="draft")
        assert edit.base_hash == new_hash
        assert NASRO_NEW in edit.data["body"] and "de-escalation techniques" in edit.data["body"]
        assert edit.data["summary"] == "Prevention first."

        # Changing one's mind: NASRO's version replaces the merge (the update is still listed as taken).
        chose = await post(author, "/admin/base-updates/de-escalation", {"choice": "base"})
        assert chose.status_code == 303
        edit = await DraftCard.get(card_id="de-escalation", draft__status="draft")
        assert edit.data["body"] == (await _base_body("de-escalation"))


async def _base_body(card_id: str) -> str:
    base = await BaseCard.get(card_id=card_id).prefetch_related("version")
    return base.version.data["body"]


async def test_new_nasro_cards_and_all_untouched_updates_in_one_click(app):
    extra = {
        "id": "nasro-new-card", "title": "A new NASRO card", "category": "role", "audience": ["officer"],
        "order": 99, "summary": "New base guidance.", "tags": ["new"], "related": ["teacher"],
        "source": ["Opening paragraph"], "local_policy": [],
        "body": "## Do\n- Read it.\n\n## Don't\n- Skip it.\n\n## Why\nNASRO says so.\n",
    }
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        await ship_new_base("teacher", "Check how", "Read how", extra)
        dashboard = (await author.get("/admin")).text
        assert "New NASRO card" in dashboard and "A new NASRO card" in dashboard
        assert "Take in all 2 cards you never edited" in dashboard
        taken = await post(author, "/admin/base-updates")
        assert taken.status_code == 303
        edits = {e.card_id: e for e in await DraftCard.all()}
        assert set(edits) == {"teacher", "nasro-new-card"}
        assert edits["nasro-new-card"].action == "add" and edits["nasro-new-card"].base_hash
        draft_url = DRAFT_URL.match(taken.headers["location"]).group(0)
        release = await review_and_publish(author, reviewer, draft_url, "NASRO updates.")
    rows = {r.card_id: r for r in await ReleaseCard.filter(release=release)}
    assert rows["nasro-new-card"].change == "added" and rows["nasro-new-card"].base_hash == content_hash(extra)
    assert rows["teacher"].change == "minor"


async def test_updates_wait_while_the_draft_is_in_review(app):
    async with client_as(app, "admin@demo.test") as author:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", "Check how", "Read how")
        await post(author, f"{draft_url}/details", {"summary": "Wording.", "due_at": ""})
        assert (await step(author, draft_url, "submit")).status_code == 303
        await ship_new_base("de-escalation", NASRO_OLD, NASRO_NEW)
        dashboard = (await author.get("/admin")).text
        assert "Your draft is in review" in dashboard
        refused = await post(author, "/admin/base-updates/de-escalation", {"choice": "base"})
        assert refused.status_code == 409
    assert await DraftCard.filter(card_id="de-escalation").count() == 0
    assert (await Draft.get(id=int(DRAFT_URL.match(draft_url).group(1)))).status == "in_review"
