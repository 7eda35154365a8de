"""How fast the supervisor's dashboard answers for a large agency.

Builds, in a temporary SQLite database, the demo agency with 2,000 officers, 100 releases
(about a third with minor changes only) and a realistic hash-chained set of acknowledgments
(older releases nearly all acknowledged, some late; recent ones still coming in), then times
the dashboard pages through the ASGI app and, in the same run, a trivial page as reference.

    .venv/bin/python benchmarks/dashboard.py [--officers 2000] [--releases 100] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402

from server import bootstrap, db  # noqa: E402
from server.acknowledgments.ledger import (  # noqa: E402
    GENESIS,
    attestation_text,
    chain_content,
    row_hash,
)
from server.app import create_app  # noqa: E402
from server.models import (  # noqa: E402
    Acknowledgment,
    Agency,
    Device,
    Release,
    ReleaseCard,
    Role,
    User,
)
from server.settings import Settings  # noqa: E402

SCHOOLS = [f"School {i:02d}" for i in range(1, 41)]


async def build(officers: int, releases: int, seed: int = 7) -> dict:
    """Fill the open database's demo agency with officers, releases and acknowledgments."""
    rng = random.Random(seed)
    agency = await Agency.get(slug="demo")
    first = await Release.get(agency=agency, number=1)
    cards = await ReleaseCard.filter(release=first).values("card_id", "position", "version_id")
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=14 * releases)
    # Releases every two weeks; a third carry minor changes only; due two weeks after publication.
    release_rows = [first]
    for number in range(2, releases + 1):
        release_rows.append(
            await Release.create(
                agency=agency,
                number=number,
                summary=f"Release {number}.",
                categories=first.categories,
                flow=first.flow,
                requires_ack=rng.random() > 0.33,
                manifest_hash=f"{number:064x}",
            )
        )
    await ReleaseCard.bulk_create(
        [
            ReleaseCard(release=r, card_id=c["card_id"], position=c["position"], version_id=c["version_id"])
            for r in release_rows[1:]
            for c in cards
        ],
        batch_size=2000,
    )
    for i, release in enumerate(release_rows):
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
    await User.bulk_create(people, batch_size=1000)
    people = await User.filter(agency=agency, email__endswith="@bench.test").order_by("id")
    devices = [
        Device(user=u, device_id=f"dev-{u.id}", last_sync_at=now - timedelta(hours=rng.uniform(1, 400)))
        for u in people
        if rng.random() > 0.05
    ]
    await Device.bulk_create(devices, batch_size=1000)

    # Acknowledgments: each officer acknowledges most releases in effect since they joined.
    pending = []
    for index, release in enumerate(release_rows):
        if not release.requires_ack:
            continue
        age = len(release_rows) - index  # 1 = newest
        share = 0.97 if age > 3 else (0.45, 0.75, 0.9)[age - 1]
        for person in people:
            if person.created_at > release.published_at + timedelta(days=14 * 3) or rng.random() > share:
                continue
            delay = timedelta(hours=rng.expovariate(1 / 96))  # mean four days, long tail (late)
            received = min(release.published_at + max(delay, timedelta(minutes=5)), now)
            if person.created_at > received:
                received = person.created_at + timedelta(hours=1)
            pending.append((received, person, release))
    pending.sort(key=lambda item: item[0])
    agency_text = attestation_text
    prev = GENESIS
    rows = []
    for seq, (received, person, release) in enumerate(pending, start=1):
        ack = Acknowledgment(
            agency_id=agency.id,
            seq=seq,
            user_id=person.id,
            release_id=release.id,
            uuid=f"{seq:08x}-0000-4000-8000-{person.id:012x}",
            card_hashes=[],
            attestation=agency_text(agency, release.number),
            device_time=received - timedelta(seconds=30),
            received_at=received,
            device_id=f"dev-{person.id}",
            prev_hash=prev,
            row_hash="",
        )
        ack.row_hash = row_hash(chain_content(ack, release.number))
        prev = ack.row_hash
        rows.append(ack)
    await Acknowledgment.bulk_create(rows, batch_size=5000)
    return {"officers": officers, "releases": releases, "acks": len(rows), "current": release_rows[-1].number}


async def timed(client: httpx.AsyncClient, path: str, runs: int) -> float:
    """Median seconds of GET path over `runs` runs (after one warm-up)."""
    response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        response = await client.get(path)
        samples.append(time.perf_counter() - began)
        assert response.status_code == 200
    return statistics.median(samples)


async def main(officers: int, releases: int, runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        began = time.perf_counter()
        try:
            await bootstrap.prepare(settings, demo=True)
            built = await build(officers, releases)
        finally:
            await db.close_db()
        print(
            f"Built {built['officers']} officers, {built['releases']} releases, {built['acks']} acknowledgments "
            f"in {time.perf_counter() - began:.1f} s"
        )
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                form = await client.get("/sign-in")
                token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                await client.post(
                    "/sign-in",
                    data={"email": "supervisor@demo.test", "password": bootstrap.DEMO_PASSWORD, "csrf_token": token},
                )
                reference = await timed(client, "/offline", runs)
                guide = await timed(client, "/", runs)
                pages = {
                    "overview /supervisor": "/supervisor",
                    f"release /supervisor/releases/{built['current']}": f"/supervisor/releases/{built['current']}",
                    f"release, everyone /supervisor/releases/{built['current']}?status=all": f"/supervisor/releases/{built['current']}?status=all",
                }
                print(f"reference  {'/offline (trivial page)':<45} median {reference * 1000:7.1f} ms")
                print(f"reference  {'/ (the guide home page)':<45} median {guide * 1000:7.1f} ms")
                for label, path in pages.items():
                    seconds = await timed(client, path, runs)
                    print(
                        f"dashboard  {label:<45} median {seconds * 1000:7.1f} ms  "
                        f"{seconds / reference:5.1f}x trivial, {seconds / guide:4.1f}x home  (target < 150 ms)"
                    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officers", type=int, default=2000)
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.officers, args.releases, args.runs))
