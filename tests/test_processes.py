"""The production layout for real: the app servers and push workers that docs/deployment.md enables
(2 and 3), started from the units and environment file in deploy/, on one fresh PostgreSQL
database with the Web Push stand-in. Processes are killed with SIGKILL and restarted as systemd
would; nothing is lost, nothing is stored twice, and every process answers the same way.

These tests run once (on PostgreSQL: several processes need it) and share one site, in order.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import time
import uuid as uuid_lib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import pytest_asyncio
from tortoise import connections

from server import bootstrap, db
from server.guidance.content import load_content
from server.models import (
    Acknowledgment,
    Agency,
    BaseCard,
    PushOutbox,
    PushSubscription,
    Release,
    Role,
    User,
)
from server.people import auth
from server.push.vapid import _parse_key, public_key_b64
from server.settings import Settings

from .helpers.csrf import csrf_of
from .helpers.database import database_name
from .helpers.editor import (
    TEACHER_NEW,
    TEACHER_OLD,
    edit_body,
    review_and_publish,
    start_draft,
)
from .helpers.processes import (
    FIELDGUIDE,
    Site,
    deployment_layout,
    new_ledger_key,
    new_vapid_key,
    nginx_upstream_ports,
)
from .helpers.push import eventually
from .helpers.push_service import PushService
from .helpers.releases import publish_revision

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOTICES = 5000
LOAD_OFFICERS = 150
PASSWORD = bootstrap.DEMO_PASSWORD
CONCURRENCY = 16  # FIELDGUIDE_PUSH_CONCURRENCY of each worker
LEASE = 10  # seconds; a worker's send times out after half of it
SEED = random.randrange(1 << 30)


@dataclass
class Running:
    """The site under test: its processes, the push stand-in, and what the test process knows."""

    site: Site
    settings: Settings
    env: dict[str, str]
    service: PushService
    agency: Agency
    officers: list[tuple[User, str, str]] = field(default_factory=list)  # user, session token, csrf token
    endpoints: list[str] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [p.url for p in self.site.servers]


@pytest.fixture(scope="module")
def pg_database(pg_admin):
    """One fresh, empty PostgreSQL database for the module, dropped afterwards."""
    name = pg_admin.create(database_name("processes"))
    try:
        yield pg_admin.url(name)
    finally:
        pg_admin.drop(name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(pg_database, tmp_path_factory):
    """The docs' layout on the fresh database: servers started at once, then officers, subscriptions, workers."""
    folder = tmp_path_factory.mktemp("site")
    key = new_vapid_key()
    site_env = {
        "FIELDGUIDE_DATABASE_URL": pg_database,
        "FIELDGUIDE_VAPID_PRIVATE_KEY": key,
        "FIELDGUIDE_LEDGER_SIGNING_KEY": new_ledger_key(),
        "FIELDGUIDE_DATA_DIR": str(folder),
        "FIELDGUIDE_PUSH_EXTRA_HOSTS": "127.0.0.1",
        "FIELDGUIDE_PUSH_POLL_MS": "200",
        "FIELDGUIDE_PUSH_LEASE_SECONDS": str(LEASE),
        "FIELDGUIDE_PUSH_RETRY_BASE_MS": "100",
        "FIELDGUIDE_PUSH_CONCURRENCY": str(CONCURRENCY),
    }
    site = Site.from_docs(folder, site_env)
    settings = Settings(data_dir=folder, database_url=pg_database)
    service = PushService(vapid_key=public_key_b64(_parse_key(key)), decrypt_every=50).start()
    opened = False
    try:
        await asyncio.to_thread(site.start_servers)
        await db.open_db(settings)
        opened = True
        agency = await bootstrap.create_agency(settings, *bootstrap.DEMO_AGENCY)
        for email, name, role, school in bootstrap.DEMO_USERS:
            await bootstrap.create_user(agency, email, name, role, PASSWORD, school)
        running = Running(site, settings, site.servers[0].env, service, agency)
        shared_hash = (await User.get(email="officer@demo.test")).password_hash
        await User.bulk_create([
            User(agency=agency, email=f"load{i}@demo.test", name=f"Officer {i}", role=Role.OFFICER,
                 password_hash=shared_hash, school="Lincoln High School")
            for i in range(LOAD_OFFICERS)
        ])
        for user in await User.filter(email__startswith="load").order_by("id"):
            token, session = await auth.start_session(user, 30)
            running.officers.append((user, token, session.csrf_token))
        subscriptions = []
        for i in range(NOTICES):
            sub = service.subscribe()
            subscriptions.append(PushSubscription(
                user=running.officers[i % LOAD_OFFICERS][0], endpoint=sub["endpoint"],
                p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"],
            ))
            running.endpoints.append(sub["endpoint"])
        await PushSubscription.bulk_create(subscriptions, batch_size=1000)
        await asyncio.to_thread(site.start_workers)
        yield running
    finally:
        await asyncio.to_thread(site.stop)
        # Shown by pytest only when a test of the module failed.
        print(f"random seed {SEED}\n" + site.logs())
        errors = service.errors()
        service.stop()
        if opened:
            await db.close_db()
        assert errors == [], "a process broke the Web Push protocol"


