"""Policy revision in Chromium: an admin edits, a second admin approves and publishes, an officer sees it."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from server.guidance.content import load_content
from server.guidance.releases import sync_base_content
from server.settings import ROOT

from ..helpers.browser import PHONE, sign_in, wait_offline_ready
from ..helpers.releases import publish_revision

pytestmark = pytest.mark.browser

OLD = "Follow your agency's policy on the appropriate use of physical restraint."
NEW = "Follow your agency's written policy on the appropriate use of physical restraint, and note each use in your report."
TAP_TARGETS = (
    "main button, main select, main input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
    "main .choice-option, main .small-button, main .big-button, main summary, main .edit-link, main .back-link"
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
    """Phone-usable and screen-reader friendly: 48px targets and no axe violations."""
    assert page.evaluate(SMALL_TARGETS, TAP_TARGETS) == [], name
    results = Axe().run(page)
    problems = [(v["id"], v["help"], len(v["nodes"])) for v in results.response["violations"]]
    assert problems == [], (name, problems)


def test_edit_review_publish_and_the_officer_sees_what_changed(browser, live_server, phone):
    url = live_server.url
    officer = phone.new_page()
    sign_in(officer, url, "officer@demo.test")
    wait_offline_ready(officer, 1)

    author_context, reviewer_context = _context(browser), _context(browser)
    try:
        author = author_context.new_page()
        sign_in(author, url, "admin@demo.test")
        author.goto(url + "/admin")
        _check_page(author, "admin dashboard")
        author.click("text=Start a revision")
        author.wait_for_url("**/admin/drafts/*")
        draft_url = author.url
        _check_page(author, "draft page")

        author.click("#card-restraint-devices a.edit-link")
        author.wait_for_url("**/cards/restraint-devices")
        body = author.input_value("#f-body")
        assert OLD in body
        author.fill("#f-body", body.replace(OLD, NEW))
        # The live preview (editor.js) renders the new text on the server, sanitized.
        author.wait_for_function(
            "text => document.getElementById('preview').textContent.includes(text)", arg="note each use in your report"
        )
        assert author.locator("#preview h2").all_inner_texts()[:3] == ["Do", "Don't", "Why"]
        _check_page(author, "card editor")
        author.click("button[value=save]")
        author.wait_for_url(draft_url + "?saved=restraint-devices*")
        assert "major change" in author.inner_text("section.change")
        assert author.locator("main ins", has_text="written").count() >= 1

        author.fill("#summary", "Restraint: write down each use.")
        author.click("text=Save summary and date")
        author.wait_for_url("**?done=details*")
        author.click("text=Submit for review")
        author.wait_for_url("**?done=submit")
        assert "You worked on this draft, so another admin must approve it." in author.inner_text("#review")

        reviewer = reviewer_context.new_page()
        sign_in(reviewer, url, "admin2@demo.test")
        reviewer.goto(url + "/admin")
        reviewer.click("text=Open the draft")
        reviewer.wait_for_url(draft_url)
        assert "Waiting for review" in reviewer.inner_text("h1")
        reviewer.click("#review button:has-text('Approve')")
        reviewer.wait_for_url("**?done=approve")
        reviewer.click("text=Publish release 2")
        reviewer.wait_for_url("**/admin/releases?published=2")
        assert "Release 2 is published" in reviewer.inner_text("main")
        assert "Approved by" in reviewer.inner_text(".release-item")
        _check_page(reviewer, "release history")
    finally:
        author_context.close()
        reviewer_context.close()

    # The officer's phone learns of release 2 at its next check and says so.
    officer.evaluate("window.fieldguide.sync('test')")
    banner = officer.locator("#update-banner")
    banner.wait_for(state="visible")
    assert "Guidance updated to release 2 — see what changed" in banner.inner_text()
    banner.locator("a", has_text="see what changed").click()
    officer.wait_for_url("**/changes?to=2&from=1")
    assert "What changed in release 2" in officer.inner_text("h1")
    change = officer.locator("section.change", has_text="Handcuffs and restraint devices")
    assert "major change" in change.inner_text()
    inserted = " ".join(change.locator("ins").all_inner_texts())
    assert "written" in inserted and "note each use in your report" in inserted
    # Screen readers hear the redline as words, not colours.
    assert "[added: " in change.locator("ins").first.text_content()
    _check_page(officer, "what changed")

    # The reworded line is the agency's now: labelled in the card, and listed with its release
    # under "Where the statement says this", offline too; the NASRO lines keep their passages.
    officer.evaluate("window.fieldguide.sync('test')")
    officer.wait_for_function(
        "async () => (await self.fieldguideDb.get('meta', 'release'))?.number === 2", timeout=20_000
    )
    officer.context.set_offline(True)
    try:
        officer.goto(url + "/cards/restraint-devices")
        line = officer.locator(".card-body li", has_text="note each use in your report")
        assert line.locator(".agency-line").inner_text() == "Your agency's policy"
        assert officer.locator(".card-body .agency-line").count() == 1
        officer.click("#statement-sources summary")
        mine = officer.locator(".source-group.is-agency li", has_text="note each use in your report")
        assert mine.inner_text().endswith("(added in release 2)")
        nasro = officer.locator(".source-group", has_text="Avoid restraint and seclusion to the greatest extent")
        assert "restraint and seclusion should be avoided" in nasro.locator(".source-passage").first.inner_text()
        _check_page(officer, "card with its statement passages")
    finally:
        officer.context.set_offline(False)


async def _agency_edit_then_nasro_update() -> None:
    """The agency reworded a card; then a new app version ships NASRO's own change to it."""
    await publish_revision(edits={"de-escalation": {"body": ("Use the techniques", "Use only the techniques")}})
    content = load_content(ROOT / "content")
    card = next(c for c in content.cards if c["id"] == "de-escalation")
    card["body"] = card["body"].replace("Lean on relationships", "Lean first on relationships")
    assert await sync_base_content(content) == ["de-escalation"]


def test_a_nasro_update_conflict_is_resolved_side_by_side_on_a_phone(browser, live_server, phone):
    live_server.run(_agency_edit_then_nasro_update)
    admin = phone.new_page()
    sign_in(admin, live_server.url, "admin@demo.test")
    admin.goto(live_server.url + "/admin")
    updates = admin.locator(".base-updates")
    assert "NASRO base guidance updated" in updates.inner_text()
    assert "You edited it too" in updates.inner_text()
    _check_page(admin, "dashboard with a NASRO update")
    admin.click("text=Compare and resolve")
    admin.wait_for_url("**/admin/base-updates/de-escalation")
    sides = admin.locator(".side")
    assert "Use only the techniques" in sides.nth(0).inner_text()
    assert "Lean first on relationships" in sides.nth(1).inner_text()
    # On a phone the two versions stack: each uses the full width instead of two cramped columns.
    first, second = sides.nth(0).bounding_box(), sides.nth(1).bounding_box()
    assert second["y"] >= first["y"] + first["height"] and first["width"] > PHONE["width"] * 0.8
    _check_page(admin, "side by side")
    admin.click("text=Keep your agency's version")
    admin.wait_for_url("**/admin/drafts/*")
    assert "NASRO's update is marked as seen" in admin.inner_text("main")
