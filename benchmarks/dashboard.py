"""How fast the supervisor's dashboard answers for a large agency, on SQLite and on PostgreSQL.

Builds the demo agency with N officers (all in one agency: the hardest case), R releases
(about a third with minor changes only) and a hash-chained set of acknowledgments (older
releases nearly all acknowledged, some late; recent ones still coming in): at the default
20,000 officers and 200 releases about 2 million. Acknowledgments are loaded in bulk (COPY on
PostgreSQL, executemany in large transactions on SQLite) with every row hash computed, then
the release tallies are rebuilt from them as migration 0004 would. It then times the
dashboard pages through the ASGI app as SERVER time (median, measured inside the app), beside
a trivial page and the guide's home page measured in the same run, with the 1-minute load
average when each figure was taken.

    .venv/bin/python benchmarks/dashboard.py [--officers 20000] [--releases 200] [--runs 15]
        [--database-url postgres://USER@HOST:PORT] [--both] [--verify]

--database-url: default a temporary SQLite file; for PostgreSQL a unique database is made on
that server and dropped afterwards. --both: SQLite, then PostgreSQL (at --database-url, or
postgres://postgres@127.0.0.1:5432). --verify: re-hash the whole chain afterwards (slow).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402
from tortoise import connections  # noqa: E402

from benchmarks.scratch_database import scratch_postgres  # noqa: E402
from server import bootstrap, db, tally  # noqa: E402
from server.acknowledgments.ledger import (  # noqa: E402
    GENESIS,
    attestation_text,
    row_hash,
    stamp,
    verify_agency,
)
from server.app import create_app  # noqa: E402
from server.models import Agency, Device, Release, ReleaseCard, Role, User  # noqa: E402
from server.settings import Settings  # noqa: E402

SCHOOLS = [f"School {i:02d}" for i in range(1, 41)]
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
ACK_COLUMNS = (
    "agency_id", "seq", "user_id", "release_id", "uuid", "card_hashes", "attestation",
    "device_time", "received_at", "device_id", "prev_hash", "row_hash",
)
TARGETS = {"overview": 50, "release": 100}  # ms, median server time on PostgreSQL


async def build_roster(officers: int, releases: int, rng: random.Random) -> tuple[Agency, list, list, datetime]:
    """Releases every two weeks, officers (most there from the start) and their devices."""
    agency = await Agency.get(slug="demo")
    first = await Release.get(agency=agency, number=1)
    cards = await ReleaseCard.filter(release=first).values("card_id", "position", "version_id")
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=14 * releases)
    rows = [first]
    for number in range(2, releases + 1):
        rows.append(
            Release(
                agency=agency,
                number=number,
                summary=f"Release {number}.",
                categories=first.categories,
                flow=first.flow,
                requires_ack=rng.random() > 0.33,
                manifest_hash=f"{number:064x}",
            )
        )
    await Release.bulk_create(rows[1:], batch_size=500)
    rows = await Release.filter(agency=agency).order_by("number")
    await ReleaseCard.bulk_create(
        [
            ReleaseCard(release=r, card_id=c["card_id"], position=c["position"], version_id=c["version_id"])
            for r in rows[1:]
            for c in cards
        ],
        batch_size=5000,
    )
    for i, release in enumerate(rows):
        release.published_at = start + timedelta(days=14 * i)
        release.due_at = release.published_at + timedelta(days=14)
        await Release.filter(id=release.id).update(published_at=release.published_at, due_at=release.due_at)
    # Officers: most on the roster from the start, some hired along the way, a few deactivated.
    people = []
    for i in range(officers):
        joined = start - timedelta(days=30) if rng.random() < 0.85 else start + timedelta(days=rng.uniform(0, 14 * releases))
        people.append(
            User(
                agency=agency,
                email=f"officer{i:05d}@bench.test",
                name=f"Officer {i:05d}",
                role=Role.OFFICER,
                school=rng.choice(SCHOOLS),
                active=rng.random() > 0.02,
                created_at=joined,
            )
        )
    await User.bulk_create(people, batch_size=2000)
    people = await User.filter(agency=agency, email__endswith="@bench.test").order_by("id")
    devices = [
        Device(user=u, device_id=f"dev-{u.id}", last_sync_at=now - timedelta(hours=rng.uniform(1, 400)))
        for u in people
        if rng.random() > 0.05
    ]
    await Device.bulk_create(devices, batch_size=2000)
    return agency, rows, people, now


def ack_rows(agency: Agency, releases: list, people: list, now: datetime, rng: random.Random):
    """Each ack release's rows, in chain order: one release at a time (memory stays small)."""
    seq, prev = 0, GENESIS
    for index, release in enumerate(releases):
        if not release.requires_ack:
            continue
        age = len(releases) - index  # 1 = newest
        share = 0.97 if age > 3 else (0.45, 0.75, 0.9)[age - 1]
        sentence = attestation_text(agency, release.number)
        chosen = []
        for person in people:
            if person.created_at > release.published_at + timedelta(days=14 * 3) or rng.random() > share:
                continue
            delay = timedelta(hours=rng.expovariate(1 / 96))  # mean four days, long tail (late)
            received = min(release.published_at + max(delay, timedelta(minutes=5)), now)
            if person.created_at > received:
                received = person.created_at + timedelta(hours=1)
            chosen.append((received, person.id))
        chosen.sort()
        batch = []
        for received, user_id in chosen:
            seq += 1
            device_time = received - timedelta(seconds=30)
            content = {
                "seq": seq,
                "agency_id": agency.id,
                "user_id": user_id,
                "release": release.number,
                "uuid": f"{seq:08x}-0000-4000-8000-{user_id:012x}",
                "card_hashes": [],
                "attestation": sentence,
                "device_time": stamp(device_time),
                "received_at": stamp(received),
                "device_id": f"dev-{user_id}",
                "prev_hash": prev,
            }
            prev = row_hash(content)
            batch.append(
                (agency.id, seq, user_id, release.id, content["uuid"], "[]", sentence, device_time, received,
                 content["device_id"], content["prev_hash"], prev)
            )
        yield batch


