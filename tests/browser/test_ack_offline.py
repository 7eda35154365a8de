"""Acknowledging with no signal, in Chromium: the ack waits on the phone, survives a reload,
and reaches the server exactly once when the connection returns (page replay or Background Sync)."""

from __future__ import annotations

import uuid

import pytest

from server.models import Acknowledgment, User

from ..helpers.browser import (
    screenshot,
    sign_in,
    until,
    wait_offline_ready,
    worker_registration,
)
from ..helpers.releases import publish_revision

pytestmark = pytest.mark.browser

QUEUED = """async (user) => (await self.fieldguideDb.getAll("acks"))
    .filter((r) => r.user === user).map((r) => ({release: r.release, state: r.state}))"""


def acks_on_server(server, email: str) -> list[tuple[int, str, str | None]]:
    """(release number, uuid, device id) of every acknowledgment the server holds for a person."""

    async def read():
        user = await User.get(email=email)
        rows = await Acknowledgment.filter(user=user).prefetch_related("release")
        return [(row.release.number, row.uuid, row.device_id) for row in rows]

    return server.run(read)


def acknowledge_offline(page, phone, server) -> int:
    """Open what changed online, lose the signal, tick and acknowledge; returns the user id."""
    page.goto(server.url + "/changes")
    user = int(page.get_attribute('meta[name="fieldguide-user"]', "content"))
    phone.set_offline(True)
    page.check("#ack input[name=attest]")
    page.click("#ack button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('[data-ack-status]').textContent.startsWith('Acknowledgment waiting to send')"
    )
    assert page.is_hidden("[data-ack-form]")
    return user


def test_an_offline_ack_waits_through_a_reload_and_is_sent_once_online(phone, live_server):
    page = phone.new_page()
    sign_in(page, live_server.url, "officer@demo.test")
    wait_offline_ready(page, 1)
    user = acknowledge_offline(page, phone, live_server)

    page.reload()  # no signal: the service worker answers
    assert page.locator("html").get_attribute("data-served") == "device"
    assert page.inner_text("#ack-waiting") == "1 acknowledgment waiting to send"
    assert page.evaluate(QUEUED, user) == [{"release": 1, "state": "waiting"}]
    assert acks_on_server(live_server, "officer@demo.test") == []

    phone.set_offline(False)
    page.wait_for_selector("#ack-waiting", state="hidden")
    assert page.evaluate(QUEUED, user) == [{"release": 1, "state": "sent"}]
    sent = until(page, lambda: acks_on_server(live_server, "officer@demo.test"), "the acknowledgment on the server")
    assert len(sent) == 1 and sent[0][0] == 1
    # Made by the device that syncs the guidance: the same id its syncs report.
    assert sent[0][2] == page.evaluate('() => self.fieldguideDb.get("meta", "device_id")')

    page.goto(live_server.url + "/changes")
    assert page.inner_text("#ack h2") == "Release 1 acknowledged"
    assert page.inner_text("[data-ack-status]").startswith("Acknowledged ")
    page.reload()
    page.wait_for_timeout(500)  # any replay still running would show here
    assert len(acks_on_server(live_server, "officer@demo.test")) == 1


def test_background_sync_sends_the_ack_with_no_page_open(phone, live_server):
    page = phone.new_page()
    sign_in(page, live_server.url, "officer2@demo.test")
    wait_offline_ready(page, 1)
    user = acknowledge_offline(page, phone, live_server)
    page.close()  # nothing on the page side can send it now

    blank = phone.new_page()  # outside the app: no page script runs
    cdp = phone.new_cdp_session(blank)
    registration = worker_registration(blank, cdp, live_server.url)
    assert acks_on_server(live_server, "officer2@demo.test") == []
    phone.set_offline(False)
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {"origin": live_server.url, "registrationId": registration["registrationId"], "tag": "acks", "lastChance": False},
    )
    sent = until(blank, lambda: acks_on_server(live_server, "officer2@demo.test"), "the acknowledgment sent by the worker")
    assert len(sent) == 1 and sent[0][0] == 1

    page = phone.new_page()
    page.goto(live_server.url + "/changes")
    assert page.inner_text("#ack h2") == "Release 1 acknowledged"
    until(page, lambda: page.evaluate(QUEUED, user) == [{"release": 1, "state": "sent"}], "the record marked sent")
    assert page.is_hidden("#ack-waiting") or page.locator("#ack-waiting").count() == 0


