"""The push outbox: notices written in the publishing transaction, claimed and settled by workers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server import clock
from server.db import within
from server.models import (
    Agency,
    PushOutbox,
    PushSubscription,
    Release,
    ReleaseCard,
    User,
)

# Every notice of an app shares one Topic, so a push service keeps only the newest undelivered
# one per device (and a notice sent twice after a crash replaces itself rather than stacking).
TOPIC = "guidance"
RELEASE_TTL = 7 * 86400  # a phone switched off over a school break still hears of the change
REMINDER_TTL = 86400  # a reminder is stale by the next day's
# The protocol allows 4,096 encrypted bytes; Firefox for Android refuses payloads much past 3 KB.
MAX_PAYLOAD = 3000
SUMMARY_CHARS = 240
PENDING, SENDING, SENT, FAILED, GONE = "pending", "sending", "sent", "failed", "gone"


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def encode_payload(payload: dict) -> bytes:
    """The notice as sent: compact UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _fit(payload: dict) -> dict:
    """Shorten the body until the encoded payload is within MAX_PAYLOAD bytes."""
    while len(encode_payload(payload)) > MAX_PAYLOAD:
        payload["body"] = _clip(payload["body"], max(20, len(payload["body"]) - 200))
        payload["title"] = _clip(payload["title"], 120)
        if len(payload["body"]) <= 20:
            break
    return payload


def release_payload(agency: Agency, release: Release) -> dict:
    """What a phone shows for a new release: agency, release number, summary, and where to read it."""
    return _fit(
        {
            "v": 1,
            "kind": "release",
            "agency": _clip(agency.name, 120),
            "release": release.number,
            "title": _clip(f"{agency.name}: guidance updated", 120),
            "body": _clip(f"Release {release.number}: {release.summary}", SUMMARY_CHARS),
            "url": f"/changes?to={release.number}",
            "tag": TOPIC,
        }
    )


def reminder_payload(agency: Agency, release: Release) -> dict:
    """What a phone shows to an officer who has not yet acknowledged a release."""
    due = f" Due {release.due_at:%B} {release.due_at.day}, {release.due_at.year}." if release.due_at else ""
    return _fit(
        {
            "v": 1,
            "kind": "reminder",
            "agency": _clip(agency.name, 120),
            "release": release.number,
            "title": _clip(f"{agency.name}: please acknowledge release {release.number}", 120),
            "body": _clip(f"Read what changed in release {release.number} and acknowledge it.{due}", SUMMARY_CHARS),
            "url": f"/changes?to={release.number}",
            "tag": TOPIC,
        }
    )


async def _major(release: Release, connection) -> bool:
    return await (
        ReleaseCard.filter(release_id=release.id, change__in=("major", "added")).using_db(connection).exists()
    )


def _notice(subscription, release: Release, kind: str, payload: dict, urgency: str, ttl: int, moment) -> PushOutbox:
    return PushOutbox(
        agency_id=release.agency_id,
        user_id=subscription.user_id,
        subscription_id=subscription.id,
        endpoint=subscription.endpoint,
        release_id=release.id,
        kind=kind,
        payload=payload,
        topic=TOPIC,
        urgency=urgency,
        ttl=ttl,
        status=PENDING,
        next_attempt_at=moment,
    )


async def _write(rows: list[PushOutbox], connection) -> int:
    if rows:
        await PushOutbox.bulk_create(rows, batch_size=500, using_db=connection)
    return len(rows)


async def enqueue_release_notices(release: Release, connection) -> int:
    """One outbox row per subscription of the agency's active users; run inside the publish transaction."""
    agency = await Agency.get(id=release.agency_id).using_db(connection)
    subscriptions = await PushSubscription.filter(
        user__agency_id=release.agency_id, user__active=True
    ).using_db(connection)
    if not subscriptions:
        return 0
    payload = release_payload(agency, release)
    urgency = "high" if await _major(release, connection) else "normal"
    moment = clock.now()
    rows = [_notice(s, release, "release", payload, urgency, RELEASE_TTL, moment) for s in subscriptions]
    return await _write(rows, connection)


@dataclass
class ReminderCount:
    """How a "remind pending" went: officers with a device to notify, and those without."""

    notices: int
    officers_reached: int
    officers_without_device: int


async def enqueue_reminders(release: Release, users: list[User], connection=None) -> ReminderCount:
    """One outbox row per subscription of these users (all of the release's agency)."""
    users = [u for u in users if u.agency_id == release.agency_id and u.active]

    async def go(conn) -> ReminderCount:
        agency = await Agency.get(id=release.agency_id).using_db(conn)
        subscriptions = await PushSubscription.filter(user_id__in=[u.id for u in users]).using_db(conn)
        overdue = release.due_at is not None and release.due_at < clock.now()
        payload = reminder_payload(agency, release)
        moment = clock.now()
        urgency = "high" if overdue else "normal"
        rows = [_notice(s, release, "reminder", payload, urgency, REMINDER_TTL, moment) for s in subscriptions]
        reached = {s.user_id for s in subscriptions}
        return ReminderCount(await _write(rows, conn), len(reached), len(users) - len(reached))

    return await within(go, connection)


