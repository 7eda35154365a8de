"""The understanding check in drafts: writing questions through the admin forms, their checks, review and publishing."""

from __future__ import annotations

import pytest

from server.errors import Invalid
from server.guidance import questions
from server.models import Agency, AuditEntry, DraftQuestion, Release, ReleaseQuestion

from .helpers.clients import client_as
from .helpers.csrf import csrf_of
from .helpers.editor import (
    TEACHER_NEW,
    TEACHER_OLD,
    edit_body,
    post,
    set_summary,
    start_draft,
    step,
)
from .helpers.questions import SAMPLE_QUESTIONS, publish_with_questions


def question_form(values: dict, **overrides) -> dict:
    """The question form's fields for sample values, some replaced."""
    values = dict(values, **overrides)
    form = {
        "card_id": values["card_id"], "text": values["text"], "answer": str(values["answer"]),
        "explanation": values["explanation"], "passage": values["passage"],
    }
    for i, choice in enumerate(values["choices"]):
        form[f"choice_{i}"] = choice
    return form


async def _draft_with_teacher_change(admin) -> str:
    draft_url = await start_draft(admin)
    await edit_body(admin, draft_url, "teacher", TEACHER_OLD, TEACHER_NEW, change_class="major")
    return draft_url


async def _add(admin, draft_url: str, values: dict, **overrides):
    return await post(admin, f"{draft_url}/questions/new", question_form(values, **overrides))


async def test_an_admin_writes_a_question_and_the_reviewer_sees_it_published_with_its_hash(app):
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await _draft_with_teacher_change(author)
        form = await author.get(f"{draft_url}/questions/new?card=teacher")
        assert form.status_code == 200
        assert '<option value="teacher" selected>Teacher role</option>' in form.text
        assert "Read how your MOU defines your teacher role." in form.text  # the card as the draft leaves it
        added = await _add(author, draft_url, SAMPLE_QUESTIONS[0])
        assert added.status_code == 303, added.text
        assert added.headers["location"].startswith(f"{draft_url}?done=question#question-")
        page = (await author.get(draft_url)).text
        assert SAMPLE_QUESTIONS[0]["text"] in page and "About: Teacher role" in page
        assert "In your MOU <span class=\"badge\">Right answer</span>" in page
        assert "Officers answer this question before they can acknowledge the release" in page

        await set_summary(author, draft_url, "Clearer wording on teaching.")
        assert (await step(author, draft_url, "submit")).status_code == 303
        review = (await reviewer.get(draft_url)).text
        assert SAMPLE_QUESTIONS[0]["text"] in review and SAMPLE_QUESTIONS[0]["passage"] in review
        assert f"{draft_url}/questions/" not in review.split('id="questions"')[1].split("</section>")[0]
        for name in ("approve", "publish"):
            assert (await step(reviewer, draft_url, name)).status_code == 303, name
        release = await Release.get(agency__slug="demo", number=2)
        # The published draft still lists its questions, with nothing to fix.
        after = (await author.get(draft_url)).text
        assert SAMPLE_QUESTIONS[0]["text"] in after and "This question was part of the draft." in after
        assert "Before this draft can be submitted" not in after

    published = await ReleaseQuestion.filter(release_id=release.id)
    assert len(published) == 1
    q = published[0]
    assert (q.card_id, q.text, q.choices, q.answer) == ("teacher", SAMPLE_QUESTIONS[0]["text"], SAMPLE_QUESTIONS[0]["choices"], 0)
    assert q.hash == questions.question_hash(
        "teacher", q.text, q.choices, q.answer, q.explanation, q.passage
    )
    entry = await AuditEntry.get(action="question.add")
    assert entry.hash_after == q.hash and entry.target.startswith("draft ")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"card_id": "de-escalation"}, "card_id", "Choose a card this draft adds or changes"),
        ({"text": ""}, "text", "Write the question"),
        ({"text": "x" * 301}, "text", "keep it to 300"),
        ({"choices": ["Only one", "", ""]}, "choices", "Give 2 to 4 answers (this has 1)"),
        ({"choices": ["In your MOU", "in your  MOU", "Elsewhere"]}, "choices", "Two answers say the same thing"),
        ({"choices": ["In your MOU", "y" * 201]}, "choices", "keep it to 200"),
        ({"answer": ""}, "answer", "Mark the one right answer"),
        ({"answer": "3"}, "answer", "The answer marked right is empty"),
        ({"explanation": ""}, "explanation", "Write the explanation"),
        ({"passage": "Officers may search any locker."}, "passage", "must be words of “Teacher role” as this draft leaves it"),
        ({"passage": TEACHER_OLD}, "passage", "must be words of “Teacher role”"),
    ],
)
async def test_a_bad_question_is_refused_with_its_text_kept_and_nothing_saved(app, overrides, field, message):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await _draft_with_teacher_change(admin)
        response = await _add(admin, draft_url, SAMPLE_QUESTIONS[0], **overrides)
    assert response.status_code == 400
    assert message in response.text
    assert f'href="#{"q-answer-0" if field == "answer" else "q-choice-0" if field == "choices" else "q-" + ("card" if field == "card_id" else field)}"' in response.text
    assert f'value="{SAMPLE_QUESTIONS[0]["text"]}"' in response.text or field == "text"  # the text typed is kept
    assert await DraftQuestion.all().count() == 0
    assert not await AuditEntry.filter(action__startswith="question.").exists()


