"""The push outbox: notices written in the publishing transaction, claimed and settled by workers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

from tortoise import connections
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server import clock, outbox_queue
from server.db import within
from server.models import (
    Agency,
    PushOutbox,
    PushSubscription,
    Release,
    ReleaseCard,
    User,
)
from server.outbox_queue import numbered

# Every notice of an app shares one Topic, so a push service keeps only the newest undelivered
# one per device (and a notice sent twice after a crash replaces itself rather than stacking).
TOPIC = "guidance"
RELEASE_TTL = 7 * 86400  # a phone switched off over a school break still hears of the change
REMINDER_TTL = 86400  # a reminder is stale by the next day's
# The protocol allows 4,096 encrypted bytes; Firefox for Android refuses payloads much past 3 KB.
MAX_PAYLOAD = 3000
SUMMARY_CHARS = 240
PENDING, SENDING, SENT, FAILED, GONE = "pending", "sending", "sent", "failed", "gone"
# A release notice not yet sent when a newer release of its agency was published: the newer
# notice, written for the same subscription, says all it would have said.
REPLACED = "replaced"
# The PostgreSQL channel on which writing notices wakes every listening push worker.
CHANNEL = "fieldguide_push"


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


# The columns a new notice is written with; the rest (last_error, sent_at) start NULL.
_COLUMNS = (
    "agency_id, user_id, subscription_id, endpoint, release_id, kind, payload, topic, urgency, ttl, "
    "status, attempts, next_attempt_at, created_at"
)


@cache
def fan_out_sql(dialect: str, audience: str) -> str:
    """One INSERT … SELECT writing a notice per subscription of an audience, in subscription order.

    Its values: `_shared(...)`, then the audience: for "agency" the agency id (its active users'
    subscriptions); for "users" the user ids as one value (a JSON array on SQLite, a list for
    PostgreSQL's int[]), and the statement returns each new row's user_id. On PostgreSQL the
    "agency" statement returns the count of rows written (`notices`): Tortoise reads an INSERT's
    count from the OID field of its command tag there, always 0.
    """
    pg = dialect == "postgres"
    if audience == "agency":
        source = 'push_subscription s JOIN "user" u ON u.id = s.user_id WHERE u.agency_id = ? AND u.active'
    else:
        members = "= ANY(?::int[])" if pg else "IN (SELECT value FROM json_each(?))"
        source = f"push_subscription s WHERE s.user_id {members}"
    # PostgreSQL would type a parameter in a SELECT list as text: cast to the columns' types.
    number, document, moment = ("?::int", "?::jsonb", "?::timestamptz") if pg else ("?", "?", "?")
    sql = (
        f"INSERT INTO push_outbox ({_COLUMNS}) "
        f"SELECT {number}, s.user_id, s.id, s.endpoint, {number}, ?, {document}, ?, ?, {number}, ?, 0, {moment}, {moment} "
        f"FROM {source} ORDER BY s.id"
    )
    if audience == "users":
        sql += " RETURNING user_id"
    elif pg:
        sql = f"WITH written AS ({sql} RETURNING 1) SELECT count(*) AS notices FROM written"
    return numbered(sql) if pg else sql


def _shared(release: Release, kind: str, payload: dict, urgency: str, ttl: int, moment: datetime) -> list:
    """The values every notice of one fan-out has in common, in `fan_out_sql`'s order.

    The payload and the times go through the model's own fields, so they are stored as an ORM
    write stores them (SQLite: the same JSON text and ISO time text) and read back the same.
    """
    fields = PushOutbox._meta.fields_map
    return [
        release.agency_id,
        release.id,
        kind,
        fields["payload"].to_db_value(payload, PushOutbox),
        TOPIC,
        urgency,
        ttl,
        PENDING,
        fields["next_attempt_at"].to_db_value(moment, PushOutbox),
        fields["created_at"].to_db_value(moment, PushOutbox),
    ]


@cache
def replace_sql(dialect: str) -> str:
    """Mark replaced the unsent release notices of an agency's other releases, for the subscriptions
    a new release's fan-out writes to (its active users'). Values: reason, agency id, new release id,
    agency id.

    Only `pending` rows: a notice already claimed (`sending`) may be on its way; the Topic it
    carries lets the push service replace it with the newer one if the phone has not taken it yet.
    """
    sql = (
        "UPDATE push_outbox SET status = 'replaced', last_error = ? "
        "WHERE agency_id = ? AND kind = 'release' AND status = 'pending' AND release_id <> ? AND subscription_id IN "
        '(SELECT s.id FROM push_subscription s JOIN "user" u ON u.id = s.user_id WHERE u.agency_id = ? AND u.active)'
    )
    return numbered(sql) if dialect == "postgres" else sql


async def announce(connection) -> None:
    """Tell listening workers (PostgreSQL) that notices are due; delivered when the transaction commits."""
    # Only at commit, so a worker never wakes to rows it cannot see yet; several in one
    # transaction arrive as one. SQLite has no such channel: its workers poll or are woken
    # in-process (review.publish's wake).
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query("SELECT pg_notify($1, '')", [CHANNEL])


async def enqueue_release_notices(release: Release, connection) -> int:
    """One outbox row per subscription of the agency's active users; run inside the publish transaction."""
    # One INSERT … SELECT: the rows never pass through Python, so a publish to 50,000 devices
    # holds its transaction (and the agency's lock) for one statement, not 50,000 models.
    agency = await Agency.get(id=release.agency_id).using_db(connection)
    payload = release_payload(agency, release)
    urgency = "high" if await _major(release, connection) else "normal"
    values = _shared(release, "release", payload, urgency, RELEASE_TTL, clock.now()) + [release.agency_id]
    dialect = connection.capabilities.dialect
    # Older releases' notices still waiting go out no more: one notice per phone, the newest.
    reason = f"replaced by release {release.number}"
    await connection.execute_query(replace_sql(dialect), [reason, release.agency_id, release.id, release.agency_id])
    if dialect == "postgres":
        count = (await connection.execute_query_dict(fan_out_sql(dialect, "agency"), values))[0]["notices"]
    else:
        count, _ = await connection.execute_query(fan_out_sql(dialect, "agency"), values)
    if count:
        await announce(connection)
    return count