async def load_acks_postgres(url: str, batches) -> int:
    """COPY the rows into the acknowledgment table; the next release's rows are made meanwhile."""
    conn = await asyncpg.connect(url)
    count = 0
    try:
        upcoming = asyncio.create_task(asyncio.to_thread(next, batches, None))
        while (batch := await upcoming) is not None:
            upcoming = asyncio.create_task(asyncio.to_thread(next, batches, None))
            await conn.copy_records_to_table("acknowledgment", records=batch, columns=ACK_COLUMNS)
            count += len(batch)
    finally:
        await conn.close()
    return count


def load_acks_sqlite(path: Path, batches) -> int:
    """executemany in large transactions, times written the way the app stores them."""
    conn = sqlite3.connect(path)
    sql = f"INSERT INTO acknowledgment ({', '.join(ACK_COLUMNS)}) VALUES ({', '.join('?' * len(ACK_COLUMNS))})"
    count = 0
    try:
        for batch in batches:
            conn.executemany(sql, [(*r[:7], r[7].isoformat(" "), r[8].isoformat(" "), *r[9:]) for r in batch])
            count += len(batch)
            if count % 200_000 < len(batch):
                conn.commit()
        conn.commit()
    finally:
        conn.close()
    return count


async def build(settings: Settings, officers: int, releases: int, seed: int = 7) -> dict:
    """Fill the demo agency of a new database; return what was built."""
    rng = random.Random(seed)
    began = time.perf_counter()
    try:
        await bootstrap.prepare(settings, demo=True)
        agency, release_rows, people, now = await build_roster(officers, releases, rng)
    finally:
        await db.close_db()
    roster_done = time.perf_counter()
    batches = ack_rows(agency, release_rows, people, now, rng)
    if settings.is_sqlite:
        acks = await asyncio.to_thread(load_acks_sqlite, settings.data_dir / "fieldguide.sqlite3", batches)
    else:
        acks = await load_acks_postgres(settings.database_url, batches)
    acks_done = time.perf_counter()
    await db.open_db(settings)
    try:
        await tally.rebuild(agency.id)
        conn = connections.get("default")
        # What autovacuum and autoanalyze do on a live database: statistics for the planner.
        await conn.execute_script("ANALYZE" if settings.is_sqlite else "VACUUM ANALYZE")
    finally:
        await db.close_db()
    ack_numbers = [r.number for r in release_rows if r.requires_ack]
    return {
        "agency": agency.id,
        "officers": officers,
        "releases": releases,
        "acks": acks,
        "current": release_rows[-1].number,
        "current_ack": ack_numbers[-1],
        "old_ack": ack_numbers[len(ack_numbers) // 2],
        "phases": f"roster {roster_done - began:.0f} s, acknowledgments {acks_done - roster_done:.0f} s, "
        f"tallies and statistics {time.perf_counter() - acks_done:.0f} s",
    }


def server_timed(app, samples: list[float]):
    """The app, recording how long each HTTP request takes inside it (the server's time)."""

    async def timed(scope, receive, send):
        began = time.perf_counter()
        await app(scope, receive, send)
        if scope["type"] == "http":
            samples.append(time.perf_counter() - began)

    return timed


async def median_ms(client: httpx.AsyncClient, samples: list[float], path: str, runs: int) -> float:
    """Median server milliseconds of GET path over `runs` runs (after one warm-up)."""
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    samples.clear()
    for _ in range(runs):
        response = await client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(samples) * 1000


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


async def measure(settings: Settings, built: dict, runs: int, label: str) -> None:
    """Time the dashboard pages and the reference pages on one database."""
    samples: list[float] = []
    app = create_app(settings.with_(push_worker=False))
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=server_timed(app, samples))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            form = await client.get("/sign-in")
            token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            await client.post(
                "/sign-in",
                data={"email": "supervisor@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": token},
            )
            trivial = await median_ms(client, samples, "/offline", runs)
            print(f"{label:<10} reference {'/offline (trivial page)':<52} median {trivial:6.1f} ms  {load()}")
            home = await median_ms(client, samples, "/", runs)
            print(f"{label:<10} reference {'/ (the guide home page)':<52} median {home:6.1f} ms  {load()}")
            current, old = built["current_ack"], built["old_ack"]
            pages = [
                ("overview", "/supervisor"),
                ("release", f"/supervisor/releases/{current}"),
                ("release", f"/supervisor/releases/{current}?status=all"),
                ("release", f"/supervisor/releases/{current}?status=all&page=150"),
                ("release", f"/supervisor/releases/{old}"),
                ("release", f"/supervisor/releases/{old}?status=all"),
                ("release", f"/supervisor/releases/{old}?school=School+07&status=all"),
            ]
            for kind, path in pages:
                ms = await median_ms(client, samples, path, runs)
                print(
                    f"{label:<10} {kind:<9} {path:<52} median {ms:6.1f} ms  {ms / trivial:5.1f}x trivial  "
                    f"(target {TARGETS[kind]} ms)  {load()}"
                )


