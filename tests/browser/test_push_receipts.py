"""Receipts from the phone, in Chromium: the real service worker gets a push (the DevTools
protocol's ServiceWorker.deliverPushMessage), shows the notice and reports it to the server;
offline the receipt waits in IndexedDB and arrives exactly once after reconnecting (the page's
replay on `online`, or Background Sync with no page open)."""

from __future__ import annotations

import json

import pytest

from server.models import PushReceipt, User

from ..helpers.browser import (
    poll,
    sign_in,
    until,
    wait_offline_ready,
    worker_registration,
)

pytestmark = pytest.mark.browser

WAITING = """async () => (await self.fieldguideDb.getAll("receipts"))
    .map((r) => ({release: r.release, kind: r.kind, uuid: r.uuid}))"""
NOTIFICATIONS = "async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.title)"


def receipts_on_server(server, email: str) -> list[dict]:
    async def read():
        user = await User.get(email=email)
        return await PushReceipt.filter(user=user).values("release__number", "kind", "device_id", "uuid", "shown_at")

    return server.run(read)


def ready_phone(phone, server, email: str):
    """A signed-in page whose worker holds release 1 and the session's token (kept with alerts allowed)."""
    phone.grant_permissions(["notifications"], origin=server.url)
    page = phone.new_page()
    sign_in(page, server.url, email)
    wait_offline_ready(page, 1)
    poll(page, 'async () => Boolean(await self.fieldguideDb.get("meta", "csrf_token"))')
    return page


def deliver(phone, page, server, kind: str = "release") -> None:
    """A push about release 1 to the real service worker, as a push service would deliver it."""
    cdp = phone.new_cdp_session(page)
    registration = worker_registration(page, cdp, server.url)
    payload = {
        "v": 1,
        "kind": kind,
        "agency": "Demo Police Department",
        "release": 1,
        "title": "Demo Police Department: guidance updated",
        "body": "Release 1: The first guidance.",
        "url": "/changes?to=1",
        "tag": "guidance",
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": server.url, "registrationId": registration["registrationId"], "data": json.dumps(payload)},
    )


def device_id(page) -> str:
    return page.evaluate('() => self.fieldguideDb.get("meta", "device_id")')


def test_a_notice_shown_online_is_reported_at_once(phone, live_server):
    page = ready_phone(phone, live_server, "officer@demo.test")
    assert receipts_on_server(live_server, "officer@demo.test") == []
    deliver(phone, page, live_server)
    until(page, lambda: page.evaluate(NOTIFICATIONS), what="the notification")
    (receipt,) = until(page, lambda: receipts_on_server(live_server, "officer@demo.test"), what="the receipt on the server")
    assert receipt["release__number"] == 1 and receipt["kind"] == "release"
    assert receipt["device_id"] == device_id(page)  # the id this device's syncs report
    assert receipt["shown_at"] is not None
    assert page.evaluate(WAITING) == []


def test_a_notice_shown_offline_waits_and_arrives_once_after_reconnecting(phone, live_server):
    page = ready_phone(phone, live_server, "officer2@demo.test")
    phone.set_offline(True)
    deliver(phone, page, live_server, kind="reminder")
    # Offline, Chromium may start the worker for the push event more slowly (the DevTools offline
    # emulation attaches to the woken worker first): a longer wait, not a weaker check.
    until(page, lambda: page.evaluate(NOTIFICATIONS), what="the notification shown offline", timeout=45.0)
    (waiting,) = until(page, lambda: page.evaluate(WAITING), what="the receipt queued on the phone")
    assert waiting["release"] == 1 and waiting["kind"] == "reminder"
    assert receipts_on_server(live_server, "officer2@demo.test") == []

    phone.set_offline(False)  # the page hears "online" and asks the worker to send what waits
    (receipt,) = until(page, lambda: receipts_on_server(live_server, "officer2@demo.test"), what="the receipt after reconnecting")
    assert receipt["uuid"] == waiting["uuid"] and receipt["kind"] == "reminder"
    assert receipt["device_id"] == device_id(page)
    until(page, lambda: page.evaluate(WAITING) == [], what="the queue emptied")

    page.reload()  # an app start replays too: nothing is left to send twice
    wait_offline_ready(page, 1)
    page.wait_for_timeout(500)  # any replay still running would show here
    assert len(receipts_on_server(live_server, "officer2@demo.test")) == 1


def test_background_sync_sends_a_waiting_receipt_with_no_page_open(phone, live_server):
    page = ready_phone(phone, live_server, "supervisor@demo.test")
    phone.set_offline(True)
    deliver(phone, page, live_server)
    (waiting,) = until(page, lambda: page.evaluate(WAITING), what="the receipt queued on the phone")
    page.close()  # no page script can send it now

    blank = phone.new_page()  # outside the app
    cdp = phone.new_cdp_session(blank)
    registration = worker_registration(blank, cdp, live_server.url)
    phone.set_offline(False)
    assert receipts_on_server(live_server, "supervisor@demo.test") == []
    cdp.send(
        "ServiceWorker.dispatchSyncEvent",
        {"origin": live_server.url, "registrationId": registration["registrationId"], "tag": "receipts", "lastChance": False},
    )
    (receipt,) = until(blank, lambda: receipts_on_server(live_server, "supervisor@demo.test"), what="the receipt sent by the worker")
    assert receipt["uuid"] == waiting["uuid"]
