"""Passwords (argon2id), server-side sessions and CSRF tokens (cookies are server/web/sessions.py)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.fields import DatetimeField

from server import clock
from server.models import Session, User

SLIDE_AFTER = timedelta(hours=1)

# argon2id with the library's memory and time costs (64 MiB, 3 passes, ~150 ms) in one lane: a
# hash then runs on one thread, so it can never take every core from the event loop (with four
# lanes one hash kept 1.5 cores busy and a sync check's p99 doubled during sign-ins). An
# attacker's cost is the memory times the passes, which the lane count does not change.
_hasher = PasswordHasher(parallelism=1)


def _lower_priority() -> None:
    # Linux gives each thread its own nice value: a hashing thread then yields the core to the
    # event loop whenever both want it, so sign-ins wait rather than every other request.
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


# Hashing runs here, never on the event loop. One core fewer than the machine has (at least one
# thread) leaves a core to the loop and bounds the memory of hashes in flight (64 MiB each).
_hashing = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 2) - 1), thread_name_prefix="password-hash", initializer=_lower_priority
)


async def _off_loop(work, *args):
    return await asyncio.get_running_loop().run_in_executor(_hashing, work, *args)


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both failures take the same time (made on first use)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    """An argon2id hash of a password, computed off the event loop."""
    return await _off_loop(_hasher.hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than new hashes get (rehash at next sign-in)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether a password matches its hash (False for a missing hash), checked off the event loop."""
    return await _off_loop(_verify, password_hash, password)


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(user: User, days: int, user_agent: str = "") -> tuple[str, Session]:
    """A new session for a user; returns the cookie token and the row."""
    token = secrets.token_urlsafe(32)
    moment = clock.now()
    session = await Session.create(
        id=_token_id(token),
        user=user,
        csrf_token=secrets.token_urlsafe(24),
        last_seen_at=moment,
        expires_at=moment + timedelta(days=days),
        user_agent=user_agent[:300],
    )
    return token, session


def _columns(model) -> list[str]:
    meta = model._meta
    return [key for fields in (meta.db_native_fields, meta.db_default_fields, meta.db_complex_fields) for key, *_ in fields]


@cache
def _datetimes(model) -> frozenset[str]:
    return frozenset(name for name, field in model._meta.fields_map.items() if isinstance(field, DatetimeField))


def _row_values(row, columns: list[str], prefix: str, datetimes: frozenset[str]) -> dict:
    values = {}
    for column in columns:
        value = row[prefix + column]
        if column in datetimes and isinstance(value, str):
            # SQLite hands back ISO text: the C parser costs a fraction of the ORM's (per request).
            value = datetime.fromisoformat(value)
        values[column] = value
    return values


@cache
def _session_query(dialect: str) -> tuple[str, list[str], list[str]]:
    """The one query of a request's sign-in check, its session columns and its user columns.

    Written out rather than built by the ORM per request (which costs ~10x the query itself on
    the hot sync check). The agency's latest release id rides along as a scalar subquery: always
    current, so nothing needs invalidating when a release is published.
    """
    session_columns, user_columns = _columns(Session), _columns(User)
    selected = [f's."{c}"' for c in session_columns] + [f'u."{c}" AS "u.{c}"' for c in user_columns]
    placeholder = "$1" if dialect == "postgres" else "?"
    sql = (
        f"SELECT {', '.join(selected)}, "
        '(SELECT r."id" FROM "release" r WHERE r."agency_id" = u."agency_id" ORDER BY r."number" DESC LIMIT 1)'
        ' AS "latest_release_id" '
        f'FROM "session" s JOIN "user" u ON u."id" = s."user_id" WHERE s."id" = {placeholder}'
    )
    return sql, session_columns, user_columns


async def _load_session(session_id: str) -> Session | None:
    """A session by id with its user and `latest_release_id` (the agency's newest release), in one query."""
    connection = connections.get("default")
    sql, session_columns, user_columns = _session_query(connection.capabilities.dialect)
    _, rows = await connection.execute_query(sql, [session_id])
    if not rows:
        return None
    row = rows[0]
    session = Session._init_from_db(**_row_values(row, session_columns, "", _datetimes(Session)))
    session.user = User._init_from_db(**_row_values(row, user_columns, "u.", _datetimes(User)))
    session.latest_release_id = row["latest_release_id"]
    return session


async def live_session(token: str | None, days: int) -> Session | None:
    """The live session of a cookie token, sliding its expiry by `days`; None if none.

    Its user is loaded, and `latest_release_id` names the user's agency's newest release (None
    when it has none), all read by one query on every request: revoking a session or turning a
    user off acts on the very next request, in every process.
    """
    if not token:
        return None
    session = await _load_session(_token_id(token))
    moment = clock.now()
    if (
        session is None
        or session.revoked_at is not None
        or session.expires_at <= moment
        or not session.user.active
    ):
        return None
    if moment - session.last_seen_at > SLIDE_AFTER:
        session.last_seen_at = moment
        session.expires_at = moment + timedelta(days=days)
        await session.save(update_fields=["last_seen_at", "expires_at"])
    return session


async def end_session(session: Session) -> None:
    """Revoke a session at once."""
    session.revoked_at = clock.now()
    await session.save(update_fields=["revoked_at"])


async def revoke_user_sessions(user: User) -> int:
    """Revoke every session of a user; returns how many were live."""
    return await Session.filter(user=user, revoked_at__isnull=True).update(revoked_at=clock.now())


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)
