"""Abuse limits of Web Push and sync: a cap on each person's subscriptions and devices, push
endpoints parsed strictly, and every failed send counted toward FIELDGUIDE_PUSH_MAX_ATTEMPTS."""

from __future__ import annotations

import asyncio
import base64
import os

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server import bootstrap, clock, db
from server.acknowledgments.sync import RecentSyncs, record_sync
from server.errors import Invalid
from server.models import Device, PushOutbox, PushSubscription, User
from server.push.endpoints import MAX_ENDPOINT, parse_endpoint
from server.push.worker import PushWorker
from server.settings import Settings

from .helpers.browser import free_port
from .helpers.csrf import csrf_of, csrf_token
from .helpers.processes import FIELDGUIDE, Process
from .helpers.push import FAST_PUSH
from .helpers.releases import publish_revision

pytestmark = pytest.mark.fast_push
BATCH = 25  # requests in flight at once: concurrent transactions on PostgreSQL's pool


@pytest.fixture
def settings(settings):
    """Nothing is sent by the server's own worker: tests run a worker themselves when they need one."""
    return settings.with_(push_worker=False)


FCM = "https://fcm.googleapis.com/fcm/send/abc"
# Endpoints refused however they are sent; each must get a 400 naming the endpoint.
MALFORMED = [
    "https://[",
    "https://[::1",
    "https://fcm.googleapis.com:22/fcm/send/abc",
    "https://fcm.googleapis.com:99999/fcm/send/abc",
    "https://fcm.googleapis.com:-1/fcm/send/abc",
    "https://fcm.googleapis.com:443/fcm/send/abc",
    "https://fcm.googleapis.com:/fcm/send/abc",
    "https://fcm.googleapis.com\\@evil.example/",
    "https://fcm.googleapis.com\\fcm\\send",
    "https://fcm.googleapis.com/fcm/send/abc\r\nX-Injected: 1",
    "https://fcm.googleapis.com/fcm/send/abc\n",
    "https://fcm.googleapis.com/fcm/send/abc\r",
    "https://fcm.googleapis.com/fcm/send/a b",
    "https://fcm.googleapis.com/fcm/send/abc\t",
    "https://fcm.googleapis.com/fcm/send/abc\x7f",
    " https://fcm.googleapis.com/fcm/send/abc",
    "https://user:secret@fcm.googleapis.com/fcm/send/abc",
    "https://user@fcm.googleapis.com/fcm/send/abc",
    "https://fcm.googleapis.com%2F@evil.example/",
    "https://fcm.googleapis.com/fcm/send/abc#fragment",
    "https://fcm.googleapis.com/fcm/send/abc#",
    "https://fcm.googleapis.com/" + "a" * MAX_ENDPOINT,
    "http://fcm.googleapis.com/fcm/send/abc",
    "ftp://fcm.googleapis.com/fcm/send/abc",
    "javascript://fcm.googleapis.com/%0Aalert(1)",
    "https:fcm.googleapis.com/fcm/send/abc",
    "https:///fcm/send/abc",
    "//fcm.googleapis.com/fcm/send/abc",
    "fcm.googleapis.com/fcm/send/abc",
    "https://evil.example/push/1",
    "https://fcm.googleapis.com.evil.example/fcm/send/abc",
    "https://evilfcm.googleapis.com/fcm/send/abc",
    "https://a..fcm.googleapis.com/fcm/send/abc",
    "https://-a.fcm.googleapis.com/fcm/send/abc",
    "https://a_b.fcm.googleapis.com/fcm/send/abc",
    "https://" + "a" * 64 + ".fcm.googleapis.com/fcm/send/abc",
    "https://xn--a.fcm.googleapis.com/fcm/send/abc",
    "https://fcm.googleapis.com./fcm/send/abc",
    "https://ｆcm.googleapis.com/fcm/send/abc",
    "https://fcm.googleapis.com/fcm/send/abc\u200b",
    "http://10.0.0.1/push/1",
    "http://localhost/push/1",
    "https://[::1]/push/1",
    "http://127.0.0.1:0/push/1",
    "http://127.0.0.1:99999/push/1",
    "http://127.0.0.2/push/1",
    "",
]
# Not text at all: also refused with a 400 naming the endpoint.
NOT_TEXT = [None, 12345, 1.5, True, ["https://fcm.googleapis.com/fcm/send/abc"], {"url": FCM}]


