"""Web Push in Chromium: the opt-in button, delivery to a push-service stand-in, and the service
worker's notice and tap.

Headless Chromium cannot get a real subscription here (it has no push service), so the opt-in
test replaces PushManager.subscribe/getSubscription with an init script that returns a
subscription whose endpoint is the stand-in and whose keys this test holds; everything after
that (the page's POST, the server's outbox and worker, encryption, VAPID) is real, and the
stand-in decrypts what arrives. The worker test fires the real `push` event with the DevTools
protocol (ServiceWorker.deliverPushMessage). A system notification cannot be clicked from
Playwright, so the tap is the worker's own notificationclick handler run on the real
Notification object (a NotificationEvent dispatched in the worker).
"""

from __future__ import annotations

import json
import shutil

import pytest

from server.models import PushSubscription
from server.push.vapid import VapidSigner, b64url_decode
from server.settings import Settings

from ..helpers.browser import (
    PHONE,
    sign_in,
    start_server,
    until,
    wait_offline_ready,
    worker_registration,
)
from ..helpers.database import TEMPLATE_DB
from ..helpers.push_service import PushService
from ..helpers.releases import publish_revision

pytestmark = pytest.mark.browser

STATE = "[data-push-state]"
# Stands in for the browser's push service client: subscribe returns the stand-in's subscription.
FAKE_PUSH = """
(() => {
  const SUBSCRIPTION = %s;
  const STORE = "test-push-subscription";
  const fake = (json, key) => ({
    endpoint: json.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: key },
    toJSON: () => json,
    unsubscribe: async () => { localStorage.removeItem(STORE); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    localStorage.setItem(STORE, JSON.stringify({ json: SUBSCRIPTION, key: Array.from(key) }));
    localStorage.setItem("test-push-subscribe-calls", String(Number(localStorage.getItem("test-push-subscribe-calls") || 0) + 1));
    return fake(SUBSCRIPTION, key.buffer);
  };
  PushManager.prototype.getSubscription = async function () {
    const saved = JSON.parse(localStorage.getItem(STORE) || "null");
    return saved ? fake(saved.json, Uint8Array.from(saved.key).buffer) : null;
  };
})();
"""
NOTIFICATIONS = """async () => (await (await navigator.serviceWorker.ready).getNotifications())
    .map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url }))"""


@pytest.fixture(scope="module")
def push_live(tmp_path_factory, template_dir):
    """The app in a subprocess that accepts the stand-in's loopback endpoints, and the stand-in."""
    data_dir = tmp_path_factory.mktemp("push-live")
    shutil.copy(template_dir / TEMPLATE_DB, data_dir / TEMPLATE_DB)
    server = start_server(data_dir, {"FIELDGUIDE_PUSH_EXTRA_HOSTS": "127.0.0.1", "FIELDGUIDE_PUSH_POLL_MS": "100"})
    stand_in = PushService(vapid_key=VapidSigner.from_settings(Settings(data_dir=data_dir)).public_key).start()
    yield server, stand_in
    stand_in.stop()
    server.stop()
    assert stand_in.errors() == []


def context_for(browser, server, **options):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, **options)
    context.set_default_timeout(15_000)
    return context


def subscriptions_of(server, endpoint: str):
    async def work():
        return await PushSubscription.filter(endpoint=endpoint).values("user__email", "p256dh", "auth")

    return server.run(work)


def test_opt_in_button_posts_the_subscription_and_a_publish_reaches_the_phone(push_live, browser):
    server, stand_in = push_live
    sub = stand_in.subscribe()
    context = context_for(browser, server)
    context.grant_permissions(["notifications"], origin=server.url)
    context.add_init_script(FAKE_PUSH % json.dumps(sub))
    try:
        page = context.new_page()
        sign_in(page, server.url)
        page.goto(server.url + "/alerts")
        button = page.get_by_role("button", name="Get alerts when guidance changes")
        button.wait_for(state="visible")
        assert page.inner_text(STATE) == "Alerts are off on this device."
        # Never on load: nothing subscribed until the officer taps.
        assert page.evaluate("() => localStorage.getItem('test-push-subscribe-calls')") is None
        button.click()
        page.wait_for_function(f"() => document.querySelector('{STATE}').textContent.startsWith('Alerts are on')")
        assert page.get_by_role("button", name="Stop alerts on this device").is_visible()

        key = page.evaluate("() => JSON.parse(localStorage.getItem('test-push-subscription')).key")
        served = page.evaluate("async () => (await (await fetch('/api/v1/push/key')).json()).public_key")
        assert bytes(key) == b64url_decode(served)
        (row,) = subscriptions_of(server, sub["endpoint"])
        assert row == {"user__email": "officer@demo.test", "p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"]}

        release = server.run(publish_revision, summary="Clarified the restraint card.", changes={"restraint-devices": "major"})
        (delivery,) = until(page, lambda: stand_in.delivered(sub["endpoint"]), what="delivery to the stand-in")
        assert delivery.payload["release"] == release.number
        assert delivery.payload["url"] == f"/changes?to={release.number}"
        assert delivery.payload["body"] == f"Release {release.number}: Clarified the restraint card."

        # Every start re-sends the subscription: a server that lost it gets it back from a new tab.
        async def forget():
            await PushSubscription.filter(endpoint=sub["endpoint"]).delete()

        server.run(forget)
        other_tab = context.new_page()
        other_tab.goto(server.url + "/")
        until(other_tab, lambda: subscriptions_of(server, sub["endpoint"]), what="the re-sent subscription")

        page.reload()
        page.get_by_role("button", name="Stop alerts on this device").click()
        page.wait_for_function(f"() => document.querySelector('{STATE}').textContent === 'Alerts are off on this device.'")
        assert subscriptions_of(server, sub["endpoint"]) == []
        assert page.evaluate("() => localStorage.getItem('test-push-subscription')") is None

        # Signing out turns alerts off on this device: the next person must not get them.
        page.get_by_role("button", name="Get alerts when guidance changes").click()
        page.wait_for_function(f"() => document.querySelector('{STATE}').textContent.startsWith('Alerts are on')")
        assert subscriptions_of(server, sub["endpoint"])
        with page.expect_navigation():
            page.get_by_role("button", name="Sign out").click()
        assert subscriptions_of(server, sub["endpoint"]) == []
        assert page.evaluate("() => localStorage.getItem('test-push-subscription')") is None
    finally:
        context.close()


