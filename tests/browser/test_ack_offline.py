"""Acknowledging with no signal, in Chromium: the ack waits on the phone, survives a reload,
and reaches the server exactly once when the connection returns (page replay or Background Sync)."""

from __future__ import annotations

import time

import pytest

from server.models import Acknowledgment, User

from .conftest import sign_in, wait_offline_ready

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


def until(page, check, what: str, timeout: float = 20.0):
    """Poll `check` until it returns something truthy (with a timeout); the page's wait lets
    Playwright deliver events meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        page.wait_for_timeout(100)
    raise TimeoutError(f"waited {timeout} s for {what}")


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
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    scope = live_server.url + "/"
    registration = until(
        blank,
        lambda: next((r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"]), None),
        "the service worker registration",
    )
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