def test_check_question_cleans_spacing_and_drops_blank_answers():
    card = {"id": "c", "title": "C", "summary": "One line.", "body": "## Do\n- Call your **supervisor** first. [§ x]\n",
            "local_policy": [{"id": "p", "label": "P", "text": "Radio code 7."}]}
    cleaned = questions.check_question(
        {"c": card}, card_id="c", text="  What   first? ", choices=["", " Call your supervisor ", "", "Wait"], answer=1,
        explanation="Said on the card.", passage="call your\nSUPERVISOR first",
    )
    assert cleaned == {"card_id": "c", "text": "What first?", "choices": ["Call your supervisor", "Wait"], "answer": 0,
                       "explanation": "Said on the card.", "passage": "call your SUPERVISOR first"}
    # Local policy words are the card's words too; a tie to the statement is not.
    assert questions.passage_in_card("radio code 7", card)
    assert not questions.passage_in_card("[§ x]", card)
    with pytest.raises(Invalid) as refused:
        questions.check_question({"c": card}, card_id="c", text="Two\nlines", choices=["a", "b"], answer=0,
                                 explanation="e", passage="One line.")
    assert refused.value.details == {"field": "text"}


async def test_at_most_five_questions(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await _draft_with_teacher_change(admin)
        for values in SAMPLE_QUESTIONS:
            assert (await _add(admin, draft_url, values)).status_code == 303
        sixth = await _add(admin, draft_url, SAMPLE_QUESTIONS[0])
        assert sixth.status_code == 409 and "at most 5 questions" in sixth.text
        assert SAMPLE_QUESTIONS[0]["text"] in sixth.text  # the text typed is kept
        page = (await admin.get(draft_url)).text
        assert "/questions/new" not in page and "A release has at most 5 questions." in page
    assert await DraftQuestion.all().count() == 5


async def test_edit_move_and_remove_are_audited_and_change_the_review_fingerprint(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await _draft_with_teacher_change(admin)
        for values in SAMPLE_QUESTIONS[:3]:
            await _add(admin, draft_url, values)
        first, second, third = await DraftQuestion.all().order_by("position")
        edit_page = await admin.get(f"{draft_url}/questions/{first.id}")
        assert edit_page.status_code == 200 and 'value="Where do you find what your teacher role covers?"' in edit_page.text
        edited = await post(admin, f"{draft_url}/questions/{first.id}",
                            question_form(SAMPLE_QUESTIONS[0], text="Where is your teacher role defined?"))
        assert edited.status_code == 303
        assert (await DraftQuestion.get(id=first.id)).text == "Where is your teacher role defined?"

        moved = await post(admin, f"{draft_url}/questions/{third.id}/move", {"direction": "up"})
        assert moved.status_code == 303
        assert [q.id for q in await DraftQuestion.all().order_by("position")] == [first.id, third.id, second.id]
        removed = await post(admin, f"{draft_url}/questions/{first.id}/remove")
        assert removed.status_code == 303
        rest = await DraftQuestion.all().order_by("position")
        assert [(q.id, q.position) for q in rest] == [(third.id, 0), (second.id, 1)]
        bad = await post(admin, f"{draft_url}/questions/{third.id}/move", {"direction": "sideways"})
        assert bad.status_code == 400
        gone = await admin.get(f"{draft_url}/questions/{first.id}")
        assert gone.status_code == 404

        # The review fingerprint covers the questions: an approval of what was shown before an edit is refused.
        await set_summary(admin, draft_url, "Teaching.")
        await Agency.filter(slug="demo").update(allow_self_approval=True)
        assert (await step(admin, draft_url, "submit")).status_code == 303
        shown = csrf_of((await admin.get(draft_url)).text)
        page = (await admin.get(draft_url)).text
        fingerprint = page.split('name="fingerprint" value="')[1].split('"')[0]
        await DraftQuestion.filter(id=third.id).update(text="Changed behind the reviewer's back?")
        refused = await admin.post(f"{draft_url}/approve", data={"csrf_token": shown, "fingerprint": fingerprint})
        assert refused.status_code == 409 and "changed since you opened it" in refused.text
    actions = await AuditEntry.filter(action__startswith="question.").order_by("id").values_list("action", flat=True)
    assert actions == ["question.add"] * 3 + ["question.edit", "question.move", "question.remove"]


async def test_questions_cannot_change_once_submitted(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await _draft_with_teacher_change(admin)
        await _add(admin, draft_url, SAMPLE_QUESTIONS[0])
        question = await DraftQuestion.get()
        await set_summary(admin, draft_url, "Teaching.")
        assert (await step(admin, draft_url, "submit")).status_code == 303
        form = await admin.get(f"{draft_url}/questions/{question.id}")
        assert "cannot be changed now" in form.text and "<form class=\"stack question-form\"" not in form.text
        refused = await post(admin, f"{draft_url}/questions/{question.id}", question_form(SAMPLE_QUESTIONS[0], text="New?"))
        assert refused.status_code == 409 and "New?" in refused.text
        assert (await post(admin, f"{draft_url}/questions/new", question_form(SAMPLE_QUESTIONS[1]))).status_code == 409
        assert (await post(admin, f"{draft_url}/questions/{question.id}/remove")).status_code == 409
    assert [q.text for q in await DraftQuestion.all()] == [SAMPLE_QUESTIONS[0]["text"]]


async def test_a_question_left_behind_by_a_card_edit_stops_submit_and_publish(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await _draft_with_teacher_change(admin)
        await _add(admin, draft_url, SAMPLE_QUESTIONS[0])
        await set_summary(admin, draft_url, "Teaching.")
        # The card's words the passage quotes change again: the passage no longer occurs.
        await edit_body(admin, draft_url, "teacher", TEACHER_OLD, "Ask how your MOU sets out your teacher role.")
        page = (await admin.get(draft_url)).text
        assert "Question 1: its passage no longer occurs in “Teacher role”" in page
        refused = await step(admin, draft_url, "submit")
        assert refused.status_code == 400 and "its passage no longer occurs" in refused.text
        # The card's change is undone: the question is about a card the draft no longer changes.
        await post(admin, f"{draft_url}/cards/teacher/discard")
        await edit_body(admin, draft_url, "de-escalation", "Lean on relationships", "Lean on the relationships")
        refused = await step(admin, draft_url, "submit")
        assert refused.status_code == 400 and "which this draft no longer changes" in refused.text


async def test_publish_refuses_a_stale_question_even_when_approved(app):
    # An approved draft cannot be edited, but the refusal at publish is the last guard.
    release, published = await publish_with_questions(1)
    async with client_as(app, "admin@demo.test") as author, client_as(app, "admin2@demo.test") as reviewer:
        draft_url = await start_draft(author)
        await edit_body(author, draft_url, "teacher", TEACHER_NEW, "Read what your MOU says about your teacher role.")
        await _add(author, draft_url, SAMPLE_QUESTIONS[1])
        await set_summary(author, draft_url, "More.")
        assert (await step(author, draft_url, "submit")).status_code == 303
        assert (await step(reviewer, draft_url, "approve")).status_code == 303
        await DraftQuestion.filter().update(passage="Words no card has.")
        refused = await step(reviewer, draft_url, "publish")
        assert refused.status_code == 400 and "its passage no longer occurs" in refused.text
    assert await ReleaseQuestion.filter(release__number=release.number + 1).count() == 0


async def test_the_draft_page_offers_questions_only_for_changed_cards(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await start_draft(admin)
        page = (await admin.get(draft_url)).text
        assert "edit or add a card first" in page and f"{draft_url}/questions/new" not in page
        form = await admin.get(f"{draft_url}/questions/new")
        assert form.status_code == 200 and "edit or add a card first" in form.text
        refused = await _add(admin, draft_url, SAMPLE_QUESTIONS[0])
        assert refused.status_code == 400 and "Choose a card this draft adds or changes" in refused.text


async def test_an_expired_form_keeps_the_text(app):
    async with client_as(app, "admin@demo.test") as admin:
        draft_url = await _draft_with_teacher_change(admin)
        response = await admin.post(f"{draft_url}/questions/new", data={"csrf_token": "stale", **question_form(SAMPLE_QUESTIONS[0])})
    assert response.status_code == 403 and "This form had expired" in response.text
    assert SAMPLE_QUESTIONS[0]["text"] in response.text
    assert await DraftQuestion.all().count() == 0


async def test_acknowledgment_settings_require_check_and_require_open(app):
    async with client_as(app, "admin@demo.test") as admin, client_as(app, "officer@demo.test") as officer:
        page = await admin.get("/admin/attestation")
        assert page.status_code == 200
        assert 'name="require_check" value="yes" checked' in page.text
        assert 'name="require_open" value="yes" aria-describedby' in page.text  # off by default
        token = csrf_of(page.text)
        wording = (await Agency.get(slug="demo")).attestation
        saved = await admin.post("/admin/attestation", data={
            "csrf_token": token, "rules": "1", "attestation": "I have read release {release}.", "require_open": "yes",
        })
        assert saved.status_code == 303
        agency = await Agency.get(slug="demo")
        assert (agency.require_check, agency.require_open) == (False, True)
        entry = await AuditEntry.get(action="acknowledgment.rules")
        assert entry.details == {"before": {"require_check": True, "require_open": False},
                                 "after": {"require_check": False, "require_open": True}}
        assert wording is None and agency.attestation == "I have read release {release}."

        # A wrong wording keeps the choices as ticked and saves nothing.
        bad = await admin.post("/admin/attestation", data={
            "csrf_token": token, "rules": "1", "attestation": "x" * 501, "require_check": "yes",
        })
        assert bad.status_code == 400 and 'name="require_check" value="yes" checked' in bad.text
        assert (await Agency.get(slug="demo")).require_check is False
        # The reset form carries no rules: it leaves them as they are.
        await admin.post("/admin/attestation", data={"csrf_token": token, "reset": "yes"})
        agency = await Agency.get(slug="demo")
        assert (agency.attestation, agency.require_check, agency.require_open) == (None, False, True)
        assert await AuditEntry.filter(action="acknowledgment.rules").count() == 1
        assert (await officer.get("/admin/attestation")).status_code == 403
        assert (await officer.post("/admin/attestation", data={"csrf_token": token, "rules": "1"})).status_code == 403
