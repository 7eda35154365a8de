"""How fast a release's push notices fan out, against the cost of encrypting them.

Starts the push-service stand-in (tests/helpers/push_service.py) as its own process with N
subscriptions; it checks every request's VAPID JWT, headers and size and decrypts one notice
in 100. In a temporary SQLite database it subscribes the demo officers' N devices, publishes
a release (writing N outbox rows in the publish transaction), then times a push worker
draining the outbox. As the same-run reference it times encrypting the same N payloads with
the same library call (pywebpush's RFC 8291 encryption, no HTTP, no database).

    .venv/bin/python benchmarks/push_fanout.py [--notices 10000] [--concurrency 64]

With --subscriptions N it times only the writing side instead, on SQLite and PostgreSQL: the
demo agency's officers get N subscriptions (written with COPY or executemany), then
`outbox.enqueue_release_notices` runs three times in a transaction rolled back each time, and
one whole publish of a release is timed — how long a publish holds its transaction (and the
agency's lock) for the outbox rows.

    .venv/bin/python benchmarks/push_fanout.py --subscriptions 50000 [--backend sqlite|postgres|both]
        [--postgres postgres://user@host:port]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from pywebpush import WebPusher  # noqa: E402
from tortoise import connections  # noqa: E402
from tortoise.transactions import in_transaction  # noqa: E402

from benchmarks.scratch_database import scratch_postgres  # noqa: E402
from server import bootstrap, clock, db  # noqa: E402
from server.models import PushOutbox, PushSubscription, Release, User  # noqa: E402
from server.push import outbox  # noqa: E402
from server.push.vapid import VapidSigner  # noqa: E402
from server.push.worker import PushWorker  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.helpers.releases import publish_revision  # noqa: E402


def start_stand_in(count: int, vapid_key: str) -> tuple[subprocess.Popen, int, list[dict]]:
    """The stand-in process and the subscriptions it made."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "helpers" / "push_service.py"), "--subscriptions", str(count),
         "--vapid-key", vapid_key, "--decrypt-every", "100"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    hello = json.loads(process.stdout.readline())
    return process, hello["port"], hello["subscriptions"]


def encrypt_only(subscriptions: list[dict], payload: bytes, signer: VapidSigner) -> float:
    """Seconds to encrypt the payload for every subscription and look up its VAPID header."""
    start = time.perf_counter()
    for sub in subscriptions:
        signer.headers(sub["endpoint"])
        WebPusher(sub).encode(payload, "aes128gcm")
    return time.perf_counter() - start


