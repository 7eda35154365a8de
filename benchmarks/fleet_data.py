"""The fleet benchmark's data: a database of its own on PostgreSQL, and 50,000 officers put in with COPY.

Every officer has a session (its cookie token kept here; the database holds its SHA-256, as
sign-in stores it), a phone that last synced a few minutes ago holding release 1, and a push
subscription whose keys come from the push-service stand-in's pool.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import asyncpg

USER_AGENT = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"
SCHOOLS = 1000


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of server_url."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def database_name(url: str) -> str:
    """The database name in a PostgreSQL URL."""
    return urlsplit(url).path.lstrip("/")


async def create_database(server_url: str) -> str:
    """A new database with a unique name on the server; returns its URL."""
    name = f"fieldguide_fleet_{secrets.token_hex(5)}"
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return database_url(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    """Drop the run's database (closing any connection still open to it)."""
    name = database_name(url)
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@dataclass
class Device:
    """One officer's phone as the fleet drives it."""

    user_id: int
    token: str
    device_id: str


async def populate(url: str, agency_id: int, count: int, keys: list[dict], endpoint: str) -> list[Device]:
    """`count` officers of the agency, each with a session, a phone on release 1 and a push subscription."""
    connection = await asyncpg.connect(url)
    try:
        first = await connection.fetchval('SELECT COALESCE(MAX(id), 0) + 1 FROM "user"')
        now = datetime.now(timezone.utc)
        devices = [
            Device(first + n, secrets.token_urlsafe(32), f"fleet-{n:06d}-{secrets.token_hex(6)}") for n in range(count)
        ]
        await connection.copy_records_to_table(
            "user",
            columns=["id", "agency_id", "email", "name", "role", "password_hash", "active", "school", "created_at"],
            records=[
                (d.user_id, agency_id, f"officer{n:06d}@fleet.example.org", f"Officer {n:06d}", "officer", None, True,
                 f"School {n % SCHOOLS:04d}", now - timedelta(days=90))
                for n, d in enumerate(devices)
            ],
        )
        await connection.execute(f"SELECT setval('user_id_seq', {first + count})")
        await connection.copy_records_to_table(
            "session",
            columns=["id", "user_id", "csrf_token", "created_at", "last_seen_at", "expires_at", "revoked_at", "user_agent"],
            records=[
                (hashlib.sha256(d.token.encode()).hexdigest(), d.user_id, secrets.token_urlsafe(24),
                 now - timedelta(days=2), now, now + timedelta(days=28), None, USER_AGENT)
                for d in devices
            ],
        )
        await connection.copy_records_to_table(
            "device",
            columns=["user_id", "device_id", "user_agent", "release_number", "last_sync_at", "created_at"],
            records=[(d.user_id, d.device_id, USER_AGENT, 1, now, now - timedelta(days=2)) for d in devices],
        )
        await connection.copy_records_to_table(
            "push_subscription",
            columns=["user_id", "device_id", "endpoint", "p256dh", "auth", "user_agent", "created_at"],
            records=[
                (d.user_id, d.device_id, f"{endpoint}/push/{n}/{n % len(keys)}", keys[n % len(keys)]["p256dh"],
                 keys[n % len(keys)]["auth"], USER_AGENT, now - timedelta(days=2))
                for n, d in enumerate(devices)
            ],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return devices


async def as_if_polling(url: str, period: float) -> None:
    """Timestamps as a fleet polling every `period` seconds leaves them.

    Each phone last synced one period ago (so its next check writes its record again, as it
    does every period), and each session was last slid a random time within the last hour
    (so about period/3600 of the checks slide it, as in steady use).
    """
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "UPDATE device SET last_sync_at = now() - make_interval(secs => $1)", float(period)
        )
        await connection.execute("UPDATE session SET last_seen_at = now() - random() * interval '1 hour'")
        await connection.execute("VACUUM ANALYZE device")
        await connection.execute("VACUUM ANALYZE session")
    finally:
        await connection.close()


async def notices_by_status(url: str, release_id: int) -> dict[str, int]:
    """The release's push notices counted by status."""
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT status, count(*) AS n FROM push_outbox WHERE release_id = $1 GROUP BY status", release_id
        )
    finally:
        await connection.close()
    return {r["status"]: r["n"] for r in rows}