def test_the_parser_accepts_push_services_and_refuses_every_malformed_endpoint():
    settings = Settings(**FAST_PUSH)
    for good in (
        FCM,
        "https://android.googleapis.com/gcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx",
        "https://wns2-by3p.notify.windows.com/w/?token=abc%3D",
        "http://127.0.0.1:8123/push/token",
        "http://127.0.0.1/push/token",
    ):
        assert parse_endpoint(good, settings) == good
    for bad in MALFORMED + NOT_TEXT:
        with pytest.raises(Invalid) as refused:
            parse_endpoint(bad, settings)
        assert refused.value.details == {"endpoint": "invalid"}, bad
    # Plain http and another port stay a loopback stand-in's privilege, even for a listed host.
    listed = settings.with_(push_extra_hosts="push.example.org,127.0.0.1")
    assert parse_endpoint("https://push.example.org/p/1", listed)
    for bad in ("http://push.example.org/p/1", "https://push.example.org:8443/p/1"):
        with pytest.raises(Invalid):
            parse_endpoint(bad, listed)


async def _post(client, body: dict, token: str):
    return await client.post("/api/v1/push/subscriptions", json=body, headers={"X-CSRF-Token": token})


async def test_malformed_endpoints_get_a_400_naming_the_endpoint_and_store_nothing(officer, service):
    token = await csrf_token(officer, "/alerts")
    keys = service.subscribe()["keys"]
    for endpoint in MALFORMED + NOT_TEXT:
        response = await _post(officer, {"endpoint": endpoint, "keys": keys}, token)
        assert response.status_code == 400, (endpoint, response.text)
        assert "endpoint" in response.json()["details"], (endpoint, response.json())
    absent = await _post(officer, {"keys": keys}, token)
    assert absent.status_code == 400 and "endpoint" in absent.json()["details"]
    assert await PushSubscription.all().count() == 0


async def test_unsubscribe_never_fails_with_a_server_error(officer):
    token = await csrf_token(officer, "/alerts")

    async def delete(body):
        return await officer.request("DELETE", "/api/v1/push/subscriptions", json=body, headers={"X-CSRF-Token": token})

    too_long = await delete({"endpoint": "https://fcm.googleapis.com/" + "a" * 5000})
    assert too_long.status_code == 404, too_long.text
    for endpoint in MALFORMED[:12]:
        assert (await delete({"endpoint": endpoint})).status_code in (400, 404), endpoint
    for endpoint in NOT_TEXT:
        response = await delete({"endpoint": endpoint})
        assert response.status_code == 400 and "endpoint" in response.json()["details"], endpoint
    absent = await delete({})
    assert absent.status_code == 400 and "endpoint" in absent.json()["details"]


# --- the cap on subscriptions ------------------------------------------------------------


async def test_300_subscriptions_keep_the_newest_10_and_a_publish_queues_10(officer, service, app, settings):
    cap = settings.max_devices_per_user
    assert cap == 10
    officer_row = await User.get(email="officer@demo.test")
    token = await csrf_token(officer, "/alerts")
    subs = [service.subscribe() for _ in range(300)]
    answers = []
    # As fast as the server takes them, many at once: concurrent saves on PostgreSQL.
    for start in range(0, len(subs), BATCH):
        answers += await asyncio.gather(*(_post(officer, sub, token) for sub in subs[start : start + BATCH]))
    assert {a.status_code for a in answers} == {201}, {a.status_code for a in answers}

    stored = set(await PushSubscription.filter(user=officer_row).values_list("endpoint", flat=True))
    assert len(stored) == cap
    # Each endpoint not kept was reported dropped to the request that dropped it, with a message.
    reported = {d["endpoint"] for a in answers for d in a.json().get("dropped", [])}
    assert reported == {s["endpoint"] for s in subs} - stored
    assert all("most 10 devices" in a.json()["message"] for a in answers if "dropped" in a.json())
    # The ones kept are among the last made (none has had a notice delivered yet).
    assert stored <= {s["endpoint"] for s in subs[-BATCH:]}

    release = await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    queued = await PushOutbox.filter(release_id=release.id, user_id=officer_row.id).count()
    assert queued == cap

    # One more device: the least recently used is dropped, and its unsent notice with it.
    extra = service.subscribe()
    answer = await _post(officer, {**extra, "device_id": "phone-extra-1"}, token)
    assert answer.status_code == 201
    ((dropped,),) = [answer.json()["dropped"]]
    assert dropped["endpoint"] in stored and dropped["device"] == "Browser"
    assert answer.json()["message"].startswith("Alerts stay on for at most 10 devices per person")
    notice = await PushOutbox.get(release_id=release.id, endpoint=dropped["endpoint"])
    assert notice.status == "gone" and notice.last_error.startswith("dropped")
    assert await PushSubscription.filter(user=officer_row).count() == cap

    worker = PushWorker(app.state.settings, app.state.push_signer)
    await asyncio.wait_for(worker.run(until_empty=True), 60)
    assert len(service.delivered()) == cap - 1 and service.to(dropped["endpoint"]) == []


