"""Passwords (argon2id), server-side sessions, CSRF tokens and the signed-in user."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.requests import Request
from starlette.responses import Response

from server.models import Session, User

SESSION_COOKIE = "fg_session"
PRE_SESSION_COOKIE = "fg_csrf"
SLIDE_AFTER = timedelta(hours=1)

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(timezone.utc)


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether a password matches its hash (False for a missing hash)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(user: User, days: int, user_agent: str = "") -> tuple[str, Session]:
    """A new session for a user; returns the cookie token and the row."""
    token = secrets.token_urlsafe(32)
    moment = now()
    session = await Session.create(
        id=_token_id(token),
        user=user,
        csrf_token=secrets.token_urlsafe(24),
        last_seen_at=moment,
        expires_at=moment + timedelta(days=days),
        user_agent=user_agent[:300],
    )
    return token, session


async def session_for(request: Request) -> Session | None:
    """The live session of a request (its user loaded), sliding its expiry; None if none."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = await Session.get_or_none(id=_token_id(token)).prefetch_related("user")
    moment = now()
    if (
        session is None
        or session.revoked_at is not None
        or session.expires_at <= moment
        or not session.user.active
    ):
        return None
    if moment - session.last_seen_at > SLIDE_AFTER:
        days = request.app.state.settings.session_days
        session.last_seen_at = moment
        session.expires_at = moment + timedelta(days=days)
        await session.save(update_fields=["last_seen_at", "expires_at"])
    return session


async def end_session(session: Session) -> None:
    """Revoke a session at once."""
    session.revoked_at = now()
    await session.save(update_fields=["revoked_at"])


async def revoke_user_sessions(user: User) -> int:
    """Revoke every session of a user; returns how many were live."""
    return await Session.filter(user=user, revoked_at__isnull=True).update(revoked_at=now())


def set_session_cookie(response: Response, token: str, request: Request) -> None:
    """Put the session token in an HttpOnly, SameSite=Lax cookie."""
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


def pre_session_csrf(request: Request) -> str:
    """The CSRF token for forms shown before sign-in (double-submit cookie)."""
    return request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(24)


def set_pre_session_cookie(response: Response, token: str, request: Request) -> None:
    response.set_cookie(
        PRE_SESSION_COOKIE,
        token,
        max_age=86400,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
        path="/",
    )


def csrf_ok(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of CSRF tokens."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given)
