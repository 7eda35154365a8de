"""What most views need: the signed-in user, their agency's release, and page rendering."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from server.guidance.releases import ReleaseView, latest_release
from server.models import Release, Role, Session, User
from server.params import parse_release_number
from server.people.auth import csrf_ok
from server.web.errors import ApiError, NotSignedIn
from server.web.sessions import session_for


async def signed_in(request: Request, roles: set[Role] | None = None) -> tuple[Session, User]:
    """The session and user of a request, or NotSignedIn / 403 for another role."""
    session = getattr(request.state, "session", None)
    if session is None:
        session = await session_for(request)
        if session is None:
            raise NotSignedIn()
        request.state.session = session
    user = session.user
    if roles is not None and user.role not in roles:
        raise ApiError(403, "Your role does not allow this.")
    return session, user


CSRF_HEADER = "x-csrf-token"


async def require_csrf(request: Request, form=None, roles: set[Role] | None = None):
    """Check a signed-in POST's CSRF token (form field csrf_token or X-CSRF-Token header); returns the form.

    Raises NotSignedIn, 403 for another role, or 403 when the token is missing or wrong.
    The form is read here when not given (JSON requests send the header instead); a body that
    is no form gives an empty one, and a field holding a NUL character is a 400.
    """
    session, _ = await signed_in(request, roles)
    if form is None:
        form = await _form(request)
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        given = form.get("csrf_token")
    if not isinstance(given, str) or not csrf_ok(session.csrf_token, given):
        await form.close()  # an uploaded file's temporary file goes now, not when collected
        raise ApiError(403, "This form had expired or was not sent from this app. Go back, reload the page and try again.")
    return form


async def _form(request: Request) -> FormData:
    # A body of another type (JSON, text) holds no form fields: views see an empty form, never None.
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        await request.body()  # kept, so a view may still read the body after the form
        form = await request.form()
        for name, value in form.multi_items():
            if isinstance(value, str) and "\x00" in value:  # no text column can store it
                await form.close()
                raise ApiError(400, f"{name[:40]} may not contain NUL characters.", {name[:40]: "nul"})
        return form
    return FormData()


async def release_for(request: Request, user: User, number: int | None = None) -> ReleaseView:
    """The user's agency's current release, or one by number (404 when it has no such release)."""
    if number is None:
        release = await latest_release(user.agency_id)
        if release is None:
            raise ApiError(404, "Your agency has not published any guidance yet.")
    else:
        release = await Release.get_or_none(agency_id=user.agency_id, number=number)
        if release is None:
            raise ApiError(404, f"Your agency has no release {number}.")
    return await request.app.state.releases.get(release)


async def current_release(request: Request, session: Session) -> ReleaseView:
    """The agency's current release as this request's sign-in check read it: no query once loaded.

    For read-only views that answer at once (the sync check); a view that publishes asks
    release_for, which reads the database again.
    """
    if session.latest_release_id is None:
        raise ApiError(404, "Your agency has not published any guidance yet.")
    return await request.app.state.releases.get_by_id(session.latest_release_id)


def release_param(request: Request) -> int | None:
    """The ?release=N query parameter (used to save a whole release for offline use)."""
    raw = request.query_params.get("release")
    return None if raw is None else parse_release_number(raw, "release")


def page(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    """Render a page with the user, CSRF token and release in its context."""
    session = getattr(request.state, "session", None)
    base = {
        "user": session.user if session else None,
        "csrf_token": session.csrf_token if session else None,
    }
    base.update(context)
    response = request.app.state.templates.TemplateResponse(
        request, template, base, status_code=status_code
    )
    response.headers["Cache-Control"] = "private, no-cache"
    return response
