"""The understanding check on the phone, in Chromium: a release with questions published, answered
with no signal (one wrong answer shows the explanation and the card's passage, then the officer tries
again), the changed card opened, the release acknowledged; back online the answers and the
acknowledgment reach the server exactly once, answers first, and the ledger holds check_hash."""

from __future__ import annotations

import pytest

from server.acknowledgments.answers import answers_hash
from server.acknowledgments.ledger import verify_agency
from server.models import Acknowledgment, Agency, CheckAnswer, User

from ..helpers.browser import PHONE, screenshot, sign_in, until, wait_offline_ready
from ..helpers.questions import publish_with_questions

pytestmark = pytest.mark.browser

EMAIL = "officer@demo.test"
STORED = """async (user) => ({
    answers: (await self.fieldguideDb.getAll("answers")).filter((r) => r.user === user)
        .map((r) => ({state: r.state, answers: r.answers})),
    acks: (await self.fieldguideDb.getAll("acks")).filter((r) => r.user === user).map((r) => r.state),
})"""


async def publish_and_require_opening() -> dict:
    """Release 2 with a major change to the teacher card and two questions; the agency requires opening."""
    release, questions = await publish_with_questions(2)
    await Agency.filter(slug="demo").update(require_open=True)
    return {
        "number": release.number,
        "questions": [
            {"hash": q.hash, "answer": q.answer, "choices": q.choices, "explanation": q.explanation,
             "passage": q.passage}
            for q in questions
        ],
    }


async def on_server(number: int) -> dict:
    """What the server holds for the officer and release `number`: answers, acknowledgments, the ledger."""
    user = await User.get(email=EMAIL)
    answers = await CheckAnswer.filter(user=user, release__number=number).order_by("question__position")
    acks = await Acknowledgment.filter(user=user, release__number=number)
    verified = await verify_agency(user.agency_id)
    return {
        "answers": [(a.question_hash, a.tries, a.right_first_time, a.uuid) for a in answers],
        "answers_hash": answers_hash(answers) if answers else None,
        "acks": [(a.uuid, a.check_hash, a.reading) for a in acks],
        "ledger_intact": verified.broken is None,
    }


def choose(page, index: int, choice: int) -> None:
    page.locator(f"#question-{index} input[value='{choice}']").click()