async def run(count: int, concurrency: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fieldguide-push-bench-"))
    settings = Settings(data_dir=folder).with_(
        push_extra_hosts="127.0.0.1", push_concurrency=concurrency, push_poll_ms=20, push_worker=False
    )
    signer = VapidSigner.from_settings(settings)
    process, port, subscriptions = start_stand_in(count, signer.public_key)
    try:
        await bootstrap.prepare(settings, demo=True)
        officers = [await User.get(email="officer@demo.test"), await User.get(email="officer2@demo.test")]
        await PushSubscription.bulk_create(
            [
                PushSubscription(user=officers[i % 2], endpoint=s["endpoint"], p256dh=s["keys"]["p256dh"], auth=s["keys"]["auth"])
                for i, s in enumerate(subscriptions)
            ],
            batch_size=1000,
        )
        started = time.perf_counter()
        release = await publish_revision(summary="Benchmark release.", changes={"restraint-devices": "major"})
        enqueue = time.perf_counter() - started
        assert await PushOutbox.filter(release_id=release.id).count() == count
        payload = outbox.encode_payload((await PushOutbox.filter(release_id=release.id).first()).payload)

        reference = encrypt_only(subscriptions, payload, VapidSigner(signer.key, settings.vapid_subject))

        worker = PushWorker(settings, signer)
        started = time.perf_counter()
        cpu_before = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())["cpu_seconds"]
        own_cpu = time.process_time()
        counts = await worker.run(until_empty=True)
        fan_out = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu
        reference_again = encrypt_only(subscriptions[: count // 4], payload, signer) * 4
        stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
    finally:
        process.stdin.close()
        process.wait(10)
        await db.close_db()

    assert counts["sent"] == count and stats["delivered"] == count and stats["endpoints"] == count, (counts, stats)
    assert not stats["errors"], stats["errors"]
    print(f"notices:                {count} (payload {len(payload)} bytes), worker concurrency {concurrency}")
    print(f"publish + outbox rows:  {enqueue:.2f} s")
    print(f"fan-out (worker):       {fan_out:.2f} s  = {count / fan_out:,.0f} notices/s")
    print(f"encryption only:        {reference:.2f} s  = {count / reference:,.0f} notices/s (same payloads, same run)")
    print(f"  (again, after fan-out: {count / reference_again:,.0f} notices/s)")
    print(f"fan-out / encryption:   {fan_out / reference:.2f}x the encryption-only time")
    print(f"CPU during fan-out:     worker process {own_cpu:.2f} s, stand-in process {stats['cpu_seconds'] - cpu_before:.2f} s")
    print(f"stand-in: {stats['delivered']} delivered to {stats['endpoints']} endpoints, "
          f"{stats['decrypted']} decrypted and checked, {len(stats['errors'])} protocol errors")


class _RolledBack(Exception):
    """Raised to roll a timed transaction back."""


async def subscribe_officers(count: int) -> None:
    """`count` subscriptions spread over the demo agency's active users, as plain values."""
    client = connections.get("default")
    users = await User.filter(agency__slug="demo", active=True).order_by("id").values_list("id", flat=True)
    now = clock.now()
    columns = ["user_id", "endpoint", "p256dh", "auth", "user_agent", "created_at"]
    rows = [
        (users[i % len(users)], f"https://fcm.googleapis.com/fcm/send/bench-{i}", "p" * 87, "a" * 22, "", now)
        for i in range(count)
    ]
    if client.capabilities.dialect == "postgres":
        async with client.acquire_connection() as connection:
            await connection.copy_records_to_table("push_subscription", records=rows, columns=columns)
        await client.execute_script("ANALYZE")
    else:
        marks = ", ".join("?" for _ in columns)
        await client.execute_many(f"INSERT INTO push_subscription ({', '.join(columns)}) VALUES ({marks})", [list(r) for r in rows])


async def time_enqueue(label: str, settings: Settings, count: int, runs: int = 3) -> None:
    await bootstrap.prepare(settings, demo=True)
    await subscribe_officers(count)
    release = await Release.filter(agency__slug="demo").order_by("-number").first()
    times = []
    for _ in range(runs):
        try:
            async with in_transaction() as conn:
                started = time.perf_counter()
                written = await outbox.enqueue_release_notices(release, conn)
                times.append(time.perf_counter() - started)
                assert written == count, written
                raise _RolledBack
        except _RolledBack:
            pass
    started = time.perf_counter()
    published = await publish_revision(summary="Benchmark release.", changes={"restraint-devices": "major"})
    publish = time.perf_counter() - started
    assert await PushOutbox.filter(release_id=published.id).count() == count
    print(f"{label}: enqueue_release_notices, {count:,} subscriptions: median {statistics.median(times):.2f} s "
          f"of {runs} ({', '.join(f'{t:.2f}' for t in times)}); a whole publish {publish:.2f} s "
          f"(load {os.getloadavg()[0]:.2f})")


async def run_enqueue(count: int, backend: str, postgres: str) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fieldguide-enqueue-bench-"))
    try:
        if backend in ("sqlite", "both"):
            try:
                await time_enqueue("SQLite", Settings(data_dir=folder), count)
            finally:
                await db.close_db()
        if backend in ("postgres", "both"):
            async with scratch_postgres(postgres) as url:
                try:
                    await time_enqueue("PostgreSQL", Settings(data_dir=folder, database_url=url), count)
                finally:
                    await db.close_db()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--subscriptions", type=int, help="time only writing a publish's outbox rows, for this many")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both", help="with --subscriptions")
    parser.add_argument(
        "--postgres", default="postgres://postgres@127.0.0.1:5432", help="a PostgreSQL server to make a scratch database on"
    )
    args = parser.parse_args()
    if args.subscriptions:
        asyncio.run(run_enqueue(args.subscriptions, args.backend, args.postgres))
    else:
        asyncio.run(run(args.notices, args.concurrency))


if __name__ == "__main__":
    main()