async def run(database_url: str, officers: int, releases: int, runs: int, verify: bool) -> None:
    """Build, measure and clean up one database (SQLite when database_url is empty)."""
    with tempfile.TemporaryDirectory() as folder:
        if database_url:
            async with scratch_postgres(database_url) as url:
                await run_on(Settings(data_dir=Path(folder), database_url=url), officers, releases, runs, verify)
        else:
            await run_on(Settings(data_dir=Path(folder)), officers, releases, runs, verify)


async def run_on(settings: Settings, officers: int, releases: int, runs: int, verify: bool) -> None:
    """Build the data in this database, check it if asked, and time the pages."""
    label = "sqlite" if settings.is_sqlite else "postgres"
    began = time.perf_counter()
    built = await build(settings, officers, releases)
    print(
        f"{label:<10} built {built['officers']} officers, {built['releases']} releases, "
        f"{built['acks']:,} acknowledgments in {time.perf_counter() - began:.0f} s ({built['phases']})  {load()}"
    )
    if verify:
        await db.open_db(settings)
        try:
            checked = await verify_agency(built["agency"])
            assert checked.broken is None and checked.count == built["acks"], checked
            assert await tally.differences(built["agency"]) == {}
            print(f"{label:<10} chain intact ({checked.count:,} rows), tallies equal a recount")
        finally:
            await db.close_db()
    await measure(settings, built, runs, label)


async def main(args) -> None:
    urls = ["", args.database_url or DEFAULT_PG] if args.both else [args.database_url]
    for url in urls:
        await run(url, args.officers, args.releases, args.runs, args.verify)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officers", type=int, default=20000)
    parser.add_argument("--releases", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--database-url", default="", help="postgres://USER@HOST:PORT (default: a temporary SQLite)")
    parser.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL")
    parser.add_argument("--verify", action="store_true", help="re-hash the chain and recount the tallies")
    asyncio.run(main(parser.parse_args()))