def test_answer_offline_with_a_wrong_try_then_acknowledge_and_both_arrive_once(phone, browser, live_server):
    release = live_server.run(publish_and_require_opening)
    number, questions = release["number"], release["questions"]
    page = phone.new_page()
    sign_in(page, live_server.url, EMAIL)
    wait_offline_ready(page, number)
    user = int(page.get_attribute('meta[name="fieldguide-user"]', "content"))

    phone.set_offline(True)
    page.goto(live_server.url + "/changes")
    assert page.locator("html").get_attribute("data-served") == "device"
    box = page.locator("#ack input[name=attest]")
    page.wait_for_function("() => document.querySelector('[data-ack-gate]').textContent !== ''")
    assert box.is_disabled()
    gate = page.inner_text("[data-ack-gate]")
    assert "answer the questions below" in gate and "open 1 more changed card" in gate
    assert page.locator("[data-need-card=teacher]").count() == 1
    page.locator("#ack").scroll_into_view_if_needed()
    screenshot(page, "check-ack-gate")

    first = questions[0]
    wrong = next(i for i in range(len(first["choices"])) if i != first["answer"])
    page.locator("#question-1").scroll_into_view_if_needed()
    assert page.is_hidden("#question-1 [data-why]")
    screenshot(page, "check-question")
    choose(page, 1, wrong)
    why = page.locator("#question-1 [data-why]")
    why.wait_for(state="visible")
    assert page.inner_text("#question-1 [data-verdict]").startswith("Not quite")
    assert first["explanation"] in why.inner_text()
    assert first["passage"] in why.inner_text()
    assert page.get_attribute("#question-1 .check-passage a", "href") == "/cards/teacher"
    assert page.locator(f"#question-1 input[value='{wrong}']").is_disabled()
    page.locator("#question-1").evaluate(
        "(item) => window.scrollTo(0, item.getBoundingClientRect().top + window.scrollY - 70)"
    )
    screenshot(page, "check-wrong-answer")
    assert box.is_disabled()

    choose(page, 1, first["answer"])
    page.wait_for_function("() => document.querySelector('#question-1').dataset.state === 'right'")
    assert page.inner_text("#question-1 [data-verdict]") == "Right, after 1 wrong answer."
    # With a keyboard: moving through the choices with the arrow keys is no answer; Space answers.
    second = questions[1]["answer"]
    page.focus(f"#question-2 input[value='{second}']")
    away, back = ("ArrowUp", "ArrowDown") if second == 1 else ("ArrowDown", "ArrowUp")
    page.keyboard.press(away)
    page.keyboard.press(back)
    assert page.get_attribute("#question-2", "data-state") == "open"
    page.keyboard.press("Space")
    page.wait_for_function("() => document.querySelector('#question-2').dataset.state === 'right'")
    assert page.inner_text("#question-2 [data-verdict]") == "Right first time."
    page.wait_for_function(
        "() => document.querySelector('[data-check-status]').textContent.includes('waiting to send')"
    )
    stored = page.evaluate(STORED, user)
    assert stored["answers"] == [{
        "state": "waiting",
        "answers": [
            {"question": first["hash"], "tries": [wrong, first["answer"]]},
            {"question": questions[1]["hash"], "tries": [questions[1]["answer"]]},
        ],
    }]
    # The check is done; the changed card is not opened yet.
    assert box.is_disabled() and page.inner_text("[data-ack-gate]") == "To tick the box: open 1 more changed card."

    # Open the changed card on this phone (offline: the device's copy), for a moment.
    page.click("[data-need-card=teacher]")
    page.wait_for_selector("article.card[data-card=teacher]")
    page.wait_for_timeout(2500)
    page.go_back()
    page.wait_for_function("() => !document.querySelector('#ack input[name=attest]').disabled")
    assert page.inner_text("[data-ack-gate]") == "Done. You can acknowledge now."
    # Leaving and coming back loses nothing: the answers are shown as given.
    page.reload()
    page.wait_for_function("() => document.querySelector('#question-1').dataset.state === 'right'")
    assert page.locator(f"#question-1 label.check-choice-wrong input[value='{wrong}']").count() == 1

    box.check()
    page.click("#ack button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('[data-ack-status]').textContent.startsWith('Acknowledgment waiting to send')"
    )
    assert page.evaluate(STORED, user)["acks"] == ["waiting"]
    nothing = live_server.run(on_server, number)
    assert nothing["answers"] == [] and nothing["acks"] == []

    phone.set_offline(False)
    page.wait_for_function(
        """() => document.querySelector("#ack h2").textContent.endsWith("acknowledged")
            && document.querySelector("[data-ack-status]").textContent.startsWith("Acknowledged ")"""
    )
    until(page, lambda: live_server.run(on_server, number)["acks"], "the acknowledgment on the server")
    page.reload()  # any second send, from the page or the worker, would land meanwhile
    page.wait_for_timeout(500)
    held = live_server.run(on_server, number)
    assert [a[:3] for a in held["answers"]] == [
        (first["hash"], [wrong, first["answer"]], False),
        (questions[1]["hash"], [questions[1]["answer"]], True),
    ]
    assert len({a[3] for a in held["answers"]}) == 1
    [(ack_uuid, check_hash, reading)] = held["acks"]
    assert check_hash == held["answers_hash"] and held["ledger_intact"]
    assert [r["card_id"] for r in reading] == ["teacher"] and reading[0]["seconds"] >= 1
    after = page.evaluate(STORED, user)
    assert [r["state"] for r in after["answers"]] == ["sent"] and after["acks"] == ["sent"]

    # Online, the server's page says the check is answered; offline, the device's copy says so too.
    assert "data-check-done" in page.content() or page.locator("[data-check-done]").count() == 1
    phone.set_offline(True)
    page.reload()
    assert page.locator("html").get_attribute("data-served") == "device"
    page.wait_for_function("() => document.querySelector('[data-check-status]').textContent.includes('Your agency has your answers')")
    assert page.inner_text("#ack h2") == f"Release {number} acknowledged"
    assert live_server.run(on_server, number)["acks"] == held["acks"]

    # The supervisor's release page shows who needed several tries, on their own device.
    desk = browser.new_context(viewport=PHONE)
    try:
        supervisor = desk.new_page()
        sign_in(supervisor, live_server.url, "supervisor@demo.test")
        supervisor.goto(f"{live_server.url}/supervisor/releases/{number}")
        stats = supervisor.locator("section.sv-check")
        stats.locator("summary", has_text="several tries").first.click()
        tried = stats.locator("li", has_text="Officer Casey Rivera").first
        assert "2 tries" in tried.inner_text()
        tried.scroll_into_view_if_needed()
        screenshot(supervisor, "check-supervisor")
    finally:
        desk.close()
