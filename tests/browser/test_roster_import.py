"""The roster import on a phone, without JavaScript: upload, a preview with wrong rows, the fixed file applied."""

from __future__ import annotations

import pytest

from ..helpers.browser import PHONE, screenshot, sign_in

pytestmark = pytest.mark.browser

WRONG = (
    "Email,Name,Role,School\n"
    "officer@demo.test,Officer Casey Rivera,officer,Jefferson High School\n"
    "dana.whitfield@example.org,Dana Whitfield,officer,Lincoln High School\n"
    "jordan.smith@example,Jordan Smith,officer,Roosevelt Middle School\n"
    "pat.kim@example.org,Pat Kim,deputy,Lincoln High School\n"
)
FIXED = (
    "Email,Name,Role,School\n"
    "officer@demo.test,Officer Casey Rivera,officer,Jefferson High School\n"
    "dana.whitfield@example.org,Dana Whitfield,officer,Lincoln High School\n"
    "jordan.smith@example.org,Jordan Smith,officer,Roosevelt Middle School\n"
    "pat.kim@example.org,Pat Kim,supervisor,\n"
)


@pytest.fixture
def admin(browser, live_server):
    """An admin's phone with JavaScript off: every step is a plain form."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, java_script_enabled=False)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, live_server.url, "admin@demo.test")
    yield page
    context.close()


def _upload(page, path, deactivate: bool = False) -> None:
    page.set_input_files("#roster-file", str(path))
    if deactivate:
        page.check("input[name=deactivate_missing]")
    with page.expect_navigation():
        page.click("text=Preview the import")


def test_an_admin_previews_fixes_and_applies_a_roster_on_a_phone(admin, live_server, tmp_path):
    page = admin
    page.goto(live_server.url + "/admin/users")
    assert page.locator("#roster-title").is_visible()
    wrong = tmp_path / "roster.csv"
    wrong.write_text(WRONG)
    _upload(page, wrong, deactivate=True)
    rows = page.locator(".roster-wrong li")
    assert rows.count() == 2
    assert "Line 4" in rows.nth(0).inner_text() and "Line 5" in rows.nth(1).inner_text()
    assert "email address" in rows.nth(0).inner_text() and "Unknown role 'deputy'" in rows.nth(1).inner_text()
    assert page.locator("form[action='/admin/users/roster/apply']").count() == 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the preview scrolls sideways on a phone"
    screenshot(page, "roster-preview-wrong-rows")

    fixed = tmp_path / "roster-fixed.csv"
    fixed.write_text(FIXED)
    _upload(page, fixed, deactivate=True)
    assert "0 wrong rows" in " ".join(page.locator(".roster-counts").inner_text().split())
    assert "Officer Sam Okafor" in page.locator("details.roster-group", has_text="To deactivate").inner_text()
    with page.expect_navigation():
        page.click("text=Apply:")
    assert page.locator("h1").inner_text() == "Roster imported"
    links = page.locator(".roster-links input")
    assert links.count() == 3
    assert links.nth(0).input_value().startswith(live_server.url + "/invite/")

    page.goto(live_server.url + "/admin/users")
    people = page.locator(".people-list").inner_text()
    assert "Pat Kim" in people and "Dana Whitfield" in people


def test_a_50_mb_file_gets_a_page_saying_it_is_too_large(admin, live_server, tmp_path):
    page = admin
    big = tmp_path / "huge.csv"
    with big.open("wb") as out:
        out.write(b"email,name,role,school\n" + b"x@example.org,X,officer,\n" * (50 * 1024 * 1024 // 25))
    page.goto(live_server.url + "/admin/users")
    _upload(page, big)
    assert "too large" in page.locator("main").inner_text()
    page.goto(live_server.url + "/admin/users")
    assert "x@example.org" not in page.locator(".people-list").inner_text()
