"""`fieldguide backup` and `fieldguide restore` for real: a backup taken from a running server while
officers acknowledge, restored into a fresh data folder and served again, keeps every
acknowledgment made before it, a valid ledger, and push working with the same VAPID key."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
import uuid as uuid_lib
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from server import backup, bootstrap, db, ledger_signing
from server.models import Agency, Role, User
from server.people import auth
from server.push import vapid
from server.push.vapid import VapidSigner
from server.settings import Settings

from .helpers.acks import ack_form
from .helpers.browser import free_port
from .helpers.clients import sign_in
from .helpers.csrf import csrf_of
from .helpers.database import TEMPLATE_DB, cli_environment, database_name
from .helpers.processes import Process
from .helpers.push import eventually
from .helpers.push_service import PushService

FIELDGUIDE = str(Path(sys.executable).parent / "fieldguide")
OFFICERS = 300
IN_FLIGHT = 8
BEFORE = 50  # acknowledgments answered before the backup starts
AFTER = 30  # officers kept back until the backup has ended


def test_the_backup_names_every_key_file_the_app_makes():
    assert set(backup.KEY_FILES) == {vapid.KEY_FILE, ledger_signing.KEY_FILE}
    assert set(backup.KEY_FILES.values()) <= set(Settings.__dataclass_fields__)


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    """`fieldguide ARGS` on these settings' database and data folder."""
    return subprocess.run([FIELDGUIDE, *args], env=cli_environment(settings), capture_output=True, text=True, check=False)


def serve(settings: Settings, folder: Path, name: str) -> Process:
    """A `fieldguide serve` process on these settings, sending push notices to the loopback stand-in."""
    port = free_port()
    env = cli_environment(
        settings, FIELDGUIDE_PUSH_EXTRA_HOSTS="127.0.0.1", FIELDGUIDE_PUSH_POLL_MS="50", FIELDGUIDE_PUSH_RETRY_BASE_MS="50"
    )
    process = Process(name, [FIELDGUIDE, "serve", "--no-demo", "--port", str(port)], env, folder / f"{name}.log",
                      url=f"http://127.0.0.1:{port}")
    process.start()
    process.wait_ready()
    return process


async def _officers_with_sessions(settings: Settings) -> list[tuple[str, str]]:
    """OFFICERS new officers of the demo agency, each signed in: (session token, CSRF token)."""
    await db.open_db(settings)
    try:
        agency = await Agency.get(slug="demo")
        shared_hash = (await User.get(email="officer@demo.test")).password_hash
        await User.bulk_create([
            User(agency=agency, email=f"backup{i}@demo.test", name=f"Officer {i}", role=Role.OFFICER,
                 password_hash=shared_hash, school="Lincoln High School")
            for i in range(OFFICERS)
        ])
        sessions = []
        for user in await User.filter(email__startswith="backup").order_by("id"):
            token, session = await auth.start_session(user, 30)
            sessions.append((token, session.csrf_token))
        return sessions
    finally:
        await db.close_db()


def restored_ack_uuids(settings: Settings) -> set[str]:
    conn = sqlite3.connect(backup.sqlite_path(settings))
    try:
        return {row[0] for row in conn.execute("SELECT uuid FROM acknowledgment")}
    finally:
        conn.close()


