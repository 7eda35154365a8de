"""The understanding check's answers: the API, idempotency, bad input, gating acknowledgments, the ledger."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from markupsafe import escape

from server.acknowledgments.answers import answers_hash
from server.acknowledgments.ledger import (
    CHAIN_FIELDS,
    ack_fields,
    chain_content,
    row_hash,
    verify_agency,
)
from server.guidance.content import content_hash
from server.models import Acknowledgment, Agency, CheckAnswer, ReleaseCard

from .helpers.acks import ack_form, post_ack
from .helpers.clients import client_as
from .helpers.csrf import csrf_of, csrf_token
from .helpers.questions import publish_with_questions


async def post_answers(client, token, release, answers, key=None, **extra):
    """POST /api/v1/answers as the phone's outbox does."""
    body = {"uuid": key or str(uuid.uuid4()), "release": release, "answers": answers, **extra}
    return await client.post("/api/v1/answers", json=body, headers={"X-CSRF-Token": token})


def right(questions, first_wrong: int | None = None) -> list[dict]:
    """Every question answered right; question `first_wrong` after one wrong try."""
    out = []
    for index, q in enumerate(questions):
        wrong = next(i for i in range(len(q.choices)) if i != q.answer)
        tries = [wrong, q.answer] if index == first_wrong else [q.answer]
        out.append({"question": q.hash, "tries": tries})
    return out


async def teacher_reading(release) -> list[dict]:
    row = await ReleaseCard.get(release_id=release.id, card_id="teacher")
    return [{"card_id": "teacher", "hash": row.version_id, "seconds": 42}]


async def test_answers_are_recorded_once_per_officer_and_release(officer, app):
    release, questions = await publish_with_questions(2)
    token = await csrf_token(officer)
    key = str(uuid.uuid4())
    answers = right(questions, first_wrong=0)
    first = await post_answers(officer, token, release.number, answers, key, device_id="phone-0001",
                               device_time="2026-01-05T10:00:00.000Z")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["uuid"] == key and body["release"] == release.number
    assert [a["right_first_time"] for a in body["answers"]] == [False, True]
    assert [a["question"] for a in body["answers"]] == [q.hash for q in questions]
    rows = await CheckAnswer.filter(release_id=release.id).order_by("question__position")
    assert [r.tries for r in rows] == [a["tries"] for a in answers]
    assert {r.device_id for r in rows} == {"phone-0001"} and {r.uuid for r in rows} == {key}
    assert body["check_hash"] == answers_hash(rows) == answers_hash([{"question_hash": q.hash, "tries": a["tries"]}
                                                                       for q, a in zip(questions, answers)])
    # The same submission again (a replay), and another device's submission: what was recorded.
    again = await post_answers(officer, token, release.number, answers, key)
    assert again.status_code == 200 and again.json() == body
    other = await post_answers(officer, token, release.number, right(questions), str(uuid.uuid4()))
    assert other.status_code == 200 and other.json() == body
    assert await CheckAnswer.filter(release_id=release.id).count() == 2


