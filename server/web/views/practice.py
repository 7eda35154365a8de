"""Practice scenarios for officers: pick what you would do, see what the guidance says.

Nothing is recorded: the pages are plain guidance pages of the release (saved on the phone
with the rest of it), and every choice's outcome is already in the page, so picking one asks
the server nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.web.page_context import practice_context, practice_list_context
from server.web.views.common import page, release_for, release_param, signed_in


async def practice_list(request: Request) -> Response:
    """The release's practice scenarios."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    return page(request, "views/practice.html", practice_list_context(release))


async def scenario(request: Request) -> Response:
    """One scenario: the situation, the choices, and each choice's outcome with its passages."""
    _, user = await signed_in(request)
    release = await release_for(request, user, release_param(request))
    passages = request.app.state.fragments.passages
    return page(
        request, "views/practice_scenario.html", practice_context(release, request.path_params["scenario_id"], passages)
    )
