"""Review before publishing: who may approve, and steps refused out of order with clear errors."""

from __future__ import annotations

from server.models import Agency, AuditEntry, Draft, DraftStatus, Release, User

from .helpers.clients import client_as
from .helpers.editor import (
    DRAFT_URL,
    TEACHER_NEW,
    TEACHER_OLD,
    current_card,
    edit_body,
    review_and_publish,
    save_card,
    set_summary,
    start_draft,
    step,
)


async def _draft_status(draft_url: str) -> DraftStatus:
    return (await Draft.get(id=int(DRAFT_URL.match(draft_url).group(1)))).status


async def _ready_for_review(author, card_id="teacher", old=None, new=TEACHER_NEW):
    draft_url = await start_draft(author)
    await edit_body(author, draft_url, card_id, old or TEACHER_OLD, new)
    await set_summary(author, draft_url, "Clearer wording on teaching.")
    submitted = await step(author, draft_url, "submit")
    assert submitted.status_code == 303, submitted.text
    return draft_url


async def test_author_cannot_approve_own_draft_when_the_agency_has_two_admins(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await _ready_for_review(author)
        page = (await author.get(draft_url)).text
        assert "You worked on this draft, so another admin must approve it." in page

        refused = await step(author, draft_url, "approve")
        assert refused.status_code == 403
        assert "another admin must approve it" in refused.text
        assert await _draft_status(draft_url) == DraftStatus.IN_REVIEW

        approved = await step(reviewer, draft_url, "approve")
        assert approved.status_code == 303
        assert await _draft_status(draft_url) == DraftStatus.APPROVED
        published = await step(author, draft_url, "publish")
        assert published.status_code == 303
        assert published.headers["location"] == "/admin/releases?published=2"

    release = await Release.get(number=2, agency__slug="demo")
    names = {u.id: u.email for u in await User.all()}
    assert names[release.author_id] == "admin@demo.test"
    assert names[release.approver_id] == "admin2@demo.test"
    assert names[release.publisher_id] == "admin@demo.test"
    assert release.summary == "Clearer wording on teaching."
    actions = await AuditEntry.filter(agency_id=release.agency_id).values_list("action", flat=True)
    for action in ("draft.start", "card.edit", "draft.details", "draft.submit", "draft.approve", "release.publish"):
        assert action in actions


async def test_an_admin_who_edited_someone_elses_draft_cannot_approve_it(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as helper:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW)
        # The second admin joins in on the same draft.
        assert await start_draft(helper) == draft_url
        await edit_body(helper, draft_url, "de-escalation", "Lean on relationships", "Lean on the relationships")
        await set_summary(author, draft_url, "Two edits.")
        assert (await step(author, draft_url, "submit")).status_code == 303
        refused = await step(helper, draft_url, "approve")
        assert refused.status_code == 403
        assert await _draft_status(draft_url) == DraftStatus.IN_REVIEW


async def test_self_approval_when_the_agency_allows_it(app):
    await Agency.filter(slug="demo").update(allow_self_approval=True)
    async with client_as(app, "admin@demo.test") as author:
        draft_url = await _ready_for_review(author)
        page = (await author.get(draft_url)).text
        assert "Your agency allows approving your own changes." in page
        assert (await step(author, draft_url, "approve")).status_code == 303
        assert (await step(author, draft_url, "publish")).status_code == 303
    release = await Release.get(number=2, agency__slug="demo")
    assert release.author_id == release.approver_id == release.publisher_id


async def test_default_allows_self_approval_only_with_fewer_than_two_active_admins(app):
    await User.filter(email="admin2@demo.test").update(active=False)
    async with client_as(app, "admin@demo.test") as author:
        draft_url = await _ready_for_review(author)
        assert (await step(author, draft_url, "approve")).status_code == 303
    # An explicit "no" wins even for a lone admin.
    await Agency.filter(slug="demo").update(allow_self_approval=False)
    async with client_as(app, "admin@demo.test") as author:
        assert (await step(author, draft_url, "send-back", comment="Recheck.")).status_code == 303
        assert (await step(author, draft_url, "submit")).status_code == 303
        assert (await step(author, draft_url, "approve")).status_code == 403


async def test_steps_out_of_order_are_refused_with_clear_errors(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)

        nothing = await step(author, draft_url, "submit")
        assert nothing.status_code == 409 and "does not change anything yet" in nothing.text

        await edit_body(author, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW)
        no_summary = await step(author, draft_url, "submit")
        assert no_summary.status_code == 409 and "Write a change summary" in no_summary.text

        early = await step(reviewer, draft_url, "approve")
        assert early.status_code == 409
        assert "You cannot approve this draft: it has not been submitted for review yet." in early.text
        unapproved = await step(reviewer, draft_url, "publish")
        assert unapproved.status_code == 409 and "has not been submitted" in unapproved.text

        await set_summary(author, draft_url, "Wording.")
        assert (await step(author, draft_url, "submit")).status_code == 303
        twice = await step(author, draft_url, "submit")
        assert twice.status_code == 409 and "it is waiting for review" in twice.text
        not_yet = await step(reviewer, draft_url, "publish")
        assert not_yet.status_code == 409 and "You cannot publish this draft: it is waiting for review." in not_yet.text

        no_comment = await step(reviewer, draft_url, "send-back", comment="  ")
        assert no_comment.status_code == 400 and "a comment is required" in no_comment.text

        assert (await step(reviewer, draft_url, "withdraw")).status_code == 303
        late = await step(reviewer, draft_url, "approve")
        assert late.status_code == 409 and "it was withdrawn" in late.text
        assert await _draft_status(draft_url) == DraftStatus.WITHDRAWN
    assert await Release.filter(agency__slug="demo").count() == 1


async def test_send_back_shows_the_comment_and_the_author_can_resubmit(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await _ready_for_review(author)
        comment = "Please keep “Check how”: it is NASRO's wording."
        sent = await step(reviewer, draft_url, "send-back", comment=comment)
        assert sent.status_code == 303
        page = await author.get(draft_url)
        assert "Sent back by Capt. Avery Chen:" in page.text
        assert "Please keep “Check how”: it is NASRO&#39;s wording." in page.text
        assert await _draft_status(draft_url) == DraftStatus.DRAFT
        await edit_body(author, draft_url, "teacher", TEACHER_OLD, "Check and read how your MOU defines your teacher role.")
        assert (await step(author, draft_url, "submit")).status_code == 303
        assert (await step(reviewer, draft_url, "approve")).status_code == 303


async def test_a_review_acts_only_on_the_draft_it_showed(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await _ready_for_review(author)
        stale = await step(reviewer, draft_url, "approve", fingerprint="0" * 64)
        assert stale.status_code == 409 and "changed since you opened it" in stale.text
        assert await _draft_status(draft_url) == DraftStatus.IN_REVIEW


async def test_editing_is_refused_once_submitted_and_the_text_is_kept(app):
    async with client_as(app, "admin@demo.test") as author:
        draft_url = await _ready_for_review(author)
        card = await current_card("teacher")
        response = await save_card(author, draft_url, "teacher", body=card["body"] + "\nMy unsaved sentence.")
        assert response.status_code == 409
        assert "cannot be edited now" in response.text
        assert "My unsaved sentence." in response.text


async def test_only_one_draft_is_open_at_a_time_and_a_published_one_is_done(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        assert await start_draft(reviewer) == draft_url
        await edit_body(author, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW)
        await review_and_publish(author, reviewer, draft_url)
        again = await step(reviewer, draft_url, "publish")
        assert again.status_code == 409 and "it was already published" in again.text
        assert "Published as release 2." in (await author.get(draft_url)).text
        assert await start_draft(author) != draft_url