@asynccontextmanager
async def signed_in_client(url: str, email: str):
    """A client of a running server signed in through the real form, and its CSRF token."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await sign_in(client, email)).status_code == 303
        yield client, csrf_of((await client.get("/alerts")).text)


@pytest.mark.sqlite_only("the online backup of a live SQLite file; PostgreSQL is pg_dump's (test below)")
async def test_a_backup_taken_during_acknowledgments_restores_everything_and_push_still_works(
    backend, template_dir, tmp_path
):
    live = Settings(data_dir=tmp_path / "live")
    live.data_dir.mkdir()
    shutil.copy(template_dir / TEMPLATE_DB, live.data_dir / TEMPLATE_DB)
    sessions = await _officers_with_sessions(live)
    vapid_key = VapidSigner.from_settings(live).public_key  # made in the data folder, as on a first start
    service = PushService(vapid_key=vapid_key).start()
    first = serve(live, tmp_path, "live")
    restored_server = None
    try:
        # The demo officer turns alerts on (and, unlike the new officers, never acknowledges).
        async with signed_in_client(first.url, "officer@demo.test") as (phone, csrf):
            hashes = ack_form((await phone.get("/changes")).text)["card_hashes"].split()
            subscription = service.subscribe()
            answer = await phone.post("/api/v1/push/subscriptions", json=subscription, headers={"X-CSRF-Token": csrf})
            assert answer.status_code == 201, answer.text

        # Officers acknowledge, IN_FLIGHT at a time, before, during and after `fieldguide backup`.
        done: list[tuple[str, float, int, float]] = []  # uuid, answer arrived, status, request sent
        backup_started: list[float] = []
        backup_ended: list[float] = []
        queue = list(sessions)
        backup_over = asyncio.Event()

        async def acknowledge(client: httpx.AsyncClient) -> None:
            while queue:
                if len(queue) <= AFTER and not backup_over.is_set():
                    await backup_over.wait()
                    continue
                token, csrf_token = queue.pop()
                key = str(uuid_lib.uuid4())
                sent = time.monotonic()
                response = await client.post(
                    "/api/v1/acks", json={"uuid": key, "release": 1, "card_hashes": hashes},
                    headers={"X-CSRF-Token": csrf_token, "Cookie": f"fg_session={token}"},
                )
                done.append((key, time.monotonic(), response.status_code, sent))

        async def take_backup() -> subprocess.CompletedProcess:
            await eventually(lambda: len(done) >= BEFORE)
            backup_started.append(time.monotonic())
            process = await asyncio.create_subprocess_exec(
                FIELDGUIDE, "backup", str(tmp_path / "backup"), env=cli_environment(live),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await process.communicate()
            backup_ended.append(time.monotonic())
            backup_over.set()
            return subprocess.CompletedProcess([], process.returncode, out.decode(), err.decode())

        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            *_, made = await asyncio.gather(*(acknowledge(client) for _ in range(IN_FLIGHT)), take_backup())
        assert made.returncode == 0, made.stderr
        assert all(status == 201 for _, _, status, _ in done), done
        before = {key for key, at, _, _ in done if at < backup_started[0]}
        during = [key for key, at, _, sent in done if sent < backup_ended[0] and at > backup_started[0]]
        after = {key for key, _, _, sent in done if sent > backup_ended[0]}
        assert len(done) == OFFICERS and len(before) >= BEFORE and len(after) >= AFTER
        first.stop()

        folder = tmp_path / "backup"
        manifest = json.loads((folder / backup.MANIFEST).read_text())
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
        key_files = [name for name in backup.KEY_FILES if (live.data_dir / name).exists()]
        assert "vapid_private_key.pem" in key_files and manifest["keys_in_environment"] == []
        assert set(manifest["files"]) == {backup.SQLITE_FILE, *key_files}
        assert manifest["migrations"] == sorted(backup.known_migrations())

        fresh = Settings(data_dir=tmp_path / "fresh")
        restored = run_cli(fresh, "restore", str(folder))
        assert restored.returncode == 0, restored.stderr
        for name in key_files:
            restored_key = fresh.data_dir / name
            assert restored_key.read_bytes() == (live.data_dir / name).read_bytes()
            assert stat.S_IMODE(restored_key.stat().st_mode) == 0o600
        found = restored_ack_uuids(fresh)
        assert before <= found, f"{len(before - found)} acknowledgment(s) made before the backup are missing"
        assert found <= {key for key, *_ in done} and not (found & after)
        print(made.stdout.strip())
        print(f"backup: {manifest['files'][backup.SQLITE_FILE]['bytes']:,} bytes in "
              f"{backup_ended[0] - backup_started[0]:.2f} s (with process start); acknowledgments: "
              f"{len(before)} before, {len(during)} during, {len(after)} after; {len(found)} restored")

        verified = run_cli(fresh, "ledger", "verify", "--agency", "demo")
        assert verified.returncode == 0, verified.stdout + verified.stderr

        restored_server = serve(fresh, tmp_path, "restored")
        async with signed_in_client(restored_server.url, "supervisor@demo.test") as (supervisor, csrf):
            assert (await supervisor.get("/api/v1/push/key")).json()["public_key"] == vapid_key
            reminded = await supervisor.post("/supervisor/releases/1/remind", data={"csrf_token": csrf})
            assert reminded.status_code == 303 and "reminded=1" in reminded.headers["location"], reminded.text
        delivered = await eventually(lambda: service.delivered(subscription["endpoint"]))
        assert delivered[0].payload is not None  # decrypted with the subscription's keys
        assert service.errors() == []
    finally:
        first.stop()
        if restored_server is not None:
            restored_server.stop()
        service.stop()


async def test_backup_and_restore_into_an_empty_database(settings, backend, pg_admin_if_postgres, tmp_path):
    signer_key = VapidSigner.from_settings(settings).public_key
    made = run_cli(settings, "backup", str(tmp_path / "backup"))
    assert made.returncode == 0, made.stderr
    target = Settings(data_dir=tmp_path / "target", database_url=pg_admin_if_postgres)
    restored = run_cli(target, "restore", str(tmp_path / "backup"))
    assert restored.returncode == 0, restored.stderr
    await db.open_db(target)
    try:
        await db.ensure_current(target)
        assert {u.email for u in await User.all()} >= {email for email, *_ in bootstrap.DEMO_USERS}
    finally:
        await db.close_db()
    assert VapidSigner.from_settings(target).public_key == signer_key
    again = run_cli(target, "restore", str(tmp_path / "backup"))
    assert again.returncode == 1 and "--force" in again.stderr
    forced = run_cli(target, "restore", "--force", str(tmp_path / "backup"))
    assert forced.returncode == 0, forced.stderr


@pytest.fixture
def pg_admin_if_postgres(request, backend):
    """An empty PostgreSQL database's URL on the postgres run (dropped afterwards); "" on SQLite."""
    if backend == "sqlite":
        yield ""
        return
    admin = request.getfixturevalue("pg_admin")
    name = admin.create(database_name("restore"))
    try:
        yield admin.url(name)
    finally:
        admin.drop(name)


