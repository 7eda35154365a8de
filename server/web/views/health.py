"""Health checks for load balancers and monitoring: /healthz (the process answers) and /readyz
(the database answers, its migrations are current, and how far push sending is behind).

Neither needs a sign-in nor shows anything an outsider could use: no versions, addresses or errors'
texts, only counts and ages.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from tortoise import connections
from tortoise.exceptions import OperationalError

from server import clock, db
from server.models import PushOutbox
from server.push.outbox import PENDING, SENDING

NO_STORE = {"Cache-Control": "no-store"}
# A database that takes longer than this to answer `SELECT 1` makes the process not ready.
DATABASE_TIMEOUT = 5.0
log = logging.getLogger("fieldguide.health")


async def healthz(request: Request) -> Response:
    """200 while the process answers requests; touches nothing else."""
    return JSONResponse({"status": "alive"}, headers=NO_STORE)


def _not_ready(reason: str, **details) -> Response:
    return JSONResponse({"status": "not ready", "reason": reason, **details}, status_code=503, headers=NO_STORE)


async def _push_backlog() -> dict:
    waiting = PushOutbox.filter(status__in=(PENDING, SENDING))
    pending = await waiting.count()
    oldest = await waiting.order_by("created_at").first().values_list("created_at", flat=True) if pending else None
    age = None
    if oldest is not None:
        age = max(0, round((clock.now() - oldest).total_seconds()))
    return {"pending": pending, "oldest_pending_seconds": age}


async def readyz(request: Request) -> Response:
    """200 when the database answers and its migrations are current, with the push backlog; else 503 and why."""
    settings = request.app.state.settings
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), DATABASE_TIMEOUT)
    except (*db.UNREACHABLE, TimeoutError, sqlite3.Error, OperationalError) as exc:
        log.warning("readyz: the database does not answer (%s)", type(exc).__name__)
        return _not_ready("database unreachable")
    # Migrations only ever move forward, and this process's code is fixed: once current, it stays so.
    if not getattr(request.app.state, "migrations_current", False):
        pending = await db.pending_migrations(settings)
        if pending:
            return _not_ready("migrations behind", migrations_pending=len(pending))
        request.app.state.migrations_current = True
    return JSONResponse(
        {"status": "ready", "database": "ok", "migrations": "current", "push": await _push_backlog()},
        headers=NO_STORE,
    )