@dataclass
class Claimed:
    """A notice a worker took: what to send and where (keys None once the subscription is gone)."""

    id: int
    subscription_id: int | None
    endpoint: str
    payload: dict
    topic: str
    urgency: str
    ttl: int
    attempts: int
    created_at: datetime
    p256dh: str | None
    auth: str | None


def _claim_sql(dialect: str) -> str:
    # One statement both picks and marks the rows, so two workers never take the same row:
    # PostgreSQL skips rows another worker has locked, SQLite runs one writer at a time.
    if dialect == "postgres":
        return (
            "UPDATE push_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1 "
            "WHERE id IN (SELECT id FROM push_outbox WHERE status IN ('pending', 'sending') "
            "AND next_attempt_at <= $2 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) "
            "RETURNING id"
        )
    return (
        "UPDATE push_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ? "
        "WHERE id IN (SELECT id FROM push_outbox WHERE status IN ('pending', 'sending') "
        "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?) RETURNING id"
    )


async def due_exists() -> bool:
    """Whether any notice is waiting to be sent now (a cheap read before claiming)."""
    return await PushOutbox.filter(status__in=(PENDING, SENDING), next_attempt_at__lte=clock.now()).exists()


async def unsettled_exists() -> bool:
    """Whether any notice is still to be sent, now or at a later retry."""
    return await PushOutbox.filter(status__in=(PENDING, SENDING)).exists()


async def claim(limit: int, lease_seconds: int) -> list[Claimed]:
    """Take up to `limit` due notices for this worker; a notice stays taken for the lease."""
    if limit <= 0:
        return []
    moment = clock.now()
    client = connections.get("default")
    rows = await client.execute_query_dict(
        _claim_sql(client.capabilities.dialect),
        [moment + timedelta(seconds=lease_seconds), moment, limit],
    )
    ids = [r["id"] for r in rows]
    if not ids:
        return []
    # Plain values joined with the subscription: a fan-out reads thousands, models cost more.
    found = await PushOutbox.filter(id__in=ids).order_by("id").values(
        "id", "subscription_id", "endpoint", "payload", "topic", "urgency", "ttl", "attempts", "created_at",
        "subscription__p256dh", "subscription__auth",
    )
    return [
        Claimed(
            id=r["id"],
            subscription_id=r["subscription_id"],
            endpoint=r["endpoint"],
            payload=r["payload"],
            topic=r["topic"],
            urgency=r["urgency"],
            ttl=r["ttl"],
            attempts=r["attempts"],
            created_at=r["created_at"],
            p256dh=r["subscription__p256dh"],
            auth=r["subscription__auth"],
        )
        for r in found
    ]


async def release_claims(ids: list[int]) -> None:
    """Give notices this worker took but never tried back to the queue, due at once."""
    if ids:
        await PushOutbox.filter(id__in=ids, status=SENDING).update(
            status=PENDING, next_attempt_at=clock.now(), attempts=F("attempts") - 1
        )


@dataclass
class Settled:
    """The end of one try: sent, gone (subscription dead), retry (at a time) or failed."""

    row_id: int
    subscription_id: int | None
    endpoint: str
    outcome: str
    reason: str | None = None
    retry_at: datetime | None = None


async def settle(results: list[Settled]) -> None:
    """Write the outcome of a batch of tries in one transaction."""
    if not results:
        return
    moment = clock.now()
    by = {kind: [r for r in results if r.outcome == kind] for kind in ("sent", "gone", "retry", "failed")}
    async with in_transaction() as conn:
        if by["sent"]:
            await PushOutbox.filter(id__in=[r.row_id for r in by["sent"]]).using_db(conn).update(
                status=SENT, sent_at=moment, last_error=None
            )
            subs = {r.subscription_id for r in by["sent"] if r.subscription_id}
            if subs:
                await PushSubscription.filter(id__in=subs).using_db(conn).update(last_delivered_at=moment)
        if by["gone"]:
            endpoints = {r.endpoint for r in by["gone"]}
            for r in by["gone"]:
                await PushOutbox.filter(id=r.row_id).using_db(conn).update(status=GONE, last_error=r.reason)
            # The outbox rows keep the endpoint, so the history survives the subscription.
            await PushOutbox.filter(endpoint__in=endpoints, status=PENDING).using_db(conn).update(
                status=GONE, last_error="the push service no longer knows this subscription"
            )
            await PushSubscription.filter(endpoint__in=endpoints).using_db(conn).delete()
        for r in by["retry"]:
            await PushOutbox.filter(id=r.row_id).using_db(conn).update(
                status=PENDING, next_attempt_at=r.retry_at, last_error=r.reason
            )
        for r in by["failed"]:
            await PushOutbox.filter(id=r.row_id).using_db(conn).update(status=FAILED, last_error=r.reason)
        for r in by["retry"] + by["failed"]:
            if r.subscription_id:
                await PushSubscription.filter(id=r.subscription_id).using_db(conn).update(
                    last_failure_at=moment, last_failure=r.reason
                )