async def test_a_subscription_delivered_to_counts_as_used(officer, service):
    officer_row = await User.get(email="officer@demo.test")
    token = await csrf_token(officer, "/alerts")
    subs = [service.subscribe() for _ in range(10)]
    for sub in subs:
        assert "dropped" not in (await _post(officer, sub, token)).json()
    # The oldest device had a notice delivered since: it is used more recently than the rest.
    await PushSubscription.filter(endpoint=subs[0]["endpoint"]).update(last_delivered_at=clock.now())
    again = await _post(officer, subs[1], token)  # a browser re-sending its subscription on start
    assert again.status_code == 200 and "dropped" not in again.json()
    answer = await _post(officer, service.subscribe(), token)
    assert [d["endpoint"] for d in answer.json()["dropped"]] == [subs[1]["endpoint"]]
    assert await PushSubscription.filter(user=officer_row).count() == 10


# --- the cap on devices ------------------------------------------------------------------


async def test_300_devices_keep_the_10_synced_last(app, officer, settings):
    officer_row = await User.get(email="officer@demo.test")
    etag = (await officer.get("/api/v1/sync")).headers["etag"]

    async def sync(device: str):
        return await officer.get("/api/v1/sync", headers={"If-None-Match": etag, "Fieldguide-Device": device})

    devices = [f"device-{i:04d}-abcdef" for i in range(300)]
    for start in range(0, len(devices), BATCH):
        answers = await asyncio.gather(*(sync(d) for d in devices[start : start + BATCH]))
        assert {a.status_code for a in answers} == {304}
    kept = set(await Device.filter(user=officer_row).values_list("device_id", flat=True))
    assert len(kept) == settings.max_devices_per_user and kept <= set(devices[-BATCH:])
    # A device synced after all of them is kept, and an old one that syncs again (here to a process
    # that has not seen it, as after a minute to any) comes back as new.
    assert (await sync("device-last-one")).status_code == 304
    app.state.recent_syncs = RecentSyncs()
    assert (await sync(devices[0])).status_code == 304
    now = set(await Device.filter(user=officer_row).values_list("device_id", flat=True))
    assert {"device-last-one", devices[0]} <= now and len(now) == settings.max_devices_per_user


async def test_record_sync_takes_the_cap_it_is_given(app):
    officer = await User.get(email="officer@demo.test")
    for i in range(6):
        await record_sync(officer, f"tablet-{i}-abcdef", "Firefox", 1, max_devices=3)
    kept = await Device.filter(user=officer).order_by("id").values_list("device_id", flat=True)
    assert kept == ["tablet-3-abcdef", "tablet-4-abcdef", "tablet-5-abcdef"]


# --- every failed send counts ------------------------------------------------------------


async def test_every_failed_send_ends_at_max_attempts(app, service, settings):
    """Bad endpoints stored before the strict check, an unreachable service, keys that cannot
    encrypt and a notice whose tries were never recorded: each ends failed, none retried forever."""
    officer = await User.get(email="officer@demo.test")
    good = service.subscribe()
    stale = [
        "https://[",
        "https://fcm.googleapis.com:99999/fcm/send/abc",
        "https://fcm.googleapis.com\\@evil.example/",
        "http://127.0.0.1:1/push/a b",
        "https://fcm.googleapis.com/fcm/send/abc\r\nX: 1",
        "https://evil.example/push/1",
    ]
    unreachable = f"http://127.0.0.1:{free_port()}/push/nobody"
    for endpoint in [good["endpoint"], *stale, unreachable]:
        await PushSubscription.create(user=officer, endpoint=endpoint, p256dh=good["keys"]["p256dh"], auth=good["keys"]["auth"])
    broken_keys = service.subscribe()["endpoint"]
    await PushSubscription.create(user=officer, endpoint=broken_keys, p256dh="B" * 87, auth="A" * 22)
    release = await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    # A notice a worker took and never recorded, as often as it may be tried (workers that died).
    orphan = await PushOutbox.get(release_id=release.id, endpoint=good["endpoint"])
    await PushOutbox.filter(id=orphan.id).update(status="sending", attempts=settings.push_max_attempts)

    worker = PushWorker(app.state.settings, app.state.push_signer)
    await asyncio.wait_for(worker.run(until_empty=True), 60)

    rows = {r.endpoint: r for r in await PushOutbox.filter(release_id=release.id)}
    assert {r.status for r in rows.values()} == {"failed"}, {e: (r.status, r.last_error) for e, r in rows.items()}
    for endpoint in stale:
        assert rows[endpoint].attempts == 1 and rows[endpoint].last_error.startswith("not sent: endpoint"), endpoint
    for endpoint in (unreachable, broken_keys):
        assert rows[endpoint].attempts == settings.push_max_attempts, rows[endpoint].last_error
        assert rows[endpoint].last_error.startswith(f"gave up after {settings.push_max_attempts} tries")
    assert rows[good["endpoint"]].last_error == f"gave up after {settings.push_max_attempts} tries: no outcome recorded"
    assert service.received == [] and worker.counts["failed"] == len(rows)
    # The dashboard's per-device failure says why.
    assert (await PushSubscription.get(endpoint=unreachable)).last_failure.startswith("gave up")