def test_a_push_shows_the_notice_updates_the_offline_copy_and_a_tap_opens_what_changed(push_live, browser):
    server, _ = push_live
    context = context_for(browser, server)
    context.grant_permissions(["notifications"], origin=server.url)
    try:
        page = context.new_page()
        sign_in(page, server.url, "officer2@demo.test")
        held = int(page.get_attribute("html", "data-release"))
        wait_offline_ready(page, held)

        release = server.run(publish_revision, summary="Updated the restraint card.", changes={"restraint-devices": "major"})
        cdp = context.new_cdp_session(page)
        registration = worker_registration(page, cdp, server.url)
        payload = {
            "v": 1,
            "kind": "release",
            "agency": "Demo Police Department",
            "release": release.number,
            "title": "Demo Police Department: guidance updated",
            "body": f"Release {release.number}: Updated the restraint card.",
            "url": f"/changes?to={release.number}",
            "tag": "guidance",
        }
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": server.url, "registrationId": registration["registrationId"], "data": json.dumps(payload)},
        )
        notices = until(page, lambda: page.evaluate(NOTIFICATIONS), what="the notification")
        assert notices == [
            {
                "title": "Demo Police Department: guidance updated",
                "body": f"Release {release.number}: Updated the restraint card.",
                "tag": "guidance",
                "url": f"{server.url}/changes?to={release.number}",
            }
        ]
        # The push started the update of the offline copy to the new release.
        wait_offline_ready(page, release.number)

        (worker,) = [w for w in context.service_workers if w.url.startswith(server.url)]
        worker.evaluate(
            """async () => {
                const [notice] = await self.registration.getNotifications();
                self.dispatchEvent(new NotificationEvent("notificationclick", { notification: notice }));
            }"""
        )
        page.wait_for_url(f"**/changes?to={release.number}")
        assert f"What changed in release {release.number}" in page.inner_text("main")
        until(page, lambda: page.evaluate(NOTIFICATIONS) == [], what="the notice closing after the tap")
    finally:
        context.close()


def test_after_a_key_rotation_the_app_replaces_its_subscription_on_start(push_live, browser):
    server, stand_in = push_live
    old, new = stand_in.subscribe(), stand_in.subscribe()

    async def stored_before_rotation():
        from server.models import User

        officer = await User.get(email="officer2@demo.test")
        await PushSubscription.create(user=officer, endpoint=old["endpoint"], p256dh=old["keys"]["p256dh"], auth=old["keys"]["auth"])

    server.run(stored_before_rotation)
    context = context_for(browser, server)
    context.grant_permissions(["notifications"], origin=server.url)
    # This phone holds the old subscription, made with a key the server no longer uses.
    seed = json.dumps({"json": old, "key": [4] + [7] * 64})
    context.add_init_script(
        f"if (!localStorage.getItem('seeded')) {{ localStorage.setItem('seeded', '1'); "
        f"localStorage.setItem('test-push-subscription', JSON.stringify({seed})); }}"
    )
    context.add_init_script(FAKE_PUSH % json.dumps(new))
    try:
        page = context.new_page()
        sign_in(page, server.url, "officer2@demo.test")
        until(page, lambda: subscriptions_of(server, new["endpoint"]), what="the new subscription")
        assert subscriptions_of(server, old["endpoint"]) == []
        key = page.evaluate("() => JSON.parse(localStorage.getItem('test-push-subscription')).key")
        served = page.evaluate("async () => (await (await fetch('/api/v1/push/key')).json()).public_key")
        assert bytes(key) == b64url_decode(served)
    finally:
        context.close()


@pytest.mark.parametrize(
    ("script", "user_agent", "expected"),
    [
        (
            "delete window.PushManager;",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "On iPhone and iPad, alerts work only in the Home Screen app",
        ),
        ("delete window.PushManager;", None, "This browser cannot receive alerts."),
        (
            "Object.defineProperty(Notification, 'permission', { get: () => 'denied' });",
            None,
            "Notifications are blocked for this site.",
        ),
    ],
    ids=["ios-not-installed", "no-push-api", "permission-denied"],
)
def test_where_alerts_cannot_work_the_page_says_why(push_live, browser, script, user_agent, expected):
    server, _ = push_live
    context = context_for(browser, server, **({"user_agent": user_agent} if user_agent else {}))
    context.add_init_script(script)
    try:
        page = context.new_page()
        sign_in(page, server.url)
        page.goto(server.url + "/alerts")
        page.wait_for_function(f"() => !document.querySelector('{STATE}').textContent.startsWith('Checking')")
        assert page.inner_text(STATE).startswith(expected)
        assert page.locator("[data-push-subscribe]").is_hidden()
        assert page.locator("[data-push-unsubscribe]").is_hidden()
    finally:
        context.close()
