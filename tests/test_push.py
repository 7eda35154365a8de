"""Web Push end to end: keys, subscriptions, the outbox written with a release, and the worker
delivering to a push-service stand-in that checks VAPID and decrypts every notice (RFC 8291)."""

from __future__ import annotations

import stat

import pytest

from server.backoff import backoff
from server.guidance import releases
from server.models import Agency, PushOutbox, PushSubscription, Release, Role, User
from server.push import outbox
from server.push.sender import parse_retry_after
from server.push.vapid import (
    KEY_FILE,
    VapidError,
    VapidSigner,
    b64url,
    b64url_decode,
    check_subject,
)

from .helpers.clients import sign_in
from .helpers.csrf import csrf_token
from .helpers.push import eventually, settled
from .helpers.releases import publish_revision

pytestmark = pytest.mark.fast_push


async def subscribe(client, subscription: dict, **extra):
    """POST a subscription the way push-optin.js does."""
    return await client.post(
        "/api/v1/push/subscriptions",
        json={**subscription, **extra},
        headers={"X-CSRF-Token": await csrf_token(client, "/alerts")},
    )


# --- VAPID --------------------------------------------------------------------------------


async def test_key_is_made_once_kept_private_and_served(officer, app, settings):
    key_file = settings.data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    served = (await officer.get("/api/v1/push/key")).json()["public_key"]
    raw = b64url_decode(served)
    assert len(raw) == 65 and raw[0] == 4
    # A restart (or a separate push-worker process) on the same data folder uses the same key.
    assert VapidSigner.from_settings(settings).public_key == served
    assert (await officer.get("/api/v1/push/key")).headers["cache-control"] == "private, no-cache"


async def test_key_from_the_environment_wins(settings):
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    signer = VapidSigner.from_settings(settings.with_(vapid_private_key=raw))
    assert signer.public_key == VapidSigner(key, settings.vapid_subject).public_key
    assert not (settings.data_dir / KEY_FILE).exists()
    with pytest.raises(VapidError):
        VapidSigner.from_settings(settings.with_(vapid_private_key="not-a-key"))


def test_subject_must_be_a_mailto_address_on_a_real_domain():
    assert check_subject("mailto:alerts@springfield-pd.org") == "mailto:alerts@springfield-pd.org"
    # The JWT's sub is written as mailto: + the address, so an https: contact is refused up front.
    for bad in (
        "mailto:admin@localhost",
        "https://guide.springfield-pd.org/contact",
        "https://localhost",
        "admin@example.org",
        "mailto:x@host.local",
        "mailto:x@intranet",
    ):
        with pytest.raises(VapidError):
            check_subject(bad)


async def test_api_needs_sign_in(client):
    assert (await client.get("/api/v1/push/key")).status_code == 401
    response = await client.post("/api/v1/push/subscriptions", json={})
    assert response.status_code == 401


# --- subscriptions ------------------------------------------------------------------------


async def test_subscribe_checks_csrf_and_every_field(officer, service):
    sub = service.subscribe()
    no_token = await officer.post("/api/v1/push/subscriptions", json=sub)
    assert no_token.status_code == 403
    wrong = await officer.post("/api/v1/push/subscriptions", json=sub, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    bad_cases = [
        ({**sub, "endpoint": "https://evil.example.org/push/1"}, "endpoint"),
        ({**sub, "endpoint": "http://fcm.googleapis.com/fcm/send/x"}, "endpoint"),
        ({**sub, "endpoint": "https://fcm.googleapis.com.evil.org/x"}, "endpoint"),
        ({**sub, "endpoint": "http://10.0.0.1/x"}, "endpoint"),
        ({**sub, "keys": {"p256dh": "AAAA", "auth": sub["keys"]["auth"]}}, "keys.p256dh"),
        ({**sub, "keys": {"p256dh": sub["keys"]["p256dh"], "auth": "AAAA"}}, "keys.auth"),
        ({"endpoint": sub["endpoint"]}, "keys"),
    ]
    for body, field in bad_cases:
        response = await subscribe(officer, body)
        assert response.status_code == 400, body
        assert field in response.json()["details"], response.json()
    assert (await subscribe(officer, sub, device_id="bad id!")).status_code == 400
    assert await PushSubscription.all().count() == 0

    created = await subscribe(officer, sub, device_id="phone-0001")
    assert created.status_code == 201 and created.json() == {"endpoint": sub["endpoint"], "created": True}
    again = await subscribe(officer, sub)
    assert again.status_code == 200 and again.json()["created"] is False
    row = await PushSubscription.get(endpoint=sub["endpoint"]).prefetch_related("user")
    assert row.user.email == "officer@demo.test" and row.device_id == "phone-0001"


async def test_known_push_services_are_accepted(officer, service):
    sub = service.subscribe()
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx",
        "https://wns2-by3p.notify.windows.com/w/?token=abc",
    ):
        assert (await subscribe(officer, {**sub, "endpoint": endpoint})).status_code == 201