@dataclass
class ReminderCount:
    """How a "remind pending" went: officers with a device to notify, and those without."""

    notices: int
    officers_reached: int
    officers_without_device: int
    user_ids: frozenset[int] = frozenset()  # the officers reached


async def enqueue_reminders(release: Release, users: list[User], connection=None) -> ReminderCount:
    """One outbox row per subscription of these users (all of the release's agency)."""
    users = [u for u in users if u.agency_id == release.agency_id and u.active]

    async def go(conn) -> ReminderCount:
        if not users:
            return ReminderCount(0, 0, 0)
        agency = await Agency.get(id=release.agency_id).using_db(conn)
        overdue = release.due_at is not None and release.due_at < clock.now()
        payload = reminder_payload(agency, release)
        urgency = "high" if overdue else "normal"
        dialect = conn.capabilities.dialect
        ids = [u.id for u in users]
        # The ids as one value, however many officers: no limit on bound parameters applies.
        members = ids if dialect == "postgres" else json.dumps(ids)
        values = _shared(release, "reminder", payload, urgency, REMINDER_TTL, clock.now()) + [members]
        rows = await conn.execute_query_dict(fan_out_sql(dialect, "users"), values)
        if rows:
            await announce(conn)
        reached = {r["user_id"] for r in rows}
        return ReminderCount(len(rows), len(reached), len(users) - len(reached), frozenset(reached))

    return await within(go, connection)


