"""/admin/audit: the agency's audit log for admins, newest first, paged, filtered by action."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from server.models import Role, User
from server.params import parse_page_number
from server.people import audit
from server.web.views.common import page, signed_in


async def audit_log(request: Request) -> Response:
    """Every admin action of the agency: who, what, when, which card/release/person, hashes."""
    _, admin = await signed_in(request, {Role.ADMIN})
    number = parse_page_number(request.query_params.get("page", "1"))
    known = await audit.actions(admin.agency_id)
    action = (request.query_params.get("action") or "")[:64]
    query = audit.entries(admin.agency_id, action or None)
    total = await query.count()
    rows = await query.offset((number - 1) * audit.PAGE_SIZE).limit(audit.PAGE_SIZE)
    actor_ids = {r.actor_id for r in rows if r.actor_id}
    actors = {u.id: u for u in await User.filter(id__in=actor_ids, agency_id=admin.agency_id)} if actor_ids else {}
    pages = max(1, -(-total // audit.PAGE_SIZE))
    return page(
        request,
        "views/admin/audit.html",
        {
            "entries": rows,
            "actors": actors,
            "actions": known,
            "action": action,
            "page": number,
            "pages": pages,
            "total": total,
        },
    )
