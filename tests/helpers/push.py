"""The push outbox in tests: waiting on it, filling it, reading its plans; settings for a quick worker."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from datetime import datetime, timedelta, timezone

from tortoise import connections

from server.models import Agency, PushOutbox, PushSubscription, Release, User
from server.push import outbox

# Settings for tests of push sending (the fast_push marker applies them to the `settings`
# fixture): the stand-in's loopback host accepted, fast polling and retries.
FAST_PUSH = {
    "push_extra_hosts": "127.0.0.1",
    "push_poll_ms": 20,
    "push_retry_base_ms": 40,
    "push_lease_seconds": 10,
    "push_max_attempts": 4,
}


async def eventually(check, timeout: float = 15.0):
    """Wait until check() (sync or async) is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def settled() -> bool:
    """Whether every notice in the outbox has been sent or given up on."""
    return not await PushOutbox.filter(status__in=("pending", "sending")).exists()


async def outbox_plans() -> dict[str, str]:
    """The open database's plan for each of the push worker's outbox statements, by name."""
    client = connections.get("default")
    dialect = client.capabilities.dialect
    now = datetime.now(timezone.utc)
    values = {"claim": [now, now, 16], "next_due": []}
    plans = {}
    for name, sql in outbox.queue_sql(dialect).items():
        if dialect == "postgres":
            rows = await client.execute_query_dict("EXPLAIN " + sql, values[name])
            plans[name] = "\n".join(r["QUERY PLAN"] for r in rows)
        else:
            rows = await client.execute_query_dict("EXPLAIN QUERY PLAN " + sql, values[name])
            plans[name] = "\n".join(r["detail"] for r in rows)
    return plans


async def fill_outbox(pending: int, sent: int = 0, subscriptions: int = 1000, seed: int = 3) -> None:
    """Write `pending` notices still to send (most due, a tenth later) and `sent` old ones, for the demo officer.

    Rows go in as plain values (COPY on PostgreSQL), not models: the claim benchmark and the plan
    test write 100k and more.
    """
    rng = random.Random(seed)
    client = connections.get("default")
    dialect = client.capabilities.dialect
    agency = await Agency.get(slug="demo")
    release = await Release.filter(agency=agency).order_by("-number").first()
    officer = await User.get(email="officer@demo.test")
    await PushSubscription.bulk_create(
        [
            PushSubscription(
                user=officer, endpoint=f"https://fcm.googleapis.com/fcm/send/fill-{seed}-{i}", p256dh="p" * 87, auth="a" * 22
            )
            for i in range(subscriptions)
        ],
        batch_size=1000,
    )
    subs = await PushSubscription.filter(user=officer).values_list("id", "endpoint")
    payload = outbox.encode_payload(outbox.release_payload(agency, release)).decode()
    now = datetime.now(timezone.utc)

    def moment(value: datetime):
        return value if dialect == "postgres" else value.isoformat(" ")

    rows = []
    publish = now
    for i in range(pending + sent):
        sub_id, endpoint = rng.choice(subs)
        if i < pending:
            # As the outbox fills: each publish writes its rows with one time, in id order
            # (a publish every 10,000 rows, over the last hour); a tenth are retries due later.
            if i % 10_000 == 0:
                publish = now - timedelta(seconds=3600 * (1 - i / max(1, pending)))
            later = rng.random() < 0.1
            due = now + timedelta(seconds=rng.uniform(60, 3600)) if later else publish
            status, sent_at = outbox.PENDING, None
        else:
            status, due = outbox.SENT, now - timedelta(days=rng.uniform(1, 90))
            sent_at = moment(due)
        rows.append([agency.id, officer.id, sub_id, endpoint, release.id, "release", payload, outbox.TOPIC, "normal",
                     outbox.RELEASE_TTL, status, 0 if status == outbox.PENDING else 1, moment(due), moment(now), sent_at])
    columns = ["agency_id", "user_id", "subscription_id", "endpoint", "release_id", "kind", "payload", "topic",
               "urgency", "ttl", "status", "attempts", "next_attempt_at", "created_at", "sent_at"]
    if dialect == "postgres":
        async with client.acquire_connection() as connection:
            await connection.copy_records_to_table("push_outbox", records=rows, columns=columns)
    else:
        marks = ", ".join("?" for _ in columns)
        await client.execute_many(f"INSERT INTO push_outbox ({', '.join(columns)}) VALUES ({marks})", rows)
    if dialect == "postgres":
        # Fresh statistics, as autovacuum gathers them on a table this size (SQLite gathers none
        # unless told to, and the app never tells it).
        await client.execute_script("ANALYZE")
