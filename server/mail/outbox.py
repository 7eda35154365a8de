"""The email outbox: messages written in the transaction that causes them, claimed and settled by workers.

The same shape as the push outbox (server/push/outbox.py): a row is `pending` until a worker
claims it (`sending`, for a lease), then `sent`, `failed`, or `replaced` when a newer message
says all it would have said. Several workers on PostgreSQL claim with FOR UPDATE SKIP LOCKED, so
no row is sent twice by two of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from server import clock, outbox_queue
from server.db import within
from server.mail import messages
from server.mail.config import Mail
from server.models import Agency, EmailOutbox, Release, Role, User
from server.outbox_queue import numbered

PENDING, SENDING, SENT, FAILED, REPLACED = "pending", "sending", "sent", "failed", "replaced"
LINK_KINDS = ("invite", "reset")
REASON_CHARS = 300


def _row(agency_id: int, user: User, kind: str, message: messages.Message, moment: datetime,
         release_id: int | None = None) -> EmailOutbox:
    return EmailOutbox(
        agency_id=agency_id,
        user_id=user.id,
        release_id=release_id,
        to_address=user.email,
        kind=kind,
        subject=message.subject,
        text=message.text,
        html=message.html,
        status=PENDING,
        attempts=0,
        next_attempt_at=moment,
    )


async def enqueue_links(agency_id: int, purpose: str, paths: dict[int, str], days: int, mail: Mail, conn) -> int:
    """The invitation or reset email of each new set-password link ({user id: its path}); returns how many.

    An earlier link email still waiting for the same person goes out no more: its link was just
    expired (accounts.new_invitations).
    """
    if not paths:
        return 0
    moment = clock.now()
    await EmailOutbox.filter(user_id__in=list(paths), kind__in=LINK_KINDS, status=PENDING).using_db(conn).update(
        status=REPLACED, last_error="replaced by a newer link", text=messages.LINK_REMOVED, html=messages.LINK_REMOVED
    )
    agency = await Agency.get(id=agency_id).using_db(conn)
    build = messages.invite if purpose == "invite" else messages.reset
    users = await User.filter(id__in=list(paths), agency_id=agency_id).using_db(conn).order_by("id")
    rows = [
        _row(agency.id, user, purpose, build(agency.name, user.name, mail.link(paths[user.id]), days),
             moment)
        for user in users
    ]
    await EmailOutbox.bulk_create(rows, batch_size=500, using_db=conn)
    return len(rows)


async def _recipients(release: Release, conn) -> list[User]:
    """The agency's active officers this release's email goes to: all when it needs acknowledgment,
    else those who kept optional email on."""
    query = User.filter(agency_id=release.agency_id, active=True, role=Role.OFFICER)
    if not release.requires_ack:
        query = query.filter(email_optional=True)
    return await query.using_db(conn).order_by("id")


async def enqueue_release_mail(release: Release, mail: Mail, conn) -> int:
    """One email per officer concerned by a new release; run inside the publish transaction."""
    moment = clock.now()
    # Older releases' emails still waiting go out no more: the newest says where to read.
    await EmailOutbox.filter(
        agency_id=release.agency_id, kind="release", status=PENDING, release_id__not=release.id
    ).using_db(conn).update(status=REPLACED, last_error=f"replaced by release {release.number}")
    agency = await Agency.get(id=release.agency_id).using_db(conn)
    link = mail.link(f"/changes?to={release.number}")
    rows = [
        _row(agency.id, user, "release", messages.release(
            agency.name, user.name, release.number, release.summary, release.requires_ack, release.due_at, link
        ), moment, release.id)
        for user in await _recipients(release, conn)
    ]
    if rows:
        await EmailOutbox.bulk_create(rows, batch_size=500, using_db=conn)
    return len(rows)


async def enqueue_reminder_mail(release: Release, users: list[User], mail: Mail, connection=None) -> set[int]:
    """A reminder email to each of these officers (active, of the release's agency); returns their ids."""
    users = [u for u in users if u.agency_id == release.agency_id and u.active]

    async def go(conn) -> set[int]:
        if not users:
            return set()
        moment = clock.now()
        agency = await Agency.get(id=release.agency_id).using_db(conn)
        link = mail.link(f"/changes?to={release.number}")
        rows = [
            _row(agency.id, u, "reminder", messages.reminder(
                agency.name, u.name, release.number, release.summary, release.due_at, link
            ), moment, release.id)
            for u in users
        ]
        await EmailOutbox.bulk_create(rows, batch_size=500, using_db=conn)
        return {u.id for u in users}

    return await within(go, connection)


@dataclass
class Claimed:
    """An email a worker took, with what sending needs."""

    id: int
    kind: str
    to_address: str
    subject: str
    text: str
    html: str
    attempts: int
    active: bool | None = None  # the person's account (None: no account)


_WAITING = "status IN ('pending', 'sending')"


@cache
def queue_sql(dialect: str) -> dict[str, str]:
    """The worker's statements on the email outbox in this SQL dialect, by name."""
    sql = {
        # One statement picks, marks and returns the rows: PostgreSQL skips rows another worker has
        # locked, SQLite runs one writer at a time; a claimed row is due again only after its lease.
        "claim": (
            "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ? "
            f"WHERE id IN (SELECT id FROM email_outbox WHERE {_WAITING} AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, id LIMIT ?"
            + (" FOR UPDATE SKIP LOCKED" if dialect == "postgres" else "")
            + ") RETURNING id, kind, to_address, subject, text, html, attempts, "
            '(SELECT u.active FROM "user" u WHERE u.id = email_outbox.user_id) AS active'
        ),
        "next_due": f"SELECT next_attempt_at FROM email_outbox WHERE {_WAITING} ORDER BY next_attempt_at, id LIMIT 1",
    }
    if dialect == "postgres":
        sql = {name: numbered(text) for name, text in sql.items()}
    return sql



async def next_due() -> datetime | None:
    """When the earliest email still to send is due (a retry, or a lease running out); None if none."""
    return await outbox_queue.next_due(queue_sql)


async def claim(limit: int, lease_seconds: int) -> list[Claimed]:
    """Take up to `limit` due emails for this worker; an email stays taken for the lease."""
    claimed = [
        Claimed(**{k: r[k] for k in Claimed.__dataclass_fields__})
        for r in await outbox_queue.claim(queue_sql, limit, lease_seconds)
    ]
    for c in claimed:
        c.active = None if c.active is None else bool(c.active)  # SQLite: 0 or 1
    return sorted(claimed, key=lambda c: c.id)


async def release_claims(ids: list[int]) -> None:
    """Give emails this worker took but never tried back to the queue, due at once."""
    if ids:
        await EmailOutbox.filter(id__in=ids, status=SENDING).update(
            status=PENDING, next_attempt_at=clock.now(), attempts=F("attempts") - 1
        )


@dataclass
class Settled:
    """The end of one try: sent, retry (at a time) or failed."""

    row: Claimed
    outcome: str
    reason: str | None = None
    retry_at: datetime | None = None


async def settle(results: list[Settled]) -> None:
    """Write the outcome of a batch of tries in one transaction."""
    if not results:
        return
    moment = clock.now()
    # The common case, an email sent with nothing to blank, is one statement for the whole batch.
    plain = {r.row.id for r in results if r.outcome == "sent" and r.row.kind not in LINK_KINDS}
    async with in_transaction() as conn:
        if plain:
            await EmailOutbox.filter(id__in=list(plain), status=SENDING).using_db(conn).update(
                status=SENT, sent_at=moment, last_error=None
            )
        for r in results:
            if r.row.id in plain:
                continue
            values: dict = {"last_error": (r.reason or "")[:REASON_CHARS] or None}
            if r.outcome == "retry":
                values.update(status=PENDING, next_attempt_at=r.retry_at)
            else:
                values["status"] = SENT if r.outcome == "sent" else FAILED
                if r.outcome == "sent":
                    values["sent_at"] = moment
                if r.row.kind in LINK_KINDS:
                    # Sent or given up: the single-use link lives on only in the person's mailbox.
                    values.update(text=messages.without_links(r.row.text), html=messages.without_links(r.row.html))
            # Only a row this worker still holds: after a lease ran out another worker may own it.
            await EmailOutbox.filter(id=r.row.id, status=SENDING).using_db(conn).update(**values)
