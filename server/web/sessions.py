"""Sessions and CSRF over HTTP: the cookies that carry them (the rules are server/people/auth.py)."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from server.models import Session
from server.people.auth import live_session
from server.web.request_log import note_user

SESSION_COOKIE = "fg_session"
PRE_SESSION_COOKIE = "fg_csrf"


async def session_for(request: Request) -> Session | None:
    """The live session of a request (its user loaded), sliding its expiry; None if none."""
    session = await live_session(request.cookies.get(SESSION_COOKIE), request.app.state.settings.session_days)
    note_user(request.scope, session.user_id if session else None)
    return session


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
