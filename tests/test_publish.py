"""Publishing a reviewed draft: one transaction, change classes, retired and local cards, local policy."""

from __future__ import annotations

import pytest
from markupsafe import escape

from server.guidance import releases, review
from server.guidance.content import content_hash
from server.guidance.drafts import get_draft, working_copy
from server.guidance.provenance import drop_written_ties
from server.guidance.releases import latest_release, load_release
from server.models import (
    Agency,
    AuditEntry,
    CardVersion,
    Draft,
    DraftStatus,
    Release,
    ReleaseCard,
    User,
)

from .helpers.clients import client_as
from .helpers.csrf import csrf_token
from .helpers.editor import (
    DRAFT_URL,
    TEACHER_NEW,
    TEACHER_OLD,
    current_card,
    edit_body,
    post,
    review_and_publish,
    save_card,
    set_summary,
    start_draft,
    step,
)
from .helpers.releases import publish_revision


async def _approved_draft(app) -> tuple[int, str]:
    """A draft edited by admin, approved by admin2; returns (draft id, the edited card's new hash)."""
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW)
        await set_summary(author, draft_url, "Wording.")
        assert (await step(author, draft_url, "submit")).status_code == 303
        assert (await step(reviewer, draft_url, "approve")).status_code == 303
    before = await current_card("teacher")
    # The edited line is the agency's now: its tie to the statement is dropped on save.
    card = drop_written_ties(dict(before, body=before["body"].replace(TEACHER_OLD, TEACHER_NEW)), before)
    assert "- Read how your MOU defines your teacher role.\n" in card["body"]
    return int(DRAFT_URL.match(draft_url).group(1)), content_hash(card)


async def _publish_directly(draft_id: int) -> Release:
    agency = await Agency.get(slug="demo")
    draft = await get_draft(agency.id, draft_id)
    view = await load_release(await latest_release(agency.id))
    wc = await working_copy(draft, view)
    publisher = await User.get(email="admin2@demo.test")
    return await review.publish(wc, agency, publisher, wc.fingerprint())


class Injected(RuntimeError):
    pass


async def _fail_in_hook(release, connection):
    # By now the release row and all its cards are written in the transaction.
    assert await ReleaseCard.filter(release_id=release.id).using_db(connection).count() > 0
    raise Injected("push outbox is down")


@pytest.mark.parametrize("where", ["push notices", "audit after the draft is marked published"])
async def test_publishing_is_all_or_nothing(app, monkeypatch, where):
    draft_id, new_hash = await _approved_draft(app)
    audit_before = await AuditEntry.all().count()
    if where == "push notices":
        monkeypatch.setattr(releases, "enqueue_release_notices", _fail_in_hook)
    else:
        real = review.audit.record

        async def record(agency, actor, action, *args, **kwargs):
            if action == "release.publish":
                assert (await Draft.get(id=draft_id).using_db(kwargs["connection"])).status == DraftStatus.PUBLISHED
                raise Injected("disk full")
            return await real(agency, actor, action, *args, **kwargs)

        monkeypatch.setattr(review.audit, "record", record)

    with pytest.raises(Injected):
        await _publish_directly(draft_id)

    assert await Release.filter(agency__slug="demo").count() == 1
    assert await ReleaseCard.filter(release__number=2).count() == 0
    assert not await CardVersion.exists(hash=new_hash)
    draft = await Draft.get(id=draft_id)
    assert draft.status == DraftStatus.APPROVED and draft.published_release_id is None
    assert await AuditEntry.all().count() == audit_before

    # Nothing is stuck: with the failure gone, the same draft publishes whole.
    monkeypatch.undo()
    release = await _publish_directly(draft_id)
    assert release.number == 2
    assert await CardVersion.exists(hash=new_hash)


async def test_publishing_queues_the_push_notices_in_its_transaction_and_wakes_the_worker(app, monkeypatch):
    seen, woken = [], []
    real = releases.enqueue_release_notices

    async def enqueue(release, connection):
        # The release and its cards are written, in the same (uncommitted) transaction.
        seen.append((release.number, await ReleaseCard.filter(release_id=release.id).using_db(connection).count()))
        return await real(release, connection)

    monkeypatch.setattr(releases, "enqueue_release_notices", enqueue)
    draft_id, _ = await _approved_draft(app)
    agency = await Agency.get(slug="demo")
    wc = await working_copy(await get_draft(agency.id, draft_id), await load_release(await latest_release(agency.id)))
    publisher = await User.get(email="admin2@demo.test")

    def wake():
        woken.append(seen[:])  # after the notices were written

    await review.publish(wc, agency, publisher, wc.fingerprint(), wake=wake)
    assert seen == [(2, 20)] and woken == [[(2, 20)]]


async def test_release_records_change_classes_base_hashes_and_due_date(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW)  # wording: minor
        await edit_body(author, draft_url, "restraint-devices", "appropriate use of physical restraint", "appropriate use of physical restraint, with no exception")
        await set_summary(author, draft_url, "Restraint policy wording.", due="2099-01-31")
        release = await review_and_publish(author, reviewer, draft_url, summary=None)
    rows = {r.card_id: r for r in await ReleaseCard.filter(release=release)}
    first = {r.card_id: r for r in await ReleaseCard.filter(release__number=1, release__agency_id=release.agency_id)}
    assert rows["teacher"].change == "minor"
    assert rows["restraint-devices"].change == "major"
    assert rows["three-roles"].change is None
    # Still aligned with the same NASRO versions as release 1.
    assert all(rows[cid].base_hash == first[cid].base_hash for cid in first)
    assert release.requires_ack
    assert release.due_at.date().isoformat() == "2099-01-31"
    # The officer's "what changed" page shows the classes.
    async with client_as(app, "officer@demo.test") as officer:
        page = (await officer.get("/changes")).text
    assert "major change" in page and "minor change (wording)" in page


