"""What a sync check costs: one query for an unchanged device, yet sign-outs, revocations,
deactivations and publishes still act on the very next check."""

from __future__ import annotations

from server import clock
from server.acknowledgments.sync import RecentSyncs
from server.models import Device, Session, User

from .helpers.clients import client_as
from .helpers.csrf import csrf_of, csrf_token
from .helpers.queries import recorded_queries
from .helpers.releases import publish_revision

DEVICE = "phone-0001-cost"


async def current_device(client) -> dict:
    """Headers of a device that has saved the current release and said so (the confirming 304)."""
    etag = (await client.get("/api/v1/sync", headers={"Fieldguide-Device": DEVICE})).headers["etag"]
    headers = {"If-None-Match": etag, "Fieldguide-Device": DEVICE}
    assert (await client.get("/api/v1/sync", headers=headers)).status_code == 304
    return headers


def writes(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.lstrip().upper().startswith("SELECT")]


async def test_an_unchanged_devices_check_costs_one_query(officer):
    headers = await current_device(officer)
    for _ in range(3):
        with recorded_queries() as statements:
            response = await officer.get("/api/v1/sync", headers=headers)
        assert response.status_code == 304
        assert len(statements) == 1 and not writes(statements), statements
    # The same when the device claims its release by number, or sends no device id.
    with recorded_queries() as statements:
        assert (await officer.get("/api/v1/sync", params={"have": "1"})).status_code == 304
    assert len(statements) == 1, statements


async def test_a_process_that_has_not_seen_the_device_reads_its_row_and_writes_nothing_within_the_minute(app, officer):
    headers = await current_device(officer)
    recorded = await Device.get(device_id=DEVICE)
    # What another server process, or this one after a restart, starts with: an empty memory.
    # The database's rule decides, and the row is fresh.
    app.state.recent_syncs = RecentSyncs()
    with recorded_queries() as statements:
        assert (await officer.get("/api/v1/sync", headers=headers)).status_code == 304
    assert len(statements) == 2 and not writes(statements), statements
    with recorded_queries() as statements:
        assert (await officer.get("/api/v1/sync", headers=headers)).status_code == 304
    assert len(statements) == 1, statements
    device = await Device.get(device_id=DEVICE)
    assert (device.release_number, device.last_sync_at) == (1, recorded.last_sync_at)


async def test_signing_out_acts_on_the_next_check(officer):
    headers = await current_device(officer)
    assert (await officer.post("/sign-out", data={"csrf_token": await csrf_token(officer)})).status_code == 303
    assert (await officer.get("/api/v1/sync", headers=headers)).status_code == 401


async def test_a_session_revoked_elsewhere_acts_on_the_next_check(officer):
    headers = await current_device(officer)
    # Revoked by another process (a password reset, an admin): this process caches no session.
    await Session.filter(revoked_at__isnull=True).update(revoked_at=clock.now())
    assert (await officer.get("/api/v1/sync", headers=headers)).status_code == 401


async def test_deactivating_the_officer_acts_on_their_next_check(app, officer):
    headers = await current_device(officer)
    person = (await User.get(email="officer@demo.test")).id
    async with client_as(app, "admin@demo.test") as admin:
        page = await admin.get(f"/admin/users/{person}")
        response = await admin.post(f"/admin/users/{person}/deactivate", data={"csrf_token": csrf_of(page.text)})
        assert response.status_code == 303
    assert (await officer.get("/api/v1/sync", headers=headers)).status_code == 401


async def test_a_user_turned_off_without_ending_sessions_is_refused_on_the_next_check(officer):
    headers = await current_device(officer)
    await User.filter(email="officer@demo.test").update(active=False)
    assert (await officer.get("/api/v1/sync", headers=headers)).status_code == 401


async def test_a_publish_is_seen_by_the_very_next_check(officer):
    headers = await current_device(officer)
    await publish_revision(touch="teacher")
    response = await officer.get("/api/v1/sync", headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert (body["release"], body["base"]) == (2, 1)
    assert [c["id"] for c in body["card_bodies"]] == ["teacher"]
    saved = {**headers, "If-None-Match": body["etag"]}
    assert (await officer.get("/api/v1/sync", headers=saved)).status_code == 304
    assert (await Device.get(device_id=DEVICE)).release_number == 2
