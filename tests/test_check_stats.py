"""The understanding check for supervisors: per-question numbers, the answers CSV, the evidence bundle, the officer page."""

from __future__ import annotations

import csv
import io
import json
import uuid
import zipfile

from server import clock
from server.acknowledgments.answers import record_answers
from server.acknowledgments.check_stats import check_stats
from server.acknowledgments.dashboard import release_status
from server.acknowledgments.ledger import record_ack
from server.guidance.releases import load_release
from server.models import Agency, Release, User

from .helpers.clients import client_as
from .helpers.queries import recorded_queries
from .helpers.questions import publish_with_questions


async def _answer(email: str, release: Release, questions, tries: list[list[int]]):
    user = await User.get(email=email, agency__slug="demo")
    body = {"uuid": str(uuid.uuid4()), "answers": [{"question": q.hash, "tries": t} for q, t in zip(questions, tries)]}
    return await record_answers(user, await load_release(release), body)


async def _two_answered(release, questions):
    """Officer 1: both right first time; officer 2 (another school): Q1 after two wrong tries, Q2 right."""
    await _answer("officer@demo.test", release, questions, [[0], [1]])
    await _answer("officer2@demo.test", release, questions, [[2, 1, 0], [1]])


async def test_per_question_numbers_names_and_the_school_filter(app):
    release, questions = await publish_with_questions(2)
    agency = await Agency.get(slug="demo")
    status = await release_status(agency.id, release.number, clock.now())
    empty = await check_stats(agency.id, status)
    assert empty.expected == 2
    assert [(q.answered, q.right_first_time, q.not_answered) for q in empty.questions] == [(0, 0, 2), (0, 0, 2)]
    assert {p.name for p in empty.questions[0].not_answered_people} == {"Officer Casey Rivera", "Officer Sam Okafor"}

    await _answer("officer@demo.test", release, questions, [[0], [1]])
    half = await check_stats(agency.id, status)
    assert [(q.answered, q.right_first_time, q.not_answered) for q in half.questions] == [(1, 1, 1), (1, 1, 1)]
    assert [p.name for p in half.questions[0].not_answered_people] == ["Officer Sam Okafor"]

    await _answer("officer2@demo.test", release, questions, [[2, 1, 0], [1]])
    full = await check_stats(agency.id, status)
    first, second = full.questions
    assert (first.answered, first.right_first_time, first.not_answered, first.percent_first_time) == (2, 1, 0, 50)
    assert [(p.name, p.tries) for p in first.several_tries] == [("Officer Sam Okafor", 3)]
    assert (second.right_first_time, second.several_tries) == (2, [])

    at_lincoln = await check_stats(agency.id, status, "Lincoln High School")
    assert at_lincoln.expected == 1
    assert [(q.answered, q.right_first_time, q.several_tries) for q in at_lincoln.questions] == [(1, 1, []), (1, 1, [])]

    # An answer by someone who does not count (a supervisor) is not in the numbers.
    await _answer("supervisor@demo.test", release, questions, [[1, 0], [1]])
    assert [q.answered for q in (await check_stats(agency.id, status)).questions] == [2, 2]


async def test_a_release_without_questions_has_no_stats_and_the_page_says_nothing(app):
    agency = await Agency.get(slug="demo")
    status = await release_status(agency.id, 1, clock.now())
    assert await check_stats(agency.id, status) is None
    async with client_as(app, "supervisor@demo.test") as sup:
        page = await sup.get("/supervisor/releases/1")
        assert page.status_code == 200 and "Understanding check" not in page.text
        answers = await sup.get("/supervisor/releases/1/answers.csv")
    assert answers.status_code == 200
    assert answers.text.splitlines()[0].startswith("user_id,name,email,school,counted,question")
    assert len(answers.text.splitlines()) == 1


async def test_the_release_page_shows_the_check_in_a_few_queries(app):
    release, questions = await publish_with_questions(3)
    await _answer("officer@demo.test", release, questions, [[0], [1], [1]])
    await _answer("officer2@demo.test", release, questions, [[2, 1, 0], [1], [1]])
    async with client_as(app, "supervisor@demo.test") as sup:
        page = await sup.get(f"/supervisor/releases/{release.number}")
        assert page.status_code == 200
        text = page.text
        assert "Understanding check" in text
        for q in questions:
            assert q.text in text
        assert "Who needed several tries (1)" in text and "Officer Sam Okafor</a> · Roosevelt Middle School · 3 tries" in text
        assert f'href="/supervisor/releases/{release.number}/answers.csv"' in text
        # More officers do not mean more queries: the numbers are grouped, the names limited.
        agency = await Agency.get(slug="demo")
        await User.create(agency=agency, email="extra@demo.test", name="Extra", role="officer")
        await sup.get(f"/supervisor/releases/{release.number}")
        with recorded_queries() as few:
            await sup.get(f"/supervisor/releases/{release.number}")
        for n in range(29):
            await User.create(agency=agency, email=f"extra{n}@demo.test", name=f"Extra {n}", role="officer")
        with recorded_queries() as many:
            again = await sup.get(f"/supervisor/releases/{release.number}")
        assert again.status_code == 200 and "Who has not answered (30)" in again.text
        # The check's own statements (the session's periodic touch and the like vary with time).
        def check_queries(statements):
            return [q for q in statements if "check_answer" in q or "release_question" in q]

        assert len(check_queries(many)) == len(check_queries(few)) == 3 + len(questions)
        assert "The first 25 are listed" in again.text


