"""How fast a release's push notices fan out, against the cost of encrypting them.

Starts the push-service stand-in (tests/helpers/push_service.py) as its own process with N
subscriptions; it checks every request's VAPID JWT, headers and size and decrypts one notice
in 100. In a temporary SQLite database it subscribes the demo officers' N devices, publishes
a release (writing N outbox rows in the publish transaction), then times a push worker
draining the outbox. As the same-run floor it times the cryptography alone for the same N
notices, as the worker does it (the `webpush` package's RFC 8291 encryption: an ephemeral key
pair, ECDH, HKDF, AES-128-GCM; the VAPID header signed once per origin), with no HTTP and no
database, and prints the fan-out's rate, the floor's, their ratio and the load average. With
--profile FILE it also profiles the fan-out (cProfile) and prints where the time goes.

    .venv/bin/python benchmarks/push_fanout.py [--notices 10000] [--concurrency 64] [--profile FILE]

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
import cProfile
import json
import os
import pstats
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


from tortoise import connections  # noqa: E402
from tortoise.transactions import in_transaction  # noqa: E402

from benchmarks.scratch_database import scratch_postgres  # noqa: E402
from server import bootstrap, clock, db  # noqa: E402
from server.models import PushOutbox, PushSubscription, Release, User  # noqa: E402
from server.push import outbox  # noqa: E402
from server.push.vapid import VapidSigner  # noqa: E402
from server.push.wire import Wire  # noqa: E402
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


def encrypt_only(subscriptions: list[dict], payload: bytes, signer: VapidSigner) -> tuple[float, float]:
    """Seconds (wall, CPU) to encrypt the payload for every subscription and look up its VAPID header."""
    wire = Wire(signer)
    start, cpu = time.perf_counter(), time.process_time()
    for sub in subscriptions:
        wire.headers(sub["endpoint"], outbox.RELEASE_TTL, "high", outbox.TOPIC)
        wire.encrypt(payload, sub["keys"]["p256dh"], sub["keys"]["auth"])
    return time.perf_counter() - start, time.process_time() - cpu


def profile_summary(profiler: cProfile.Profile, path: str) -> None:
    """Where the fan-out's time went: the functions with the most time of their own."""
    profiler.dump_stats(path)
    stats = pstats.Stats(path)
    total = stats.total_tt
    print(f"profile ({path}), {total:.2f} s of the worker's time, top functions by own time:")
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:15]
    for (file, line, name), (_, calls, own, _cumulative, _) in rows:
        print(f"  {100 * own / total:5.1f} %  {calls:>8}  {Path(file).name}:{line} {name}")


async def run(count: int, concurrency: int, profile: str | None) -> None:
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

        reference, reference_cpu = encrypt_only(subscriptions, payload, VapidSigner(signer.key, settings.vapid_subject))

        worker = PushWorker(settings, signer)
        started = time.perf_counter()
        cpu_before = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())["cpu_seconds"]
        own_cpu = time.process_time()
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        counts = await worker.run(until_empty=True)
        if profiler:
            profiler.disable()
        fan_out = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu
        load = os.getloadavg()
        reference_again, reference_again_cpu = (4 * t for t in encrypt_only(subscriptions[: count // 4], payload, signer))
        stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
    finally:
        process.stdin.close()
        process.wait(10)
        await db.close_db()

    assert counts["sent"] == count and stats["delivered"] == count and stats["endpoints"] == count, (counts, stats)
    assert not stats["errors"], stats["errors"]
    print(f"notices:                {count} (payload {len(payload)} bytes), worker concurrency {concurrency}")
    print(f"publish + outbox rows:  {enqueue:.2f} s")
    floor = count / min(reference, reference_again)
    print(f"fan-out (worker):       {fan_out:.2f} s  = {count / fan_out:,.0f} notices/s"
          f" ({count / own_cpu:,.0f} per CPU second of the worker process)")
    print(f"cryptography only:      {reference:.2f} s  = {count / reference:,.0f} notices/s (same notices, same run)")
    print(f"  (again, after fan-out: {count / reference_again:,.0f} notices/s; the floor is the faster: {floor:,.0f}/s)")
    floor_cpu = count / min(reference_cpu, reference_again_cpu)
    print(f"fan-out / floor:        {count / fan_out / floor:.2f}x the cryptography-only rate "
          f"({count / own_cpu / floor_cpu:.2f}x per CPU second: {count / own_cpu:,.0f} against {floor_cpu:,.0f})")
    print(f"CPU during fan-out:     worker process {own_cpu:.2f} s, stand-in process {stats['cpu_seconds'] - cpu_before:.2f} s")
    print(f"load average:           {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"stand-in: {stats['delivered']} delivered to {stats['endpoints']} endpoints, "
          f"{stats['decrypted']} decrypted and checked, {len(stats['errors'])} protocol errors, "
          f"over {stats['connections']} connections")
    if profiler:
        profile_summary(profiler, profile)


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
    parser.add_argument("--profile", metavar="FILE", help="profile the fan-out (cProfile) into FILE and summarise it")
    parser.add_argument("--subscriptions", type=int, help="time only writing a publish's outbox rows, for this many")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both", help="with --subscriptions")
    parser.add_argument(
        "--postgres", default="postgres://postgres@127.0.0.1:5432", help="a PostgreSQL server to make a scratch database on"
    )
    args = parser.parse_args()
    if args.subscriptions:
        asyncio.run(run_enqueue(args.subscriptions, args.backend, args.postgres))
    else:
        asyncio.run(run(args.notices, args.concurrency, args.profile))


if __name__ == "__main__":
    main()
