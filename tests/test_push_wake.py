"""How push workers wake: on PostgreSQL's NOTIFY, committed with the notices, in any process (and
again after their listening connection is cut); at a retry's due time rather than the next poll;
on SQLite through the in-process wake. Every worker here polls once a minute, so a delivery
within seconds can only come from a wake."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from server import bootstrap, db
from server.models import PushOutbox, PushSubscription, User
from server.push.listener import APPLICATION_NAME, WakeListener
from server.push.vapid import VapidSigner
from server.push.worker import PushWorker
from server.settings import Settings

from .helpers.database import cli_environment
from .helpers.push import eventually, settled
from .helpers.push_service import PushService
from .helpers.releases import publish_revision

FIELDGUIDE = str(Path(sys.executable).parent / "fieldguide")
LONG_POLL_MS = 60_000
WAKE_WITHIN = 10.0  # seconds: far inside the minute-long poll, generous for a loaded machine


@pytest.fixture
async def database(settings):
    """The test's database (both backends) opened in this process."""
    await db.open_db(settings)
    yield settings
    await db.close_db()


@pytest.fixture
async def pg_database(pg_settings):
    """A PostgreSQL demo database opened in this process, and a plain connection to watch it with."""
    await bootstrap.prepare(pg_settings, demo=True)
    watcher = await asyncpg.connect(pg_settings.postgres_dsn)
    yield pg_settings, watcher
    await watcher.close()
    await db.close_db()


@pytest.fixture
def service(settings_in_use):
    """The push-service stand-in, checking pushes against the test's VAPID key."""
    stand_in = PushService(vapid_key=VapidSigner.from_settings(settings_in_use).public_key, delay=0.01).start()
    yield stand_in
    assert stand_in.errors() == []
    stand_in.stop()


@pytest.fixture
def settings_in_use(request):
    """The settings of whichever database fixture the test uses."""
    if "pg_database" in request.fixturenames:
        return request.getfixturevalue("pg_database")[0]
    return request.getfixturevalue("database")


def push_worker(settings) -> subprocess.Popen:
    """Start `fieldguide push-worker` polling once a minute."""
    env = cli_environment(
        settings,
        FIELDGUIDE_PUSH_EXTRA_HOSTS="127.0.0.1",
        FIELDGUIDE_PUSH_CONCURRENCY="4",
        FIELDGUIDE_PUSH_LEASE_SECONDS="60",
        FIELDGUIDE_PUSH_POLL_MS=str(LONG_POLL_MS),
    )
    return subprocess.Popen(
        [FIELDGUIDE, "push-worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


async def stop(process: subprocess.Popen) -> str:
    """SIGTERM a worker and return its output once it has exited cleanly."""
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(asyncio.to_thread(process.communicate), 30)
    assert process.returncode == 0, err
    return out


async def listeners(watcher: asyncpg.Connection) -> set[int]:
    """Backend pids of the push workers' listening connections on the watched database."""
    rows = await watcher.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 "
        "AND query LIKE 'LISTEN%'",
        APPLICATION_NAME,
    )
    return {r["pid"] for r in rows}


async def subscribe(service: PushService, count: int) -> list[str]:
    """`count` subscriptions of the demo officer."""
    officer = await User.get(email="officer@demo.test")
    endpoints = []
    for _ in range(count):
        sub = service.subscribe()
        keys = sub["keys"]
        await PushSubscription.create(user=officer, endpoint=sub["endpoint"], p256dh=keys["p256dh"], auth=keys["auth"])
        endpoints.append(sub["endpoint"])
    return endpoints


async def test_a_worker_process_wakes_on_notify_and_again_after_its_connection_is_cut(pg_database, service):
    settings, watcher = pg_database
    endpoints = await subscribe(service, 3)
    process = push_worker(settings)
    try:
        (first,) = await eventually(lambda: listeners(watcher), timeout=30)

        # Published here, on this process's own connection: only the commit's NOTIFY reaches the worker.
        await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
        await eventually(lambda: len(service.delivered()) == 3, timeout=WAKE_WITHIN)

        await watcher.execute("SELECT pg_terminate_backend($1)", first)

        async def a_new_listener() -> set[int]:
            return await listeners(watcher) - {first}

        await eventually(a_new_listener, timeout=30)
        assert process.poll() is None, "the worker died with its listening connection"

        await publish_revision(summary="Typo fixed.", changes={"restraint-devices": "minor"})
        await eventually(lambda: len(service.delivered()) == 6, timeout=WAKE_WITHIN)
        assert Counter(r.endpoint for r in service.delivered()) == Counter({e: 2 for e in endpoints})
        assert "Push worker stopped" in await stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    async def none_listening() -> bool:
        return not await listeners(watcher)

    await eventually(none_listening)


async def test_three_workers_woken_together_take_disjoint_notices(pg_database, service):
    settings, watcher = pg_database
    endpoints = await subscribe(service, 300)
    service.delay = 0.05  # long enough a fan-out that every woken worker gets a share
    processes = [push_worker(settings) for _ in range(3)]
    try:

        async def all_listening() -> bool:
            return len(await listeners(watcher)) == 3

        await eventually(all_listening, timeout=30)
        await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
        await eventually(lambda: len(service.delivered()) >= 300, timeout=60)
        await eventually(settled)
        outputs = [await stop(p) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.communicate()
    assert Counter(r.endpoint for r in service.delivered()) == Counter({e: 1 for e in endpoints})
    sent = [int(out.split("stopped: ")[1].split(" sent")[0]) for out in outputs]
    # Each worker polls once a minute: each one's share came from the NOTIFY waking all three.
    assert sum(sent) == 300 and min(sent) > 0, outputs


@pytest.mark.fast_push
async def test_an_idle_worker_wakes_when_a_retry_is_due_not_at_the_next_poll(database, service):
    (endpoint,) = await subscribe(service, 1)
    service.script(endpoint, 500, 201)
    worker = PushWorker(database.with_(push_poll_ms=LONG_POLL_MS, push_retry_base_ms=300))
    task = asyncio.create_task(worker.run())
    try:
        await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
        worker.wake()  # as review.publish does after its commit (SQLite has no NOTIFY)
        await eventually(lambda: [r.status for r in service.to(endpoint)] == [500, 201], timeout=WAKE_WITHIN)
        await eventually(settled)
        row = await PushOutbox.get(endpoint=endpoint)
        assert (row.status, row.attempts) == ("sent", 2)
    finally:
        await worker.stop()
        await task


async def test_the_listener_keeps_retrying_a_database_it_cannot_reach(caplog, tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(data_dir=tmp_path, database_url=f"postgres://postgres@127.0.0.1:{port}/none")
    wakes = []
    listener = WakeListener(settings, lambda: wakes.append(1))
    with caplog.at_level(logging.WARNING, logger="fieldguide.push"):
        listener.start()
        await eventually(lambda: sum("cannot connect" in r.message for r in caplog.records) >= 2, timeout=10)
        assert not listener.listening and wakes == []
        await listener.stop()
    retries = [r.message for r in caplog.records if "cannot connect" in r.message]
    assert "retrying in 0.5 s" in retries[0] and "retrying in 1.0 s" in retries[1]