async def publish_restraint_wording() -> int:
    """The next release of the demo agency, with one sentence of the restraint card reworded."""
    release = await publish_revision(
        edits={"restraint-devices": {"body": ("your agency's policy on the appropriate use", "your agency's written policy on the appropriate use")}},
        summary="Restraint wording.",
        changes={"restraint-devices": "major"},
    )
    return release.number


def shows_device_copy_of_changes(page, number: int) -> None:
    """The page is the device's own copy of what changed in release `number`, redline and all."""
    assert page.locator("html").get_attribute("data-served") == "device"
    assert page.inner_text("main h1") == f"What changed in release {number}"
    assert f"compared with release {number - 1}" in page.inner_text(".release-meta")
    added = page.locator("#chg-restraint-devices ~ .redline ins", has_text="written")
    assert added.first.is_visible()


def shows_acknowledged(page, number: int) -> None:
    """Wait until the ack panel says release `number` is acknowledged (ack-queue.js fills a device's copy)."""
    page.wait_for_function(
        """(heading) => document.querySelector("#ack h2").textContent === heading
            && document.querySelector("[data-ack-status]").textContent.startsWith("Acknowledged ")""",
        arg=f"Release {number} acknowledged",
    )
    assert page.is_hidden("[data-ack-form]")


# Publishes a release: last in this module, so the tests above acknowledge release 1.
def test_what_changed_opens_offline_and_its_ack_is_sent_once_online(phone, live_server):
    number = live_server.run(publish_restraint_wording)
    page = phone.new_page()
    sign_in(page, live_server.url, "officer@demo.test")
    wait_offline_ready(page, number)
    user = int(page.get_attribute('meta[name="fieldguide-user"]', "content"))
    phone.set_offline(True)

    for path in [f"/releases/{number}/changes", f"/changes?to={number}&from={number - 1}", "/changes"]:
        page.goto(live_server.url + path)
        shows_device_copy_of_changes(page, number)
    screenshot(page, "offline-changes-top")
    # The changed card's heading just under the sticky top bar.
    page.locator("#chg-restraint-devices").evaluate(
        "(heading) => window.scrollTo(0, heading.getBoundingClientRect().top + window.scrollY - 80)"
    )
    screenshot(page, "offline-changes-redline")
    page.goto(f"{live_server.url}/changes?to={number}&from=0")  # not the page this phone keeps
    assert page.inner_text("main h1") == "You're offline"

    page.goto(live_server.url + "/changes")
    page.wait_for_function("() => document.querySelector('#ack [name=uuid]').value !== ''")
    key = page.input_value("#ack [name=uuid]")
    assert uuid.UUID(key) and page.input_value("#ack [name=csrf_token]")
    assert page.inner_text("#ack h2") == f"Acknowledge release {number}"
    page.check("#ack input[name=attest]")
    page.click("#ack button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('[data-ack-status]').textContent.startsWith('Acknowledgment waiting to send')"
    )
    assert page.is_hidden("[data-ack-form]")
    screenshot(page, "offline-changes-waiting")
    assert not [a for a in acks_on_server(live_server, "officer@demo.test") if a[0] == number]

    phone.set_offline(False)
    shows_acknowledged(page, number)
    page.wait_for_timeout(500)  # a second send, if any, would land meanwhile
    sent = [a for a in acks_on_server(live_server, "officer@demo.test") if a[0] == number]
    assert [a[1] for a in sent] == [key]

    # Offline again, the device's copy says what this device holds: acknowledged.
    phone.set_offline(True)
    page.reload()
    assert page.locator("html").get_attribute("data-served") == "device"
    shows_acknowledged(page, number)
    screenshot(page, "offline-changes-acknowledged")

    # Acknowledged where this device did not see it: the server's answer on an online page is kept.
    page.evaluate("async () => { for (const r of await self.fieldguideDb.getAll('acks')) await self.fieldguideDb.del('acks', r.uuid); }")
    phone.set_offline(False)
    page.goto(live_server.url + "/changes")
    assert page.locator("html").get_attribute("data-served") is None
    until(page, lambda: page.evaluate(QUEUED, user) == [{"release": number, "state": "sent"}], "the server's answer kept")
    phone.set_offline(True)
    page.reload()
    assert page.locator("html").get_attribute("data-served") == "device"
    shows_acknowledged(page, number)
    assert len([a for a in acks_on_server(live_server, "officer@demo.test") if a[0] == number]) == 1