@dataclass
class Claimed:
    """A notice a worker took: what to send and where (keys None once the subscription is gone)."""

    id: int
    subscription_id: int | None
    endpoint: str
    data: bytes  # the payload as sent (encode_payload), one shared bytes object per fan-out
    topic: str
    urgency: str
    ttl: int
    attempts: int
    created_at: datetime
    p256dh: str | None
    auth: str | None


# The partial index push_outbox_due (migration 0003) covers exactly these rows: every query
# below repeats its predicate word for word, with literals, so both planners can prove the
# index applies (SQLite cannot with a bound parameter there, nor PostgreSQL's generic plans).
_WAITING = "status IN ('pending', 'sending')"


@cache
def queue_sql(dialect: str) -> dict[str, str]:
    """The worker's statements on the outbox in this SQL dialect, by name (EXPLAIN them in tests)."""
    # SQLite without ANALYZE statistics would rather read the one-column status index and sort
    # every waiting row; INDEXED BY holds it to the claim index (and fails loudly without it).
    table = "push_outbox" if dialect == "postgres" else "push_outbox INDEXED BY push_outbox_due"
    sql = {
        # One statement picks the rows, marks them and returns what sending needs (with the
        # subscription's keys), so two workers never take the same row: PostgreSQL skips rows
        # another worker has locked, SQLite runs one writer at a time.
        "claim": (
            "UPDATE push_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ? "
            f"WHERE id IN (SELECT id FROM {table} WHERE {_WAITING} AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, id LIMIT ?"
            + (" FOR UPDATE SKIP LOCKED" if dialect == "postgres" else "")
            + ") RETURNING id, subscription_id, endpoint, payload, topic, urgency, ttl, attempts, created_at, "
            "(SELECT p256dh FROM push_subscription s WHERE s.id = push_outbox.subscription_id) AS p256dh, "
            "(SELECT auth FROM push_subscription s WHERE s.id = push_outbox.subscription_id) AS auth"
        ),
        # Ordered as the index is, so the planner reads its first entry: PostgreSQL would otherwise
        # as soon walk the one-column next_attempt_at index through every sent notice.
        "next_due": f"SELECT next_attempt_at FROM {table} WHERE {_WAITING} ORDER BY next_attempt_at, id LIMIT 1",
    }
    if dialect == "postgres":
        sql = {name: numbered(text) for name, text in sql.items()}
    return sql


async def next_due() -> datetime | None:
    """When the earliest notice still to send is due (a retry, or a lease running out); None if none."""
    return await outbox_queue.next_due(queue_sql)


async def claim(limit: int, lease_seconds: int) -> list[Claimed]:
    """Take up to `limit` due notices for this worker; a notice stays taken for the lease."""
    rows = await outbox_queue.claim(queue_sql, limit, lease_seconds)
    return sorted((_claimed(r) for r in rows), key=lambda c: c.id)


@lru_cache(maxsize=64)
def _payload_bytes(stored: str | bytes) -> bytes:
    """A stored payload as sent: parsed and encoded once per distinct payload (a fan-out has one)."""
    return encode_payload(json.loads(stored))


def _claimed(row: dict) -> Claimed:
    # Raw rows: SQLite gives JSON and times as text, asyncpg gives JSON as text.
    payload, created = row["payload"], row["created_at"]
    return Claimed(
        id=row["id"],
        subscription_id=row["subscription_id"],
        endpoint=row["endpoint"],
        data=_payload_bytes(payload) if isinstance(payload, (str, bytes)) else encode_payload(payload),
        topic=row["topic"],
        urgency=row["urgency"],
        ttl=row["ttl"],
        attempts=row["attempts"],
        created_at=clock.stored_time(created),
        p256dh=row["p256dh"],
        auth=row["auth"],
    )



async def release_claims(ids: list[int]) -> None:
    """Give notices this worker took but never tried back to the queue, due at once."""
    if ids:
        await PushOutbox.filter(id__in=ids, status=SENDING).update(
            status=PENDING, next_attempt_at=clock.now(), attempts=F("attempts") - 1
        )
        await announce(connections.get("default"))


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