async def test_unsubscribe_and_a_replaced_subscription(officer, service):
    first, second = service.subscribe(), service.subscribe()
    assert (await subscribe(officer, first)).status_code == 201
    # pushsubscriptionchange: the new subscription names the one it replaces.
    assert (await subscribe(officer, second, old_endpoint=first["endpoint"])).status_code == 201
    assert [s.endpoint for s in await PushSubscription.all()] == [second["endpoint"]]
    token = await csrf_token(officer, "/alerts")
    gone = await officer.request("DELETE", "/api/v1/push/subscriptions", json={"endpoint": second["endpoint"]}, headers={"X-CSRF-Token": token})
    assert gone.status_code == 204
    again = await officer.request("DELETE", "/api/v1/push/subscriptions", json={"endpoint": second["endpoint"]}, headers={"X-CSRF-Token": token})
    assert again.status_code == 404
    no_token = await officer.request("DELETE", "/api/v1/push/subscriptions", json={"endpoint": "x"})
    assert no_token.status_code == 403
    assert await PushSubscription.all().count() == 0


async def test_a_browser_signed_in_as_someone_else_moves_to_them(client, service):
    sub = service.subscribe()
    await sign_in(client, "officer@demo.test")
    await subscribe(client, sub)
    await client.post("/sign-out", data={"csrf_token": await csrf_token(client, "/alerts")})
    await sign_in(client, "officer2@demo.test")
    assert (await subscribe(client, sub)).status_code == 200
    row = await PushSubscription.get(endpoint=sub["endpoint"]).prefetch_related("user")
    assert row.user.email == "officer2@demo.test"
    # Knowing the endpoint is not enough: without the browser's own keys it stays where it is.
    other_keys = service.subscribe()["keys"]
    await client.post("/sign-out", data={"csrf_token": await csrf_token(client, "/alerts")})
    await sign_in(client, "supervisor@demo.test")
    assert (await subscribe(client, {**sub, "keys": other_keys})).status_code == 409
    assert (await PushSubscription.get(endpoint=sub["endpoint"]).prefetch_related("user")).user.email == "officer2@demo.test"
    # Someone else cannot remove it.
    await client.post("/sign-out", data={"csrf_token": await csrf_token(client, "/alerts")})
    await sign_in(client, "officer@demo.test")
    token = await csrf_token(client, "/alerts")
    response = await client.request("DELETE", "/api/v1/push/subscriptions", json={"endpoint": sub["endpoint"]}, headers={"X-CSRF-Token": token})
    assert response.status_code == 404


async def test_alerts_page_has_the_button_and_lists_devices(officer, service):
    page = await officer.get("/alerts")
    assert page.status_code == 200
    assert "Get alerts when guidance changes" in page.text and "data-push-subscribe hidden" in page.text
    assert "None yet" in page.text
    await officer.post(
        "/api/v1/push/subscriptions",
        json=service.subscribe(),
        headers={"X-CSRF-Token": await csrf_token(officer, "/alerts"), "User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile"},
    )
    assert "Chrome on Android" in (await officer.get("/alerts")).text


# --- the outbox and the worker -------------------------------------------------------------


async def _other_agency_officer(settings) -> User:
    from server import bootstrap

    agency = await bootstrap.create_agency(settings, "other", "Other County Sheriff")
    return await bootstrap.create_user(agency, "deputy@other.test", "Deputy Other", Role.OFFICER, "fieldguide-demo")


