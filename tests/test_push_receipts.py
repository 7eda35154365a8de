"""Receipts from the phone (POST /api/v1/push/receipts) and the supervisor's delivery ladder:
sent to the push service, shown on the phone, synced, acknowledged, per officer and release."""

from __future__ import annotations

import re
import uuid

import pytest

from server import bootstrap, clock
from server.acknowledgments.ledger import record_ack
from server.guidance.releases import load_release
from server.models import Device, PushReceipt, PushSubscription, Role, User

from .helpers.clients import client_as
from .helpers.csrf import csrf_token
from .helpers.push import eventually, settled
from .helpers.queries import recorded_queries
from .helpers.releases import publish_revision

ENDPOINT = "/api/v1/push/receipts"
DEVICE = "phone-0001-abcd"


def _receipt(release: int = 1, **fields) -> dict:
    return {"uuid": str(uuid.uuid4()), "release": release, "kind": "release", "device_id": DEVICE, **fields}


async def test_a_receipt_is_recorded_once_per_uuid_and_per_device_and_release(officer):
    token = await csrf_token(officer)
    first = _receipt(shown_at="2026-03-01T14:05:09.120Z")
    response = await officer.post(ENDPOINT, json=first, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["uuid"] == first["uuid"] and body["release"] == 1 and body["kind"] == "release"
    assert body["device_id"] == DEVICE and body["shown_at"].startswith("2026-03-01T14:05:09")

    # The same receipt again (an offline replay), and another notice about release 1 on this phone.
    again = await officer.post(ENDPOINT, json=first, headers={"X-CSRF-Token": token})
    assert again.status_code == 200 and again.json() == body
    reminder = await officer.post(ENDPOINT, json=_receipt(kind="reminder"), headers={"X-CSRF-Token": token})
    assert reminder.status_code == 200 and reminder.json() == body
    # Another device of the same officer has a receipt of its own.
    other = await officer.post(ENDPOINT, json=_receipt(device_id="tablet-0002"), headers={"X-CSRF-Token": token})
    assert other.status_code == 201

    casey = await User.get(email="officer@demo.test")
    rows = await PushReceipt.filter(user=casey).order_by("id").values_list("device_id", "uuid")
    assert rows == [(DEVICE, first["uuid"]), ("tablet-0002", other.json()["uuid"])]


async def test_bad_receipts_get_a_400_naming_the_field_and_record_nothing(officer, app):
    token = await csrf_token(officer)
    bad = [
        ({**_receipt(), "uuid": "not-a-uuid"}, "uuid"),
        ({k: v for k, v in _receipt().items() if k != "uuid"}, "uuid"),
        (_receipt(release="one"), "release"),
        (_receipt(release=0), "release"),
        (_receipt(release=True), "release"),
        (_receipt(kind="ack"), "kind"),
        (_receipt(device_id="a b"), "device_id"),
        ({k: v for k, v in _receipt().items() if k != "device_id"}, "device_id"),
        (_receipt(shown_at="yesterday"), "shown_at"),
        (_receipt(shown_at="2026-01-05T10:00:00"), "shown_at"),
        (_receipt(shown_at="1999-12-31T23:00:00Z"), "shown_at"),
    ]
    for body, field in bad:
        response = await officer.post(ENDPOINT, json=body, headers={"X-CSRF-Token": token})
        assert response.status_code == 400, (body, response.text)
        assert field in response.json()["details"], (body, response.json())
    not_json = await officer.post(ENDPOINT, content=b"{nope", headers={"X-CSRF-Token": token, "content-type": "application/json"})
    assert not_json.status_code == 400 and "body" in not_json.json()["details"]
    missing = await officer.post(ENDPOINT, json=_receipt(99), headers={"X-CSRF-Token": token})
    assert missing.status_code == 404
    no_token = await officer.post(ENDPOINT, json=_receipt())
    assert no_token.status_code == 403
    assert await PushReceipt.all().count() == 0

    # A uuid already used by another officer's receipt is refused, not taken over.
    taken = _receipt()
    assert (await officer.post(ENDPOINT, json=taken, headers={"X-CSRF-Token": token})).status_code == 201
    async with client_as(app, "officer2@demo.test") as sam:
        response = await sam.post(ENDPOINT, json={**taken, "device_id": "sams-phone-1"}, headers={"X-CSRF-Token": await csrf_token(sam)})
        assert response.status_code == 400 and response.json()["details"] == {"uuid": "taken"}
    assert await PushReceipt.all().count() == 1


async def test_signed_out_devices_cannot_send_receipts(client):
    response = await client.post(ENDPOINT, json=_receipt(), headers={"X-CSRF-Token": "x"})
    assert response.status_code in (401, 403)
    assert await PushReceipt.all().count() == 0


def _ladder(html: str) -> dict[str, bool]:
    """The delivery ladder in a piece of HTML: step -> reached."""
    return {step: reached == "yes" for step, reached in re.findall(r'data-step="(\w+)" data-reached="(yes|no)"', html)}


def _officer_row(html: str, name: str) -> str:
    match = re.search(rf"<tr[^>]*>\s*<th[^>]*>\s*<a[^>]*>{re.escape(name)}</a>.*?</tr>", html, re.DOTALL)
    assert match, name
    return match.group(0)


def _history_row(html: str, number: int) -> str:
    match = re.search(rf"<tr[^>]*>\s*<th[^>]*><a[^>]*>Release {number}</a>.*?</tr>", html, re.DOTALL)
    assert match, number
    return match.group(0)


@pytest.mark.fast_push
async def test_the_ladder_climbs_from_sent_to_shown_to_synced_to_acknowledged(app, service):
    casey = await User.get(email="officer@demo.test")
    phone = service.subscribe()
    await PushSubscription.create(user=casey, endpoint=phone["endpoint"], p256dh=phone["keys"]["p256dh"], auth=phone["keys"]["auth"])
    release = await publish_revision(summary="New restraint wording.", changes={"restraint-devices": "major"})
    await eventually(settled)
    number = release.number

    async with client_as(app, "supervisor@demo.test") as supervisor:

        async def ladders() -> tuple[dict, dict]:
            listed = await supervisor.get(f"/supervisor/releases/{number}?status=all")
            history = await supervisor.get(f"/supervisor/officers/{casey.id}")
            assert listed.status_code == 200 and history.status_code == 200
            return _ladder(_officer_row(listed.text, "Officer Casey Rivera")), _ladder(_history_row(history.text, number))

        sent = {"sent": True, "shown": False, "synced": False, "acknowledged": False}
        assert await ladders() == (sent, sent)

        async with client_as(app, "officer@demo.test") as officer:
            response = await officer.post(ENDPOINT, json=_receipt(number), headers={"X-CSRF-Token": await csrf_token(officer)})
            assert response.status_code == 201
        shown = {**sent, "shown": True}
        assert await ladders() == (shown, shown)

        # A device whose last sync holds an older release has not synced this one.
        await Device.create(user=casey, device_id=DEVICE, release_number=number - 1, last_sync_at=clock.now())
        assert await ladders() == (shown, shown)
        await Device.filter(user=casey, device_id=DEVICE).update(release_number=number)
        synced = {**shown, "synced": True}
        assert await ladders() == (synced, synced)

        view = await load_release(release)
        await record_ack(casey, view, str(uuid.uuid4()), [c["hash"] for c in view.cards])
        done = {**synced, "acknowledged": True}
        assert await ladders() == (done, done)

        # Sam got nothing: every step open.
        listed = await supervisor.get(f"/supervisor/releases/{number}?status=all")
        assert set(_ladder(_officer_row(listed.text, "Officer Sam Okafor")).values()) == {False}


async def test_the_release_page_reads_the_ladder_for_a_page_at_a_time(app):
    """The ladder's reads do not grow with the officers listed (no query per officer)."""
    agency = await (await User.get(email="officer@demo.test")).agency
    release = await publish_revision(summary="Restraint wording.", changes={"restraint-devices": "major"})

    async def statements() -> int:
        async with client_as(app, "supervisor@demo.test") as supervisor:
            with recorded_queries() as sent:
                response = await supervisor.get(f"/supervisor/releases/{release.number}?status=all")
            assert response.status_code == 200
            return len([q for q in sent if "push_receipt" in q or "device" in q.lower()])

    few = await statements()
    for n in range(12):
        user = await bootstrap.create_user(agency, f"extra{n}@demo.test", f"Officer Extra {n}", Role.OFFICER, "fieldguide-demo")
        await PushReceipt.create(
            agency=agency, user=user, release=release, device_id=f"device-{n:04d}", uuid=str(uuid.uuid4()),
            kind="release", received_at=clock.now(),
        )
        await Device.create(user=user, device_id=f"device-{n:04d}", release_number=release.number, last_sync_at=clock.now())
    assert await statements() == few