# --- helpers --------------------------------------------------------------------------------


class ThroughProxy(httpx.AsyncBaseTransport):
    """What the HTTPS proxy does for a browser: TLS ends here, the request goes on over http with
    X-Forwarded-Proto and the browser's address in X-Forwarded-For (the servers trust them from
    127.0.0.1, as FORWARDED_ALLOW_IPS in the environment file says)."""

    def __init__(self, address: str):
        self.address = address
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http")
        request.headers["X-Forwarded-Proto"] = "https"
        request.headers["X-Forwarded-For"] = self.address
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def browser(address: str, base_url: str = "", cookies=None) -> httpx.AsyncClient:
    """One browser at an address: its cookies (Secure ones too, over https) go to whichever server it asks."""
    client = httpx.AsyncClient(base_url=base_url, cookies=cookies, transport=ThroughProxy(address), timeout=30)
    client.address = address
    return client


def on(c: httpx.AsyncClient, base_url: str) -> httpx.AsyncClient:
    """The same browser (its cookies) with relative paths going to one server."""
    return browser(c.address, base_url, c.cookies.jar)


async def sign_in(c: httpx.AsyncClient, url: str, email: str, password: str = PASSWORD) -> int:
    """The real sign-in form on one server; the answer's status."""
    page = await c.get(url + "/sign-in")
    answer = await c.post(url + "/sign-in", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)})
    error = re.search(r'class="error"[^>]*>(.*?)</', answer.text, re.DOTALL)
    print(f"sign in {email} on {url}: {answer.status_code} {error.group(1).strip() if error else ''}")
    return answer.status_code


def delivered_since(service: PushService, mark: int) -> Counter:
    """Notices the stand-in accepted after the first `mark` requests, per endpoint."""
    with service._lock:
        later = service.received[mark:]
    return Counter(r.endpoint for r in later if r.status == 201)


def received_count(service: PushService) -> int:
    with service._lock:
        return len(service.received)


async def all_sent(release: Release) -> bool:
    return not await PushOutbox.filter(release_id=release.id, status__in=("pending", "sending")).exists()


def ledger_verify(running: Running) -> subprocess.CompletedProcess:
    """`fieldguide ledger verify` run as an operator would, with the site's environment."""
    return subprocess.run([str(FIELDGUIDE), "ledger", "verify", "--agency", "demo"], env=running.env, check=False,
                          capture_output=True, text=True, timeout=60)


CARD_HASHES: dict[int, list[str]] = {}  # by release number: the cards an acknowledgment names


async def post_ack(url: str, officer: tuple[User, str, str], release: int, key: str) -> httpx.Response:
    """One officer's phone posting its queued acknowledgment (naming the release's cards) to one server."""
    _, token, csrf = officer
    headers = {"X-CSRF-Token": csrf, "Cookie": f"fg_session={token}"}
    async with httpx.AsyncClient(timeout=30) as c:
        if release not in CARD_HASHES:
            manifest = await c.get(f"{url}/api/v1/manifest", params={"release": release}, headers=headers)
            CARD_HASHES[release] = [card["hash"] for card in manifest.json()["cards"]]
        return await c.post(f"{url}/api/v1/acks", json={"uuid": key, "release": release, "card_hashes": CARD_HASHES[release]},
                            headers=headers)


# --- the tests ------------------------------------------------------------------------------


async def test_the_layout_is_the_documented_one(running):
    apps, pushes = deployment_layout()
    assert (len(running.site.servers), len(running.site.workers)) == (len(apps), len(pushes)) == (2, 3)
    assert nginx_upstream_ports() == apps, "the proxy's upstream lists exactly the app instances the docs enable"
    for process in running.site.servers:
        assert process.argv[1:4] == ["serve", "--no-demo", "--host"]
        assert process.env["FIELDGUIDE_PUSH_WORKER"] == "false"
        assert process.env["FIELDGUIDE_SECURE_COOKIES"] == "true"
    assert all(p.argv[1:] == ["push-worker"] for p in running.site.workers)