async def _direct_subscription(user: User, sub: dict) -> PushSubscription:
    return await PushSubscription.create(user=user, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"])


async def test_publish_notifies_every_subscribed_user_of_the_agency_and_nobody_else(client, service, settings):
    officer = await User.get(email="officer@demo.test")
    officer2 = await User.get(email="officer2@demo.test")
    phone, tablet, other_phone = service.subscribe(), service.subscribe(), service.subscribe()
    await _direct_subscription(officer, phone)
    await _direct_subscription(officer, tablet)
    await _direct_subscription(officer2, other_phone)
    outsider = service.subscribe()
    await _direct_subscription(await _other_agency_officer(settings), outsider)
    retired = service.subscribe()
    gone_user = await User.create(agency_id=officer.agency_id, email="former@demo.test", name="Former", role=Role.OFFICER, active=False)
    await _direct_subscription(gone_user, retired)

    release = await publish_revision(summary="Clarified when restraints may be used.", changes={"restraint-devices": "major"})
    # Written with the release, before anything was sent.
    rows = await PushOutbox.filter(release_id=release.id)
    assert sorted(r.endpoint for r in rows) == sorted([phone["endpoint"], tablet["endpoint"], other_phone["endpoint"]])

    await eventually(lambda: len(service.delivered()) >= 3)
    await eventually(settled)
    for sub in (phone, tablet, other_phone):
        (delivery,) = service.delivered(sub["endpoint"])
        assert delivery.payload == {
            "v": 1,
            "kind": "release",
            "agency": "Demo Police Department",
            "release": 2,
            "title": "Demo Police Department: guidance updated",
            "body": "Release 2: Clarified when restraints may be used.",
            "url": "/changes?to=2",
            "tag": "guidance",
        }
        assert delivery.ttl == outbox.RELEASE_TTL and delivery.topic == "guidance" and delivery.urgency == "high"
        assert delivery.claims["sub"] == settings.vapid_subject
    assert service.to(outsider["endpoint"]) == [] and service.to(retired["endpoint"]) == []
    assert {r.status for r in await PushOutbox.filter(release_id=release.id)} == {"sent"}
    assert all(s.last_delivered_at for s in await PushSubscription.filter(user_id__in=[officer.id, officer2.id]))

    # A minor change goes out at normal urgency, and the app's /changes link works for that release.
    await publish_revision(summary="Typo fixed.", changes={"restraint-devices": "minor"})
    await eventually(lambda: len(service.delivered(phone["endpoint"])) == 2)
    assert service.delivered(phone["endpoint"])[-1].urgency == "normal"
    await sign_in(client, "officer@demo.test")
    assert "What changed in release 3" in (await client.get("/changes?to=3")).text


async def test_notices_are_written_in_the_publish_transaction(service):
    await _direct_subscription(await User.get(email="officer@demo.test"), service.subscribe())

    real = releases.enqueue_release_notices

    async def then_fail(release, connection):
        await real(release, connection)
        raise RuntimeError("a later step of publishing failed")

    releases.enqueue_release_notices = then_fail
    try:
        with pytest.raises(RuntimeError):
            await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    finally:
        releases.enqueue_release_notices = real
    assert await Release.filter(number=2).count() == 0
    assert await PushOutbox.all().count() == 0


async def test_gone_subscription_is_removed_and_history_kept(service):
    sub = service.subscribe()
    row = await _direct_subscription(await User.get(email="officer@demo.test"), sub)
    service.gone(sub["endpoint"])
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    await eventually(lambda: PushOutbox.filter(status="gone").exists())
    assert not await PushSubscription.filter(id=row.id).exists()
    notice = await PushOutbox.get(status="gone")
    assert notice.endpoint == sub["endpoint"] and notice.subscription_id is None and "410" in notice.last_error
    assert [r.status for r in service.to(sub["endpoint"])] == [410]


async def test_server_error_then_created_is_retried_and_delivered_once(service):
    sub = service.subscribe()
    await _direct_subscription(await User.get(email="officer@demo.test"), sub)
    service.script(sub["endpoint"], 500)
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    await eventually(settled)
    assert [r.status for r in service.to(sub["endpoint"])] == [500, 201]
    assert len(service.delivered(sub["endpoint"])) == 1
    notice = await PushOutbox.get()
    assert notice.status == "sent" and notice.attempts == 2
    row = await PushSubscription.get(endpoint=sub["endpoint"])
    assert row.last_failure.startswith("500") and row.last_delivered_at > row.last_failure_at


async def test_retry_after_is_honoured(service):
    sub = service.subscribe()
    await _direct_subscription(await User.get(email="officer@demo.test"), sub)
    # Without Retry-After the next try would come after 20-40 ms (FIELDGUIDE_PUSH_RETRY_BASE_MS=40).
    service.script(sub["endpoint"], (429, {"Retry-After": "2"}))
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    await eventually(settled)
    first, second = service.to(sub["endpoint"])
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 2.0


async def test_gives_up_after_the_last_try_with_the_reason(app, service, settings):
    sub = service.subscribe()
    await _direct_subscription(await User.get(email="officer@demo.test"), sub)
    service.script(sub["endpoint"], *([503] * (settings.push_max_attempts + 2)))
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    await eventually(settled)
    notice = await PushOutbox.get()
    assert notice.status == "failed" and notice.attempts == settings.push_max_attempts
    assert notice.last_error.startswith(f"gave up after {settings.push_max_attempts} tries: 503")
    assert len(service.to(sub["endpoint"])) == settings.push_max_attempts


async def test_unreachable_push_service_never_blocks_publishing(service):
    sub = service.subscribe()
    await _direct_subscription(await User.get(email="officer@demo.test"), sub)
    service.stop()
    release = await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    assert release.number == 2
    await eventually(lambda: PushOutbox.filter(attempts__gte=1, status="pending").exists())
    notice = await PushOutbox.get()
    assert "could not reach the push service" in notice.last_error
    service.received.clear()  # the fixture's teardown checks the (now stopped) stand-in


def test_retry_after_and_backoff():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    from datetime import datetime, timezone

    moment = datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", moment) == 60.0
    assert backoff(1, 10, None, rng=lambda: 1.0) == 10 and backoff(1, 10, None, rng=lambda: 0.0) == 5
    assert backoff(4, 10, None, rng=lambda: 1.0) == 80
    assert backoff(30, 10, None, rng=lambda: 1.0) == 3600  # capped
    assert backoff(1, 10, 300, rng=lambda: 1.0) == 300  # never sooner than Retry-After


def test_payload_stays_small_whatever_the_summary():
    agency = Agency(name="A" * 300)
    release = Release(number=12, summary="Long summary. " * 2000)
    payload = outbox.release_payload(agency, release)
    assert len(outbox.encode_payload(payload)) <= outbox.MAX_PAYLOAD
    assert payload["url"] == "/changes?to=12" and payload["body"].startswith("Release 12: Long summary.")
