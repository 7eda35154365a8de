"""Email on a phone with JavaScript off: the channels on /alerts and the email choice, and the
supervisor's ladder with each officer's email, on a live server sending to a real SMTP server."""

from __future__ import annotations

import shutil

import pytest

from server.mail.config import Mail

from ..helpers.browser import PHONE, screenshot, sign_in, start_server, until
from ..helpers.database import TEMPLATE_DB
from ..helpers.releases import publish_revision
from ..helpers.smtp import SmtpServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer()
    server.refuse_always["officer2@demo.test"] = "550 5.1.1 no such mailbox"
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory, template_dir, smtp):
    """The app with email set up, sending to the test SMTP server."""
    data_dir = tmp_path_factory.mktemp("live-mail")
    shutil.copy(template_dir / TEMPLATE_DB, data_dir / TEMPLATE_DB)
    server = start_server(data_dir, {
        "FIELDGUIDE_SMTP_URL": smtp.url,
        "FIELDGUIDE_MAIL_FROM": "Field Guide <guide@demo.test>",
        "FIELDGUIDE_PUSH_POLL_MS": "100",
    })
    yield server
    server.stop()


@pytest.fixture
def no_js(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, java_script_enabled=False)
    context.set_default_timeout(15_000)
    yield context
    context.close()


def test_an_officer_sees_the_channels_and_turns_optional_email_off_without_javascript(no_js, mail_server):
    page = no_js.new_page()
    sign_in(page, mail_server.url)
    page.goto(mail_server.url + "/alerts")
    channels = page.locator("[data-channel=email]").inner_text()
    assert "To officer@demo.test" in channels and "releases that need no acknowledgment" in channels
    assert "Off on every device" in page.locator("[data-channel=push]").inner_text()
    assert page.locator("input[name=optional][value=yes]").is_checked()
    screenshot(page, "email-alerts-channels")
    page.check("input[name=optional][value=no]")
    with page.expect_navigation():
        page.click("text=Save email choice")
    assert "no more email about releases that need no acknowledgment" in page.locator("#email [role=status]").inner_text()
    assert page.locator("input[name=optional][value=no]").is_checked()
    assert "releases that need no acknowledgment" not in page.locator("[data-channel=email]").inner_text()
    # The page fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_supervisor_sees_who_was_emailed_and_whose_email_failed(no_js, mail_server, smtp):
    release = mail_server.run(publish_revision, touch="teacher", mail=Mail(mail_server.url),
                              summary="Teacher role: when to step back.")
    page = no_js.new_page()
    until(page, lambda: smtp.to("officer@demo.test"), "the email to arrive")
    sign_in(page, mail_server.url, "supervisor@demo.test")

    def ladder() -> dict[str, str]:
        page.goto(f"{mail_server.url}/supervisor/releases/{release.number}?status=all")
        return {
            page.locator("[data-email]").nth(i).evaluate("e => e.closest('tr').querySelector('a').textContent"):
            page.locator("[data-email]").nth(i).get_attribute("data-email")
            for i in range(page.locator("[data-email]").count())
        }

    until(page, lambda: ladder() == {"Officer Casey Rivera": "sent", "Officer Sam Okafor": "failed"}, "the ladder")
    assert "Email failed: 550 5.1.1 no such mailbox" in page.content()
    page.locator("[data-email=sent]").scroll_into_view_if_needed()
    screenshot(page, "email-ladder")
    with page.expect_navigation():
        page.click("form.sv-remind button")
    assert "2 by email" in page.locator("[data-reminded]").inner_text()
