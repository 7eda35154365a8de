"""Passwords (argon2id), server-side sessions and CSRF tokens (cookies are server/web/sessions.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server import clock
from server.models import Session, User

SLIDE_AFTER = timedelta(hours=1)

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


@cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both failures take the same time (made on first use)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether a password matches its hash (False for a missing hash)."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


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


async def live_session(token: str | None, days: int) -> Session | None:
    """The live session of a cookie token (its user loaded), sliding its expiry by `days`; None if none."""
    if not token:
        return None
    session = await Session.get_or_none(id=_token_id(token)).prefetch_related("user")
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
