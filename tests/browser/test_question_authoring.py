"""Writing an understanding check in Chromium at phone size: the form, its refusals, review and the supervisor's view.

The question form is a plain form post (tests/test_questions.py sends it without any script).
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from ..helpers.browser import PHONE, screenshot, sign_in

pytestmark = pytest.mark.browser

OLD = "Check how your MOU defines your teacher role."
NEW = "Check how your MOU defines your teacher role, and ask your supervisor about any class."
TAP_TARGETS = (
    "main button, main select, main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
    "main .choice-option, main .small-button, main .big-button, main summary, main .back-link"
)
SMALL_TARGETS = """(selector) => [...document.querySelectorAll(selector)]
    .filter((el) => el.offsetParent !== null)
    .map((el) => [el.outerHTML.slice(0, 80), el.getBoundingClientRect().height])
    .filter(([, height]) => height < 48)"""


def _context(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    return context


def _check_page(page, name: str) -> None:
    """Phone-usable and screen-reader friendly: 48px targets, nothing wider than the screen, no axe violations."""
    assert page.evaluate(SMALL_TARGETS, TAP_TARGETS) == [], name
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
    results = Axe().run(page)
    problems = [(v["id"], v["help"], len(v["nodes"])) for v in results.response["violations"]]
    assert problems == [], (name, problems)


def test_an_admin_writes_a_question_and_supervisors_see_it(browser, live_server):
    url = live_server.url
    author_context, reviewer_context = _context(browser), _context(browser)
    try:
        author = author_context.new_page()
        sign_in(author, url, "admin@demo.test")
        author.goto(url + "/admin")
        author.click("text=Start a revision")
        author.wait_for_url("**/admin/drafts/*")
        draft_url = author.url.split("?")[0]
        assert "edit or add a card first" in author.inner_text("#questions")

        author.goto(draft_url + "/cards/teacher")
        author.fill("#f-body", author.input_value("#f-body").replace(OLD, NEW))
        author.check("input[name=change_class][value=major]")
        author.click("button[value=save]")
        author.wait_for_url("**?saved=teacher*")

        author.click("#questions >> text=Add a question")
        author.wait_for_url("**/questions/new")
        author.select_option("#q-card", "teacher")
        author.fill("#q-text", "Who do you ask about a class you are asked to teach?")
        author.fill("#q-choice-0", "The school principal only")
        author.fill("#q-choice-1", "Your supervisor")
        author.check("#q-answer-1")
        author.fill("#q-explanation", "The card says to ask your supervisor about any class.")
        author.fill("#q-passage", "ask your principal about any class")
        author.click("main button[type=submit]")
        # Refused, with everything typed kept and a link to the field at fault.
        alert = author.locator("#form-error")
        assert "must be words of “Teacher role”" in alert.inner_text()
        assert author.input_value("#q-text") == "Who do you ask about a class you are asked to teach?"
        assert author.is_checked("#q-answer-1")
        assert author.get_attribute("#q-passage", "aria-invalid") == "true"
        _check_page(author, "question form with an error")
        screenshot(author, "question-form-error")

        author.fill("#q-passage", "Ask your  supervisor about any class")
        author.click("main button[type=submit]")
        author.wait_for_url("**?done=question*")
        questions = author.locator("#questions")
        assert "Who do you ask about a class you are asked to teach?" in questions.inner_text()
        assert "Officers answer this question before they can acknowledge the release" in questions.inner_text()
        _check_page(author, "draft page with a question")
        screenshot(author, "draft-with-question")

        author.fill("#summary", "Teaching: ask your supervisor.")
        author.click("text=Save summary and date")
        author.wait_for_url("**?done=details*")
        author.click("text=Submit for review")
        author.wait_for_url("**?done=submit")

        reviewer = reviewer_context.new_page()
        sign_in(reviewer, url, "admin2@demo.test")
        reviewer.goto(draft_url)
        review = reviewer.locator("#questions")
        assert "Your supervisor Right answer" in " ".join(review.inner_text().split())
        assert review.locator("text=Edit").count() == 0  # a reviewer reviews; only a draft is edited
        reviewer.click("#review button:has-text('Approve')")
        reviewer.wait_for_url("**?done=approve")
        reviewer.click("text=Publish release 2")
        reviewer.wait_for_url("**/admin/releases?published=2")

        supervisor = reviewer_context.new_page()
        supervisor.goto(url + "/supervisor/releases/2")
        check = supervisor.locator("#check")
        assert "Q1. Who do you ask about a class you are asked to teach?" in check.inner_text()
        check.locator("summary", has_text="Who has not answered (2)").click()
        assert "Officer Casey Rivera" in check.inner_text() and "Officer Sam Okafor" in check.inner_text()
        _check_page(supervisor, "supervisor release page with the check")
        screenshot(supervisor, "supervisor-check")

        settings = reviewer_context.new_page()
        settings.goto(url + "/admin/attestation")
        assert settings.is_checked("#require_check") and not settings.is_checked("#require_open")
        _check_page(settings, "acknowledgment settings")
    finally:
        author_context.close()
        reviewer_context.close()
