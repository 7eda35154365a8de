"""The audit log of admin actions: append-only (this module only ever creates rows)."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from server.models import Agency, AuditEntry, User

PAGE_SIZE = 50


async def record(
    agency: Agency | int,
    actor: User | int | None,
    action: str,
    target: str = "",
    hash_before: str | None = None,
    hash_after: str | None = None,
    details: dict | None = None,
    connection=None,
) -> AuditEntry:
    """Append one entry: who (actor) did what (action) to which card/release/user (target)."""
    agency_id = agency if isinstance(agency, int) else agency.id
    actor_id = actor if isinstance(actor, int) or actor is None else actor.id
    return await AuditEntry.create(
        agency_id=agency_id,
        actor_id=actor_id,
        action=action[:64],
        target=str(target)[:200],
        hash_before=hash_before,
        hash_after=hash_after,
        details=details or {},
        using_db=connection,
    )


def entries(agency_id: int, action: str | None = None) -> QuerySet[AuditEntry]:
    """An agency's entries, newest first, optionally of one action."""
    query = AuditEntry.filter(agency_id=agency_id)
    if action:
        query = query.filter(action=action)
    return query.order_by("-at", "-id")


async def actions(agency_id: int) -> list[str]:
    """The distinct actions an agency's log holds, for the filter."""
    rows = await AuditEntry.filter(agency_id=agency_id).distinct().order_by("action").values_list("action", flat=True)
    return list(rows)