# --- several server processes on one PostgreSQL database ---------------------------------

SERVERS = 3


def _browser_subscription(number: int) -> dict:
    """A subscription as a browser hands it over, to Google's push service (never sent to here)."""
    point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {"endpoint": f"https://fcm.googleapis.com/fcm/send/many-{number}", "keys": {"p256dh": b64(point), "auth": b64(os.urandom(16))}}


async def test_several_server_processes_settle_both_caps(pg_settings, tmp_path):
    """300 subscriptions and 300 devices of one officer, sent at once to 3 `fieldguide serve`
    processes: concurrent saves in separate processes, and still 10 of each afterwards."""
    env = {
        **os.environ,
        "FIELDGUIDE_DATABASE_URL": pg_settings.database_url,
        "FIELDGUIDE_DATA_DIR": str(tmp_path),
        "FIELDGUIDE_PUSH_WORKER": "false",
    }
    servers = []
    for _ in range(SERVERS):
        port = free_port()
        argv = [str(FIELDGUIDE), "serve", "--host", "127.0.0.1", "--port", str(port)]
        servers.append(Process(f"serve-{port}", argv, env, tmp_path / f"serve-{port}.log", url=f"http://127.0.0.1:{port}"))
    try:
        for process in servers:
            process.start()
        for process in servers:
            await asyncio.to_thread(process.wait_ready)
        urls = [p.url for p in servers]
        # One browser (one cookie jar, so one session) that asks whichever server it is given.
        async with httpx.AsyncClient(timeout=60) as browser:
            page = await browser.get(urls[0] + "/sign-in")
            form = {"email": "officer@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": csrf_of(page.text)}
            assert (await browser.post(urls[0] + "/sign-in", data=form)).status_code == 303
            token = csrf_of((await browser.get(urls[0] + "/alerts")).text)
            subs = [_browser_subscription(i) for i in range(300)]
            answers = []
            for start in range(0, len(subs), BATCH):
                answers += await asyncio.gather(*(
                    browser.post(urls[i % SERVERS] + "/api/v1/push/subscriptions", json=sub, headers={"X-CSRF-Token": token})
                    for i, sub in enumerate(subs[start : start + BATCH], start)
                ))
            assert {a.status_code for a in answers} == {201}, [a.text for a in answers if a.status_code != 201][:3]
            etag = (await browser.get(urls[0] + "/api/v1/sync")).headers["etag"]
            devices = [f"many-device-{i:04d}" for i in range(300)]
            for start in range(0, len(devices), BATCH):
                synced = await asyncio.gather(*(
                    browser.get(urls[i % SERVERS] + "/api/v1/sync", headers={"If-None-Match": etag, "Fieldguide-Device": d})
                    for i, d in enumerate(devices[start : start + BATCH], start)
                ))
                assert {a.status_code for a in synced} == {304}
        await db.open_db(pg_settings)
        officer = await User.get(email="officer@demo.test")
        stored = set(await PushSubscription.filter(user=officer).values_list("endpoint", flat=True))
        assert len(stored) == 10 and stored <= {s["endpoint"] for s in subs[-BATCH:]}
        reported = {d["endpoint"] for a in answers for d in a.json().get("dropped", [])}
        assert reported == {s["endpoint"] for s in subs} - stored
        kept = set(await Device.filter(user=officer).values_list("device_id", flat=True))
        assert len(kept) == 10 and kept <= set(devices[-BATCH:])
    finally:
        for process in servers:
            process.stop()
        await db.close_db()
