"""What the guidance admin pages share: the admin check, the draft in the URL and its working copy."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse

from server.guidance.drafts import WorkingCopy, get_draft, load_sources, working_copy
from server.guidance.releases import ReleaseView
from server.models import Agency, Role, Session, User
from server.web.views.common import release_for, require_csrf, signed_in

ADMIN = {Role.ADMIN}


async def admin(request: Request) -> tuple[Session, User]:
    """The signed-in admin (NotSignedIn or 403 otherwise)."""
    return await signed_in(request, ADMIN)


async def admin_post(request: Request):
    """The signed-in admin's form, its CSRF token checked."""
    form = await require_csrf(request, roles=ADMIN)
    return form


async def current(request: Request, user: User) -> ReleaseView:
    """The admin's agency's current release."""
    return await release_for(request, user)


async def draft_copy(request: Request, user: User) -> WorkingCopy:
    """The draft named in the URL (the admin's agency only) on top of the current release."""
    draft = await get_draft(user.agency_id, request.path_params["draft_id"])
    return await working_copy(draft, await current(request, user))


async def agency_of(user: User) -> Agency:
    """The admin's agency."""
    return await Agency.get(id=user.agency_id)


def sources(request: Request) -> dict:
    """content/sources.yaml of this app."""
    return load_sources(request.app.state.settings.content_dir)


def back_to(url: str) -> RedirectResponse:
    """After a form post: see the result page (303 so a reload does not post again)."""
    return RedirectResponse(url, status_code=303)