async def test_concurrent_submissions_with_different_keys_record_one_set(officer, app):
    release, questions = await publish_with_questions(3)
    token = await csrf_token(officer)
    responses = await asyncio.gather(
        *(post_answers(officer, token, release.number, right(questions, first_wrong=i % 3)) for i in range(12))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 11 + [201], codes
    assert len({r.json()["check_hash"] for r in responses}) == 1
    rows = await CheckAnswer.filter(release_id=release.id)
    assert len(rows) == 3 and len({r.uuid for r in rows}) == 1


@pytest.mark.parametrize(
    "name, make, field",
    [
        ("unknown question", lambda qs: [{"question": "f" * 64, "tries": [0]}, *right(qs)[1:]], "answers[0].question"),
        ("not a hash", lambda qs: [{"question": "teacher", "tries": [0]}, *right(qs)[1:]], "answers[0].question"),
        ("wrong last", lambda qs: [{"question": qs[0].hash, "tries": [qs[0].answer, 2]}, *right(qs)[1:]],
         "answers[0].tries"),
        ("ends wrong", lambda qs: [{"question": qs[0].hash, "tries": [1]}, *right(qs)[1:]], "answers[0].tries"),
        ("right twice", lambda qs: [*right(qs)[:1], {"question": qs[1].hash, "tries": [1, 1]}], "answers[1].tries"),
        ("out of range", lambda qs: [{"question": qs[0].hash, "tries": [7, 0]}, *right(qs)[1:]], "answers[0].tries"),
        ("a boolean", lambda qs: [{"question": qs[0].hash, "tries": [False]}, *right(qs)[1:]], "answers[0].tries"),
        ("text", lambda qs: [{"question": qs[0].hash, "tries": ["0"]}, *right(qs)[1:]], "answers[0].tries"),
        ("no tries", lambda qs: [{"question": qs[0].hash, "tries": []}, *right(qs)[1:]], "answers[0].tries"),
        ("missing a question", lambda qs: right(qs)[:1], "answers"),
        ("twice the same", lambda qs: [right(qs)[0], right(qs)[0]], "answers[1].question"),
        ("not a list", lambda qs: {"question": qs[0].hash, "tries": [0]}, "answers"),
        ("not objects", lambda qs: [qs[0].hash, qs[1].hash], "answers[0]"),
        ("empty", lambda qs: [], "answers"),
    ],
)
async def test_bad_answers_are_refused_naming_the_field_and_record_nothing(officer, app, name, make, field):
    release, questions = await publish_with_questions(2)
    token = await csrf_token(officer)
    response = await post_answers(officer, token, release.number, make(questions))
    assert response.status_code == 400, (name, response.text)
    body = response.json()
    assert body["errno"] == 107 and field in body["details"], (name, body)
    assert body["message"]
    assert await CheckAnswer.all().count() == 0
    # The officer can still answer afterwards: nothing half-recorded blocks them.
    assert (await post_answers(officer, token, release.number, right(questions))).status_code == 201


async def test_other_bad_submissions(officer, app):
    release, questions = await publish_with_questions(2)
    token = await csrf_token(officer)
    # A release without questions: there is nothing to answer.
    none = await post_answers(officer, token, 1, right(questions))
    assert none.status_code == 409 and "no understanding check" in none.json()["message"]
    missing = await post_answers(officer, token, 99, right(questions))
    assert missing.status_code == 404
    for bad in ({"uuid": "not-a-uuid"}, {"device_id": "x"}, {"device_time": "yesterday"}):
        response = await officer.post(
            "/api/v1/answers",
            json={"uuid": str(uuid.uuid4()), "release": release.number, "answers": right(questions), **bad},
            headers={"X-CSRF-Token": token},
        )
        assert response.status_code == 400 and next(iter(bad)) in response.json()["details"], response.text
    forged = await officer.post("/api/v1/answers", json={"uuid": str(uuid.uuid4()), "release": release.number,
                                                         "answers": right(questions)}, headers={"X-CSRF-Token": "x"})
    assert forged.status_code == 403
    # Someone else's uuid is not taken over.
    key = str(uuid.uuid4())
    assert (await post_answers(officer, token, release.number, right(questions), key)).status_code == 201
    async with client_as(app, "officer2@demo.test") as other:
        taken = await post_answers(other, await csrf_token(other), release.number, right(questions), key)
        assert taken.status_code == 409 and "uuid" in taken.json()["details"]
    assert await CheckAnswer.all().count() == 2


async def test_an_ack_needs_the_check_answered_when_the_agency_requires_it(officer, app):
    release, questions = await publish_with_questions(2)
    token = await csrf_token(officer)
    refused = await post_ack(officer, token, release.number)
    assert refused.status_code == 409, refused.text
    assert refused.json()["details"]["check"] == "not answered"
    assert "Answer the 2 questions" in refused.json()["message"]
    assert await Acknowledgment.filter(release_id=release.id).count() == 0
    answered = (await post_answers(officer, token, release.number, right(questions, first_wrong=1))).json()
    ack = await post_ack(officer, token, release.number)
    assert ack.status_code == 201, ack.text
    row = await Acknowledgment.get(release_id=release.id)
    assert row.check_hash == answered["check_hash"]
    assert row.row_hash == row_hash(chain_content(row, release.number))
    # The hash covers check_hash: a changed one breaks the chain there.
    assert (await verify_agency(row.agency_id)).broken is None
    await Acknowledgment.filter(id=row.id).update(check_hash="0" * 64)
    broken = (await verify_agency(row.agency_id)).broken
    assert broken is not None and broken.seq == row.seq and "edited" in broken.problem


async def test_without_the_requirement_an_ack_needs_no_answers_and_binds_any_given(officer, app):
    release, questions = await publish_with_questions(1)
    await Agency.filter(slug="demo").update(require_check=False)
    token = await csrf_token(officer)
    ack = await post_ack(officer, token, release.number)
    assert ack.status_code == 201, ack.text
    row = await Acknowledgment.get(release_id=release.id)
    assert row.check_hash is None and row.reading is None
    # A row without the new fields hashes the eleven fields only, as rows recorded before them do.
    assert row.row_hash == content_hash(ack_fields(row, CHAIN_FIELDS, release.number))
    async with client_as(app, "officer2@demo.test") as other:
        other_token = await csrf_token(other)
        assert (await post_answers(other, other_token, release.number, right(questions))).status_code == 201
        assert (await post_ack(other, other_token, release.number)).status_code == 201
    second = await Acknowledgment.get(release_id=release.id, user__email="officer2@demo.test")
    assert second.check_hash == answers_hash(await CheckAnswer.filter(user_id=second.user_id))
    assert (await verify_agency(second.agency_id)).broken is None


async def test_reading_is_checked_recorded_and_required_when_the_agency_says(officer, app):
    release, questions = await publish_with_questions(1)
    await Agency.filter(slug="demo").update(require_open=True)
    token = await csrf_token(officer)
    await post_answers(officer, token, release.number, right(questions))
    reading = await teacher_reading(release)
    unopened = await post_ack(officer, token, release.number)
    assert unopened.status_code == 409 and unopened.json()["details"]["cards"] == ["teacher"], unopened.text
    assert "Not opened on this device" in unopened.json()["message"]
    other_card = await ReleaseCard.filter(release_id=release.id).exclude(card_id="teacher").first()
    elsewhere = [{"card_id": other_card.card_id, "hash": other_card.version_id, "seconds": 3}]
    assert (await post_ack(officer, token, release.number, reading=elsewhere)).status_code == 409
    bad = [
        ([{"card_id": "no-such-card", "hash": reading[0]["hash"], "seconds": 1}], "reading[0].card_id"),
        ([{**reading[0], "hash": "0" * 64}], "reading[0].hash"),
        ([{**reading[0], "seconds": -1}], "reading[0].seconds"),
        ([{**reading[0], "seconds": 1.5}], "reading[0].seconds"),
        ([{**reading[0], "seconds": True}], "reading[0].seconds"),
        ([{**reading[0], "seconds": 10**6}], "reading[0].seconds"),
        ([reading[0], reading[0]], "reading[1].card_id"),
        ([{**reading[0], "extra": 1}], "reading[0]"),
        ({"teacher": 3}, "reading"),
    ]
    for value, field in bad:
        response = await post_ack(officer, token, release.number, reading=value)
        assert response.status_code == 400 and field in response.json()["details"], (value, response.text)
    assert await Acknowledgment.filter(release_id=release.id).count() == 0
    both = reading + elsewhere
    ack = await post_ack(officer, token, release.number, reading=both)
    assert ack.status_code == 201, ack.text
    row = await Acknowledgment.get(release_id=release.id)
    assert row.reading == sorted(both, key=lambda r: r["card_id"])
    assert row.row_hash == row_hash(chain_content(row, release.number))
    await Acknowledgment.filter(id=row.id).update(reading=[{**reading[0], "seconds": 4200}])
    assert (await verify_agency(row.agency_id)).broken is not None


async def test_a_replayed_ack_is_answered_even_after_the_rules_change(officer, app):
    release, questions = await publish_with_questions(1)
    token = await csrf_token(officer)
    await post_answers(officer, token, release.number, right(questions))
    key = str(uuid.uuid4())
    assert (await post_ack(officer, token, release.number, key)).status_code == 201
    await Agency.filter(slug="demo").update(require_open=True)
    again = await post_ack(officer, token, release.number, key)
    assert again.status_code == 200 and again.json()["uuid"] == key


async def test_the_changes_page_and_the_offline_copy_carry_the_questions(officer, app):
    release, questions = await publish_with_questions(2)
    page = (await officer.get("/changes")).text
    for q in questions:
        assert f'data-question="{q.hash}"' in page and escape(q.explanation) in page
    assert "data-check-required" in page
    sync = await officer.get("/api/v1/sync")
    changes = sync.json()["pages"]["/changes"]["main"]
    for q in questions:
        assert f'data-question="{q.hash}"' in changes and escape(q.passage) in changes
    # The device's copy holds no one's state: nothing says this officer answered.
    assert "data-check-done" not in changes


HIDDEN = re.compile(r'<input type="hidden" name="(tries\d|check_uuid|csrf_token)" value="([^"]*)">')


def check_fields(html: str) -> dict[str, str]:
    """The hidden fields of the check's form (the last csrf_token found is the form's own)."""
    section = html[html.index('id="check"'):]
    return dict(HIDDEN.findall(section))


async def test_without_javascript_the_check_is_a_form_that_shows_why_until_all_are_right(officer, app):
    release, questions = await publish_with_questions(2)
    page = (await officer.get("/changes")).text
    assert "answer the 2 questions in <a href=\"#check\">Check your understanding</a>" in page
    fields = check_fields(page)
    first, second = questions
    wrong = next(i for i in range(len(first.choices)) if i != first.answer)
    url = f"/releases/{release.number}/check"

    round_one = await officer.post(url, data={**fields, "q0": str(wrong), "q1": str(second.answer)})
    assert round_one.status_code == 200
    assert "1 of 2 answered right" in round_one.text and "Not quite" in round_one.text
    assert escape(first.explanation) in round_one.text and escape(first.passage) in round_one.text
    assert 'href="/cards/teacher"' in round_one.text
    kept = check_fields(round_one.text)
    assert kept["tries0"] == str(wrong) and kept["tries1"] == str(second.answer)
    assert await CheckAnswer.all().count() == 0

    bad = await officer.post(url, data={**kept, "q0": "9"})
    assert bad.status_code == 400 and "q0" in bad.text
    assert (await officer.post(url, data={**kept, "tries0": "x"})).status_code == 400
    assert await CheckAnswer.all().count() == 0

    done = await officer.post(url, data={**kept, "q0": str(first.answer)})
    assert done.status_code == 303 and done.headers["location"] == f"/releases/{release.number}/changes#check"
    rows = await CheckAnswer.filter(release_id=release.id).order_by("question__position")
    assert [r.tries for r in rows] == [[wrong, first.answer], [second.answer]]
    assert {r.uuid for r in rows} == {kept["check_uuid"]}
    shown = (await officer.get("/changes")).text
    assert "data-check-done" in shown and "your agency has your answers" in shown
    assert "Right, after 1 wrong answer." in shown and 'data-check-form' not in shown
    # The same last round again (a double tap): still one set of answers.
    assert (await officer.post(url, data={**kept, "q0": str(first.answer)})).status_code == 303
    assert await CheckAnswer.filter(release_id=release.id).count() == 2
    # And now the plain acknowledgment form goes through.
    ack = ack_form(shown)
    posted = await officer.post("/acks", data={**ack, "csrf_token": csrf_of(shown), "attest": "yes"})
    assert posted.status_code == 303
    row = await Acknowledgment.get(release_id=release.id)
    assert row.check_hash == answers_hash(rows) and row.reading is None


async def test_the_plain_ack_form_without_answers_is_refused_with_the_reason(officer, app):
    release, _ = await publish_with_questions(1)
    page = (await officer.get("/changes")).text
    posted = await officer.post("/acks", data={**ack_form(page), "csrf_token": csrf_of(page), "attest": "yes"})
    assert posted.status_code == 409 and "Answer the 1 question about release" in posted.text
    assert await Acknowledgment.filter(release_id=release.id).count() == 0


async def test_the_offline_copy_follows_the_agency_requirements_without_a_new_release(officer, app):
    release, _ = await publish_with_questions(1)
    before = (await officer.get("/api/v1/sync")).json()["pages"]["/changes"]["main"]
    assert 'data-check-required="yes"' in before and "data-open-required" not in before
    assert 'data-changed="teacher:' in before
    await Agency.filter(slug="demo").update(require_check=False, require_open=True)
    after = (await officer.get("/api/v1/sync")).json()["pages"]["/changes"]["main"]
    assert "data-open-required" in after and 'data-check-required="no"' in after
    assert 'data-need-card="teacher"' in after
