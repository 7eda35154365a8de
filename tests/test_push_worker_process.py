"""`fieldguide push-worker` as its own process: stopped, killed mid-fan-out, restarted, and run
twice at once on one database. Nothing is lost; a notice is sent at least once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from server import db
from server.models import PushOutbox, PushSubscription, User
from server.push.vapid import VapidSigner

from .helpers.database import cli_environment
from .helpers.push import eventually
from .helpers.push_service import PushService
from .helpers.releases import publish_revision

FIELDGUIDE = str(Path(sys.executable).parent / "fieldguide")
CONCURRENCY = 4


@pytest.fixture
async def database(settings):
    """The test's database opened in this process (no app: the worker is another process)."""
    await db.open_db(settings)
    yield settings
    await db.close_db()


@pytest.fixture
def service(settings):
    """The stand-in, slowed so a fan-out takes long enough to interrupt."""
    stand_in = PushService(vapid_key=VapidSigner.from_settings(settings).public_key, delay=0.05).start()
    yield stand_in
    assert stand_in.errors() == []
    stand_in.stop()


def worker(settings, *args: str, lease: int = 2, poll_ms: int = 50) -> subprocess.Popen:
    """Start `fieldguide push-worker` on the test's data folder and database."""
    env = cli_environment(
        settings,
        FIELDGUIDE_PUSH_EXTRA_HOSTS="127.0.0.1",
        FIELDGUIDE_PUSH_CONCURRENCY=str(CONCURRENCY),
        FIELDGUIDE_PUSH_LEASE_SECONDS=str(lease),
        FIELDGUIDE_PUSH_POLL_MS=str(poll_ms),
        FIELDGUIDE_PUSH_RETRY_BASE_MS="50",
    )
    return subprocess.Popen(
        [FIELDGUIDE, "push-worker", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


async def started(process: subprocess.Popen) -> str:
    """Wait for the worker's start line."""
    line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
    assert line.startswith("Push worker started"), line + process.stderr.read()
    return line


async def finished(process: subprocess.Popen, timeout: float = 60) -> str:
    """Wait for a worker to exit by itself; its last output line."""
    out, err = await asyncio.wait_for(asyncio.to_thread(process.communicate), timeout)
    assert process.returncode == 0, err
    return out


async def subscribe_officers(service: PushService, count: int) -> list[str]:
    """`count` subscriptions shared among the demo agency's two officers."""
    officers = [await User.get(email="officer@demo.test"), await User.get(email="officer2@demo.test")]
    endpoints = []
    for i in range(count):
        sub = service.subscribe()
        await PushSubscription.create(user=officers[i % 2], endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"])
        endpoints.append(sub["endpoint"])
    return endpoints


async def test_killed_mid_fan_out_then_restarted_delivers_the_rest(database, service):
    endpoints = await subscribe_officers(service, 60)
    first = worker(database)
    await started(first)
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    await eventually(lambda: len(service.delivered()) >= 12)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    first.stdout.close(), first.stderr.close()
    delivered_before = len(service.delivered())
    assert delivered_before < len(endpoints), "the worker was killed mid-fan-out"
    stuck = await PushOutbox.filter(status="sending").count()
    assert await PushOutbox.filter(status__in=("pending", "sending")).exists()

    second = worker(database, "--until-empty")
    await started(second)
    await finished(second)
    assert {r.status for r in await PushOutbox.all()} == {"sent"}
    per_endpoint = Counter(r.endpoint for r in service.delivered())
    assert set(per_endpoint) == set(endpoints)
    # At least once: only notices in flight when the worker died may arrive twice, and they
    # share a Topic, so the push service replaces rather than stacks them on the phone.
    duplicates = sum(n - 1 for n in per_endpoint.values())
    assert duplicates <= stuck <= 2 * CONCURRENCY
    assert {r.topic for r in service.delivered()} == {"guidance"}


async def test_sigterm_finishes_in_flight_notices_and_hands_back_the_rest(database, service):
    endpoints = await subscribe_officers(service, 40)
    first = worker(database, lease=600)
    await started(first)
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    await eventually(lambda: len(service.delivered()) >= 8)
    first.send_signal(signal.SIGTERM)
    out = await finished(first, timeout=30)
    assert "Push worker stopped" in out
    # Nothing is left claimed by the stopped worker, so a new one sends at once (no lease wait).
    assert not await PushOutbox.filter(status="sending").exists()
    assert await PushOutbox.filter(status="pending").exists()
    second = worker(database, "--until-empty", lease=600)
    await started(second)
    await finished(second)
    per_endpoint = Counter(r.endpoint for r in service.delivered())
    assert per_endpoint == Counter({e: 1 for e in endpoints})


async def test_two_workers_on_one_database_send_each_notice_once(database, service):
    endpoints = await subscribe_officers(service, 120)
    await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    workers = [worker(database, "--until-empty", lease=600) for _ in range(2)]
    for process in workers:
        await started(process)
    outputs = [await finished(process) for process in workers]
    per_endpoint = Counter(r.endpoint for r in service.delivered())
    assert per_endpoint == Counter({e: 1 for e in endpoints})
    sent = [int(out.split("stopped: ")[1].split(" sent")[0]) for out in outputs]
    assert sum(sent) == len(endpoints) and min(sent) > 0, outputs
