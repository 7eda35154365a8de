"""The outbox rows a publish or a "remind pending" writes in one INSERT … SELECT: who gets one,
and that each reads back (through the ORM and through the worker's claim) exactly as a row the
ORM itself wrote, on both databases."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from tortoise import connections
from tortoise.transactions import in_transaction

from server import bootstrap, db
from server.models import Agency, PushOutbox, PushSubscription, Role, User
from server.push import outbox
from server.push.status import push_statuses
from server.push.vapid import VapidSigner
from server.push.worker import PushWorker

from .helpers.push_service import PushService
from .helpers.releases import publish_revision

# Microseconds included: a time that lost them on the way in or out would not compare equal.
MOMENT = datetime(2026, 3, 9, 14, 5, 7, 123456, tzinfo=timezone.utc)


@pytest_asyncio.fixture
async def database(settings):
    """The demo database open, with no app and no push worker to take the rows."""
    await db.open_db(settings)
    try:
        yield settings
    finally:
        await db.close_db()


async def _subscribe(user: User, name: str) -> PushSubscription:
    return await PushSubscription.create(
        user=user, endpoint=f"https://fcm.googleapis.com/fcm/send/{name}", p256dh="p" * 87, auth="a" * 22
    )


async def _audience(settings) -> dict[str, list[PushSubscription]]:
    """Subscriptions of two active officers, an inactive one and another agency's officer."""
    officer = await User.get(email="officer@demo.test")
    officer2 = await User.get(email="officer2@demo.test")
    former = await User.create(
        agency_id=officer.agency_id, email="former@demo.test", name="Former", role=Role.OFFICER, active=False
    )
    other = await bootstrap.create_agency(settings, "other", "Other County Sheriff")
    outsider = await bootstrap.create_user(other, "deputy@other.test", "Deputy Other", Role.OFFICER, "fieldguide-demo")
    return {
        "reached": [await _subscribe(officer, "phone"), await _subscribe(officer2, "phone2"), await _subscribe(officer, "tablet")],
        "former": [await _subscribe(former, "former")],
        "outsider": [await _subscribe(outsider, "outsider")],
    }


async def _raw(ids: list[int]) -> list[dict]:
    """Rows as the database holds them (SQLite: the JSON and the times as text), without the id."""
    marks = ", ".join(str(int(i)) for i in ids)
    rows = await connections.get("default").execute_query_dict(f"SELECT * FROM push_outbox WHERE id IN ({marks}) ORDER BY id")
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


async def _same_as_an_orm_write(row: PushOutbox) -> None:
    """The row is stored exactly as the ORM stores the same notice (what the code wrote before)."""
    twin = await PushOutbox.create(
        agency_id=row.agency_id,
        user_id=row.user_id,
        subscription_id=row.subscription_id,
        endpoint=row.endpoint,
        release_id=row.release_id,
        kind=row.kind,
        payload=row.payload,
        topic=row.topic,
        urgency=row.urgency,
        ttl=row.ttl,
        status=row.status,
        next_attempt_at=MOMENT,
        created_at=MOMENT,
    )
    written, by_orm = await _raw([row.id, twin.id])
    assert written == by_orm
    await twin.delete()


def _at_the_moment(value: datetime) -> None:
    assert value == MOMENT and value.tzinfo is not None and value.utcoffset() == timedelta(0)


async def test_publish_writes_one_row_per_subscription_as_the_orm_would(database, monkeypatch):
    subs = await _audience(database)
    monkeypatch.setattr("server.clock.now", lambda: MOMENT)
    release = await publish_revision(summary="Clarified when restraints may be used.", changes={"restraint-devices": "major"})
    agency = await Agency.get(slug="demo")

    rows = await PushOutbox.filter(release_id=release.id).order_by("id")
    # Inactive users and other agencies get none; rows come in subscription order.
    expected = sorted(subs["reached"], key=lambda s: s.id)
    assert [(r.user_id, r.subscription_id, r.endpoint) for r in rows] == [(s.user_id, s.id, s.endpoint) for s in expected]
    assert await PushOutbox.all().count() == len(expected)
    for row in rows:
        assert row.payload == outbox.release_payload(agency, release) and isinstance(row.payload, dict)
        assert (row.agency_id, row.release_id, row.kind, row.topic) == (agency.id, release.id, "release", "guidance")
        assert (row.urgency, row.ttl, row.status, row.attempts) == ("high", outbox.RELEASE_TTL, "pending", 0)
        assert row.last_error is None and row.sent_at is None
        _at_the_moment(row.created_at)
        _at_the_moment(row.next_attempt_at)
    await _same_as_an_orm_write(rows[0])

    # The worker's claim parses them as before.
    claimed = await outbox.claim(10, 60)
    assert [c.id for c in claimed] == [r.id for r in rows]
    for c in claimed:
        assert json.loads(c.data) == rows[0].payload and c.urgency == "high" and c.ttl == outbox.RELEASE_TTL
        assert c.data is claimed[0].data  # encoded once for the whole fan-out
        _at_the_moment(c.created_at)
        assert c.p256dh == "p" * 87 and c.auth == "a" * 22

    # The count returned is the rows written; a minor release goes out at normal urgency.
    minor = await publish_revision(summary="Typo.", changes={"restraint-devices": "minor"})
    async with in_transaction() as conn:
        assert await outbox.enqueue_release_notices(minor, conn) == len(expected)
    assert {r.urgency for r in await PushOutbox.filter(release_id=minor.id)} == {"normal"}
    assert await PushOutbox.filter(release_id=minor.id).count() == 2 * len(expected)