async def test_servers_started_at_once_prepare_the_database_once(running):
    logs = [p.log() for p in running.site.servers]
    assert sum("Created a new database" in log for log in logs) == 1, logs
    assert sum("Using the database" in log for log in logs) == 1, logs
    assert await db.pending_migrations(running.settings) == []
    rows = await connections.get("default").execute_query_dict("SELECT name FROM tortoise_migrations")
    assert len(rows) == len({r["name"] for r in rows}) > 0, "every migration applied exactly once"
    assert await BaseCard.all().count() == len(load_content(running.settings.content_dir).cards)


async def test_a_publish_reaches_every_subscription_exactly_once(running):
    mark = received_count(running.service)
    started = time.monotonic()
    release = await publish_revision(summary="Clarified restraint policy.", changes={"restraint-devices": "major"})
    await eventually(lambda: all_sent(release), timeout=180)
    per_endpoint = delivered_since(running.service, mark)
    print(f"{NOTICES} notices through {len(running.site.workers)} workers in {time.monotonic() - started:.1f} s")
    assert per_endpoint == Counter({e: 1 for e in running.endpoints})
    assert await PushOutbox.filter(release_id=release.id, status="sent").count() == NOTICES


async def test_a_worker_killed_mid_fan_out_resends_at_most_what_it_held(running):
    mark = received_count(running.service)
    release = await publish_revision(summary="Clarified restraint policy again.", changes={"restraint-devices": "major"})
    await eventually(lambda: len(delivered_since(running.service, mark)) >= NOTICES // 5, timeout=120)
    victim = running.site.workers[0]
    victim.kill()
    killed_at = datetime.now(timezone.utc)
    # A claim stamps its rows with claim time + lease. The live workers settle their own claims
    # within moments: what is still being sent after half a lease, claimed before the kill, is
    # what the killed worker held.
    await asyncio.sleep(LEASE / 2)
    orphans = set(
        await PushOutbox.filter(
            release_id=release.id, status="sending", next_attempt_at__lte=killed_at + timedelta(seconds=LEASE)
        ).values_list("id", flat=True)
    )
    await asyncio.to_thread(running.site.restart, victim)
    await eventually(lambda: all_sent(release), timeout=180)
    per_endpoint = delivered_since(running.service, mark)
    assert set(per_endpoint) == set(running.endpoints), "every notice arrived at least once"
    duplicates = sum(n - 1 for n in per_endpoint.values())
    print(f"killed worker held {len(orphans)} notices; {duplicates} sent twice")
    # Only what it held may arrive twice. It holds at most its window of sends plus the outcomes
    # waiting to be written in one batch (under half a window: server/push/worker.py).
    assert duplicates <= len(orphans) <= CONCURRENCY + CONCURRENCY // 2


async def test_acks_through_both_servers_are_stored_once_in_an_unbroken_chain(running):
    keys = {user.id: str(uuid_lib.uuid4()) for user, _, _ in running.officers}
    rng = random.Random(SEED)
    # Each phone sends its ack to both servers at once, then replays it twice, anywhere.
    attempts = [
        (officer, url)
        for officer in running.officers
        for url in running.urls + [rng.choice(running.urls), rng.choice(running.urls)]
    ]
    rng.shuffle(attempts)
    gate = asyncio.Semaphore(40)

    async def attempt(officer, url):
        async with gate:
            return officer[0].id, await post_ack(url, officer, 1, keys[officer[0].id])

    answers = await asyncio.gather(*(attempt(o, u) for o, u in attempts))
    assert {r.status_code for _, r in answers} <= {200, 201}, [r.text for _, r in answers if r.status_code > 201][:3]
    created = Counter(user_id for user_id, r in answers if r.status_code == 201)
    assert created == Counter({user.id: 1 for user, _, _ in running.officers}), "exactly one 201 per officer"
    stored = await Acknowledgment.filter(release__number=1, user__email__startswith="load").values_list("user_id", "uuid")
    assert sorted(stored) == sorted(keys.items())
    verified = ledger_verify(running)
    assert verified.returncode == 0, verified.stderr
    # Rows from every server verified with one key: each server publishes the same one.
    async with httpx.AsyncClient(timeout=30) as c:
        published = {(await c.get(f"{url}/ledger/public-key.pem")).text for url in running.urls}
    assert len(published) == 1 and next(iter(published)).startswith("-----BEGIN PUBLIC KEY-----")


async def test_processes_killed_during_load_lose_nothing(running):
    rng = random.Random(SEED + 1)
    mark = received_count(running.service)
    release = await publish_revision(summary="Clarified restraint policy once more.", changes={"restraint-devices": "major"})
    keys = {officer[0].id: str(uuid_lib.uuid4()) for officer in running.officers}
    acknowledged: dict[int, str] = {}  # user id -> uuid of a 2xx answer
    gate = asyncio.Semaphore(20)

    async def phone(officer):
        # The ack queue on a phone: retry (same uuid) on any server until one answers 2xx.
        await asyncio.sleep(rng.uniform(0, 4))
        for _ in range(100):
            url = rng.choice(running.urls)
            try:
                async with gate:
                    answer = await post_ack(url, officer, release.number, keys[officer[0].id])
                if answer.status_code in (200, 201):
                    acknowledged[officer[0].id] = answer.json()["uuid"]
                    return
                assert answer.status_code >= 500, answer.text
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"{officer[0].email} never got its ack stored")

    async def chaos():
        # One server and one worker, each killed with SIGKILL at a random moment and restarted.
        for group in (running.site.servers, running.site.workers):
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            victim = rng.choice(group)
            victim.kill()
            await asyncio.to_thread(running.site.restart, victim)

    await asyncio.gather(chaos(), *(phone(o) for o in running.officers))
    assert len(acknowledged) == len(running.officers)
    stored = dict(await Acknowledgment.filter(release_id=release.id).values_list("user_id", "uuid"))
    assert stored == acknowledged, "every ack that got a 2xx is stored, once"
    await eventually(lambda: all_sent(release), timeout=180)
    assert set(delivered_since(running.service, mark)) == set(running.endpoints), "every notice was sent"
    verified = ledger_verify(running)
    assert verified.returncode == 0, verified.stderr