async def test_only_minor_changes_need_no_acknowledgment(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW)
        release = await review_and_publish(author, reviewer, draft_url)
    assert not release.requires_ack and release.due_at is None


async def test_default_due_date_is_fourteen_days(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW, change_class="major")
        release = await review_and_publish(author, reviewer, draft_url)
    assert release.requires_ack
    assert (release.due_at - release.published_at).days in (13, 14)


async def test_retired_card_leaves_the_next_manifest(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        retired = await post(author, f"{draft_url}/cards/policymaker-support/retire")
        assert retired.status_code == 303
        page = (await author.get(draft_url)).text
        assert "Retired: leaves officers’ devices at the next sync" in page
        release = await review_and_publish(author, reviewer, draft_url, "Retire the policymaker card.")
    async with client_as(app, "officer@demo.test") as officer:
        manifest = (await officer.get("/api/v1/manifest")).json()
        assert manifest["release"] == release.number == 2
        assert "policymaker-support" not in [c["id"] for c in manifest["cards"]]
        assert manifest["requires_ack"] is True
        assert (await officer.get("/cards/policymaker-support")).status_code == 404
        old = await officer.get("/api/v1/manifest?release=1")
        assert "policymaker-support" in [c["id"] for c in old.json()["cards"]]
        changes = (await officer.get("/changes")).text
        assert "Retired — removed from the guide" in changes


async def test_local_card_is_added_and_shown_to_officers(app):
    body = (
        "## Do\n- Call dispatch on channel 4 before you enter a classroom.\n\n"
        "## Don't\n- Don't use the school's radio channel for police traffic.\n\n"
        "## Why\nYour agency's radio plan keeps school and police traffic apart.\n"
    )
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        form = {
            "csrf_token": await csrf_token(author, f"{draft_url}/new-card"),
            "id": "campus-radio", "title": "Campus radio", "summary": "Use channel 4 on campus.",
            "category": "agency", "audience": ["officer"], "tags": "radio, channel",
            "source": ["A Clear and Concise Memorandum of Understanding is Essential"],
            "related": ["mou-contents"], "body": body, "lp_count": "0", "op": "save", "change_class": "auto",
        }
        saved = await author.post(f"{draft_url}/new-card", data=form)
        assert saved.status_code == 303, saved.text
        release = await review_and_publish(author, reviewer, draft_url, "Our radio card.")
    row = await ReleaseCard.get(release=release, card_id="campus-radio")
    assert row.change == "added" and row.base_hash is None and release.requires_ack
    async with client_as(app, "officer@demo.test") as officer:
        manifest = (await officer.get("/api/v1/manifest")).json()
        assert "campus-radio" in [c["id"] for c in manifest["cards"]]
        card = await officer.get("/cards/campus-radio")
        assert card.status_code == 200
        assert "Call dispatch on channel 4 before you enter a classroom." in card.text
        assert "Campus radio" in (await officer.get("/")).text


async def test_local_policy_text_shows_to_officers_as_your_agencys_policy(app):
    text = "Only a sergeant may approve **handcuffing** a student under 12."
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        card = await current_card("restraint-devices")
        slot = card["local_policy"][0]
        slots = [dict(slot, text=text)] + card["local_policy"][1:]
        response = await save_card(author, draft_url, "restraint-devices", local_policy=slots)
        assert response.status_code == 303, response.text
        release = await review_and_publish(author, reviewer, draft_url, "Restraint policy filled in.")
    assert (await ReleaseCard.get(release=release, card_id="restraint-devices")).change == "major"
    async with client_as(app, "officer@demo.test") as officer:
        page = (await officer.get("/cards/restraint-devices")).text
    section = page[page.index('id="lp-restraint-policy"') - 200:]
    assert "Your agency's policy" in section[:400]
    assert str(escape(slot["label"])) in section
    assert "Only a sergeant may approve <strong>handcuffing</strong> a student under 12." in section


async def test_reordered_cards_publish_in_the_new_order(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        ids = [c["id"] for c in (await load_release(await latest_release((await Agency.get(slug="demo")).id))).cards]
        first_role, second_role = [i for i in ids if i in ("three-roles", "law-enforcement-officer", "teacher", "informal-counselor")][:2]
        moved = await post(author, f"{draft_url}/cards/{second_role}/move", {"direction": "up"})
        assert moved.status_code == 303
        assert "The order of cards changed." in (await author.get(draft_url)).text
        release = await review_and_publish(author, reviewer, draft_url, "Order.")
    assert not release.requires_ack
    order = [r.card_id for r in await ReleaseCard.filter(release=release).order_by("position")]
    assert order.index(second_role) < order.index(first_role)


async def test_a_release_keeps_each_cards_nasro_alignment_unless_told(app):
    first = {r.card_id: r.base_hash for r in await ReleaseCard.filter(release__number=1)}
    assert all(first.values())
    release = await publish_revision(edits={"teacher": {"body": (TEACHER_OLD, TEACHER_NEW)}})
    carried = {r.card_id: r.base_hash for r in await ReleaseCard.filter(release=release)}
    assert carried == first