async def test_no_subscriptions_no_rows(database):
    release = await publish_revision(summary="Nobody listens.")
    async with in_transaction() as conn:
        assert await outbox.enqueue_release_notices(release, conn) == 0
    assert await PushOutbox.all().count() == 0


async def test_reminders_go_to_the_devices_of_the_officers_named(database, monkeypatch):
    subs = await _audience(database)
    monkeypatch.setattr("server.clock.now", lambda: MOMENT)
    release = await publish_revision(summary="Restraints.", changes={"restraint-devices": "major"}, due_at=MOMENT - timedelta(days=1))
    await PushOutbox.all().delete()
    agency = await Agency.get(slug="demo")
    officer, supervisor = await User.get(email="officer@demo.test"), await User.get(email="supervisor@demo.test")
    former, outsider = await User.get(email="former@demo.test"), await User.get(email="deputy@other.test")

    count = await outbox.enqueue_reminders(release, [officer, supervisor, former, outsider])
    # The supervisor has no device; the former officer and the other agency's are not counted.
    assert (count.notices, count.officers_reached, count.officers_without_device) == (2, 1, 1)
    rows = await PushOutbox.all().order_by("id")
    mine = sorted((s for s in subs["reached"] if s.user_id == officer.id), key=lambda s: s.id)
    assert [(r.user_id, r.subscription_id, r.endpoint) for r in rows] == [(s.user_id, s.id, s.endpoint) for s in mine]
    for row in rows:
        assert row.payload == outbox.reminder_payload(agency, release) and row.kind == "reminder"
        assert (row.urgency, row.ttl, row.status, row.release_id) == ("high", outbox.REMINDER_TTL, "pending", release.id)
        _at_the_moment(row.created_at)
        _at_the_moment(row.next_attempt_at)
    await _same_as_an_orm_write(rows[0])

    none = await outbox.enqueue_reminders(release, [former, outsider])
    assert (none.notices, none.officers_reached, none.officers_without_device) == (0, 0, 0)
    assert await PushOutbox.all().count() == 2


async def test_a_newer_release_replaces_the_unsent_notices_of_older_ones(database):
    subs = await _audience(database)
    first = await publish_revision(summary="Restraints.", changes={"restraint-devices": "major"})
    rows = await PushOutbox.filter(release_id=first.id).order_by("id")
    # One already on its way, one already sent, a reminder, and another agency's waiting notice.
    await PushOutbox.filter(id=rows[0].id).update(status="sending")
    await PushOutbox.filter(id=rows[1].id).update(status="sent")
    reminder = (await outbox.enqueue_reminders(first, [await User.get(email="officer@demo.test")])).notices
    other = await Agency.get(slug="other")
    outsider = await PushOutbox.create(
        agency_id=other.id, user_id=subs["outsider"][0].user_id, subscription_id=subs["outsider"][0].id,
        endpoint=subs["outsider"][0].endpoint, release_id=first.id, kind="release", payload={}, topic=outbox.TOPIC,
        urgency="normal", ttl=60, next_attempt_at=MOMENT, created_at=MOMENT,
    )

    second = await publish_revision(summary="Searches.", changes={"restraint-devices": "minor"})

    after = {r.id: r for r in await PushOutbox.filter(release_id=first.id)}
    assert after[rows[0].id].status == "sending" and after[rows[1].id].status == "sent"
    for row in rows[2:]:
        assert after[row.id].status == "replaced"
        assert after[row.id].last_error == f"replaced by release {second.number}"
    assert [r.status for r in after.values() if r.kind == "reminder"] == ["pending"] * reminder
    assert after[outsider.id].status == "pending"
    assert {r.status for r in await PushOutbox.filter(release_id=second.id)} == {"pending"}
    assert await PushOutbox.filter(release_id=second.id).count() == len(subs["reached"])
    # Replaced notices are never claimed: every other notice still to send is.
    claimed = {c.id for c in await outbox.claim(100, 60)}
    waiting = {r.id for r in await PushOutbox.exclude(status__in=("sent", "replaced"))}
    assert claimed == waiting and not claimed & {r.id for r in rows[2:]}
    # The supervisor sees a person whose notices were all replaced as such, never as still sending.
    person = rows[-1].user_id
    await PushOutbox.filter(release_id=first.id, user_id=person).exclude(status="replaced").delete()
    status = (await push_statuses(first.agency_id, [person], first.id))[person]
    assert (status.state, status.replaced) == ("replaced", len([r for r in rows[2:] if r.user_id == person]))


@pytest.mark.fast_push
async def test_a_phone_offline_for_two_releases_gets_one_notice_the_newer(database):
    service = PushService(vapid_key=VapidSigner.from_settings(database).public_key).start()
    try:
        officer = await User.get(email="officer@demo.test")
        subscriptions = [service.subscribe() for _ in range(3)]
        for sub in subscriptions:
            await PushSubscription.create(
                user=officer, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"]
            )
        await publish_revision(summary="Restraints.", changes={"restraint-devices": "major"})
        newer = await publish_revision(summary="Searches.", changes={"restraint-devices": "minor"})

        counts = await PushWorker(database).run(until_empty=True)

        assert counts["sent"] == 3
        for sub in subscriptions:
            (delivery,) = service.delivered(sub["endpoint"])
            assert delivery.payload["release"] == newer.number and delivery.topic == outbox.TOPIC
        assert service.errors() == []
        statuses = sorted((r.release_id, r.status) for r in await PushOutbox.all())
        assert statuses == sorted([(newer.id - 1, "replaced")] * 3 + [(newer.id, "sent")] * 3)
    finally:
        service.stop()