async def test_sign_in_sessions_throttling_and_caches_hold_across_processes(running):
    # The browser asks for https://; ThroughProxy hands the request on to the server over http.
    one, two = (url.replace("http://", "https://") for url in running.urls)
    async with browser("198.51.100.7") as officer:
        # Signed in on server 1, the session works on server 2.
        assert (await sign_in(officer, one, "officer@demo.test")) == 303
        assert [c.secure for c in officer.cookies.jar if c.name == "fg_session"] == [True]
        assert (await officer.get(two + "/api/v1/acks")).status_code == 200
        # Signed out on 2, refused on 1 at once.
        page = await officer.get(two + "/")
        assert (await officer.post(two + "/sign-out", data={"csrf_token": csrf_of(page.text)})).status_code == 303
        assert (await officer.get(one + "/api/v1/acks")).status_code == 401

        # Deactivated through server 1, refused on server 2 at once.
        assert (await sign_in(officer, two, "officer2@demo.test")) == 303
        assert (await officer.get(one + "/api/v1/acks")).status_code == 200
        person = await User.get(email="officer2@demo.test")
        async with browser("198.51.100.8") as admin:
            assert (await sign_in(admin, one, "admin@demo.test")) == 303
            form = await admin.get(f"{one}/admin/users/{person.id}")
            done = await admin.post(f"{one}/admin/users/{person.id}/deactivate", data={"csrf_token": csrf_of(form.text)})
            assert done.status_code == 303, done.text
        assert (await officer.get(two + "/api/v1/acks")).status_code == 401

    # Failed sign-ins from one address count across both servers: 3 on one and 2 on the other
    # stop that address, while the supervisor still gets in from an address they used before.
    async with browser("198.51.100.13") as supervisor:
        assert (await sign_in(supervisor, one, "supervisor@demo.test")) == 303
    async with browser("198.51.100.9") as guesser:
        for url in (one, two, one, two, one):
            assert (await sign_in(guesser, url, "supervisor@demo.test", "wrong password")) == 400
        for url in (two, one):
            assert (await sign_in(guesser, url, "supervisor@demo.test")) == 429
    async with browser("198.51.100.13") as supervisor:
        assert (await sign_in(supervisor, two, "supervisor@demo.test")) == 303

    # A publish through server 1 is what server 2's sync answers at once.
    async with browser("198.51.100.10") as phone:
        assert (await sign_in(phone, two, "officer@demo.test")) == 303
        before = (await phone.get(two + "/api/v1/sync")).json()
        unchanged = await phone.get(two + "/api/v1/sync", headers={"If-None-Match": before["etag"]})
        assert unchanged.status_code == 304
        async with browser("198.51.100.11") as author, browser("198.51.100.12") as reviewer:
            assert (await sign_in(author, one, "admin@demo.test")) == 303
            assert (await sign_in(reviewer, one, "admin2@demo.test")) == 303
            async with on(author, one) as a, on(reviewer, one) as r:
                draft = await start_draft(a)
                await edit_body(a, draft, "teacher", TEACHER_OLD, TEACHER_NEW)
                release = await review_and_publish(a, r, draft, "Teacher role wording.")
        for url in (two, one):
            after = await phone.get(url + "/api/v1/sync", headers={"If-None-Match": before["etag"]})
            assert after.status_code == 200 and after.json()["release"] == release.number == before["release"] + 1
