"""The guidance admin's start page and the release history."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.guidance.base_updates import pending_updates
from server.guidance.drafts import STATUS_LABELS, active_draft, working_copy
from server.models import Release, ReleaseCard, User
from server.params import whole_number
from server.web.views.admin_common import admin, current
from server.web.views.common import page


async def dashboard(request: Request) -> Response:
    """GET /admin: the current release, the active draft, and NASRO base guidance updates."""
    _, user = await admin(request)
    release = await current(request, user)
    draft = await active_draft(user.agency_id)
    wc = await working_copy(draft, release) if draft else None
    updates = await pending_updates(release, wc)
    open_updates = [u for u in updates if not u.taken]
    author = await User.get_or_none(id=draft.author_id) if draft else None
    return page(
        request,
        "views/admin/dashboard.html",
        {
            "release": release,
            "draft": draft,
            "draft_label": STATUS_LABELS[draft.status] if draft else None,
            "draft_changes": len(wc.changes()) if wc else 0,
            "draft_author": author.name if author else None,
            "draft_editable": wc.editable if wc else True,
            "updates": open_updates,
            "taken": [u for u in updates if u.taken],
            "one_click": [u for u in open_updates if not u.conflict and u.kind != "removed"],
        },
    )


async def releases(request: Request) -> Response:
    """GET /admin/releases: every release, newest first, with what changed and who published it."""
    _, user = await admin(request)
    rows = await Release.filter(agency_id=user.agency_id).order_by("-number")
    cards = await ReleaseCard.filter(release__agency_id=user.agency_id).values("release_id", "card_id", "change")
    by_release: dict[int, list[dict]] = {}
    for row in cards:
        by_release.setdefault(row["release_id"], []).append(row)
    people = {u.id: u.name for u in await User.filter(agency_id=user.agency_id)}
    history = []
    ordered = list(reversed(rows))
    for i, release in enumerate(ordered):
        mine = by_release.get(release.id, [])
        before = {r["card_id"] for r in by_release.get(ordered[i - 1].id, [])} if i else set()
        ids = {r["card_id"] for r in mine}
        history.append(
            {
                "release": release,
                "cards": len(mine),
                "added": sum(1 for r in mine if r["change"] == "added") if i else len(mine),
                "major": sum(1 for r in mine if r["change"] == "major"),
                "minor": sum(1 for r in mine if r["change"] == "minor"),
                "retired": len(before - ids),
                "author": people.get(release.author_id),
                "approver": people.get(release.approver_id),
                "publisher": people.get(release.publisher_id),
            }
        )
    history.reverse()
    published = request.query_params.get("published")
    return page(
        request,
        "views/admin/releases.html",
        {
            "release": await current(request, user),
            "history": history,
            "numbers": [r.number for r in rows],
            "published": whole_number(published),
        },
    )