@pytest.mark.sqlite_only("checks on the backup folder's files, the same for either database")
def test_restore_refuses_a_damaged_backup_and_never_replaces_a_different_key(settings, backend, tmp_path):
    VapidSigner.from_settings(settings)
    folder = tmp_path / "backup"
    assert run_cli(settings, "backup", str(folder)).returncode == 0
    assert run_cli(settings, "backup", str(folder)).returncode == 1  # never into a backup that exists

    other = Settings(data_dir=tmp_path / "other")
    VapidSigner.from_settings(other)  # a data folder with a key of its own
    refused = run_cli(other, "restore", str(folder))
    assert refused.returncode == 1 and "vapid_private_key.pem" in refused.stderr
    assert not (other.data_dir / TEMPLATE_DB).exists()

    manifest_path = folder / backup.MANIFEST
    original = manifest_path.read_text()
    manifest = json.loads(original)
    manifest_path.write_text(json.dumps({**manifest, "migrations": [*manifest["migrations"], "9999_from_the_future"]}))
    newer = run_cli(Settings(data_dir=tmp_path / "newer"), "restore", str(folder))
    assert newer.returncode == 1 and "9999_from_the_future" in newer.stderr
    manifest_path.write_text(original)

    with open(folder / TEMPLATE_DB, "r+b") as damaged:
        damaged.seek(100)
        flipped = bytes(b ^ 0xFF for b in damaged.read(16))
        damaged.seek(100)
        damaged.write(flipped)
    broken = run_cli(Settings(data_dir=tmp_path / "third"), "restore", str(folder))
    assert broken.returncode == 1 and "SHA-256" in broken.stderr
    assert not (tmp_path / "third" / TEMPLATE_DB).exists()


@pytest.mark.sqlite_only("checks on the backup folder's files, the same for either database")
def test_a_key_given_by_the_environment_is_named_as_not_in_the_backup(settings, backend, tmp_path):
    from .helpers.processes import new_vapid_key

    env = {**cli_environment(settings), "FIELDGUIDE_VAPID_PRIVATE_KEY": new_vapid_key()}
    made = subprocess.run([FIELDGUIDE, "backup", str(tmp_path / "backup")], env=env, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stderr
    assert "FIELDGUIDE_VAPID_PRIVATE_KEY is given by the environment" in made.stdout
    manifest = json.loads((tmp_path / "backup" / backup.MANIFEST).read_text())
    assert "FIELDGUIDE_VAPID_PRIVATE_KEY" in manifest["keys_in_environment"]
    assert not os.path.exists(tmp_path / "backup" / "vapid_private_key.pem")