async def test_answers_csv_has_a_row_per_officer_and_question(app):
    release, questions = await publish_with_questions(2)
    await _two_answered(release, questions)
    await _answer("supervisor@demo.test", release, questions, [[0], [1]])
    async with client_as(app, "supervisor@demo.test") as sup, client_as(app, "officer@demo.test") as officer:
        response = await sup.get(f"/supervisor/releases/{release.number}/answers.csv")
        assert (await officer.get(f"/supervisor/releases/{release.number}/answers.csv")).status_code == 403
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    counted = [(r["email"], r["question"], r["answered"], r["right_first_time"], r["tries"], r["choices_picked"])
               for r in rows if r["counted"] == "yes"]
    assert counted == [
        ("officer@demo.test", "1", "yes", "yes", "1", "0"),
        ("officer@demo.test", "2", "yes", "yes", "1", "1"),
        ("officer2@demo.test", "1", "yes", "no", "3", "2 1 0"),
        ("officer2@demo.test", "2", "yes", "yes", "1", "1"),
    ]
    assert [r["email"] for r in rows if r["counted"] == "no"] == ["supervisor@demo.test"] * 2
    assert {r["question_hash"] for r in rows} == {q.hash for q in questions}
    assert all(r["uuid"] and r["received_at"] for r in rows)


async def test_an_unanswered_officer_is_a_row_with_no_answer(app):
    release, questions = await publish_with_questions(1)
    await _answer("officer@demo.test", release, questions, [[0]])
    async with client_as(app, "admin@demo.test") as admin:
        rows = list(csv.DictReader(io.StringIO((await admin.get(f"/supervisor/releases/{release.number}/answers.csv")).text)))
    missing = [r for r in rows if r["email"] == "officer2@demo.test"]
    assert len(missing) == 1
    assert (missing[0]["answered"], missing[0]["right_first_time"], missing[0]["tries"], missing[0]["uuid"]) == ("no", "", "", "")


async def test_the_evidence_bundle_holds_answers_questions_and_reading(app):
    release, questions = await publish_with_questions(2)
    await _two_answered(release, questions)
    view = await load_release(release)
    officer = await User.get(email="officer@demo.test")
    teacher = view.by_id["teacher"]
    reading = [{"card_id": "teacher", "hash": teacher["hash"], "seconds": 42}]
    await record_ack(officer, view, str(uuid.uuid4()), [c["hash"] for c in view.cards], reading=reading)
    async with client_as(app, "supervisor@demo.test") as sup:
        response = await sup.get(f"/supervisor/releases/{release.number}/evidence.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    files = {name.split("/", 1)[1]: archive.read(name).decode() for name in archive.namelist()}
    assert {"answers.csv", "questions.json"} <= set(files)
    asked = json.loads(files["questions.json"])
    assert asked["release"] == release.number
    assert [(q["text"], q["hash"]) for q in asked["questions"]] == [(q.text, q.hash) for q in questions]
    answers = list(csv.DictReader(io.StringIO(files["answers.csv"])))
    assert len([r for r in answers if r["counted"] == "yes"]) == 4
    acks = {r["email"]: r for r in csv.DictReader(io.StringIO(files["acks.csv"]))}
    assert json.loads(acks["officer@demo.test"]["reading"]) == reading
    assert acks["officer2@demo.test"]["reading"] == ""
    ledger = json.loads(files["ledger.json"])
    mine = [r for r in ledger["rows"] if r["user_id"] == officer.id]
    assert mine[-1]["reading"] == reading and mine[-1]["check_hash"]
    assert "answers.csv" in files["README.txt"] and "questions.json" in files["SHA256SUMS"]
    ledger_csv = list(csv.DictReader(io.StringIO(files["ledger.csv"])))
    assert json.loads(ledger_csv[-1]["reading"]) == reading


async def test_the_officer_page_shows_answers_and_cards_read(app):
    release, questions = await publish_with_questions(2)
    await _two_answered(release, questions)
    view = await load_release(release)
    sam = await User.get(email="officer2@demo.test")
    reading = [{"card_id": "teacher", "hash": view.by_id["teacher"]["hash"], "seconds": 75}]
    await record_ack(sam, view, str(uuid.uuid4()), [c["hash"] for c in view.cards], reading=reading)
    async with client_as(app, "supervisor@demo.test") as sup:
        page = await sup.get(f"/supervisor/officers/{sam.id}")
        casey = await User.get(email="officer@demo.test")
        other = await sup.get(f"/supervisor/officers/{casey.id}")
    assert page.status_code == 200
    assert "Q1: <strong>3 tries</strong>" in page.text and "Q2: right first time" in page.text
    assert "Cards opened: Teacher role (75 s)" in page.text
    assert "Q1: right first time" in other.text and "Cards opened" not in other.text
