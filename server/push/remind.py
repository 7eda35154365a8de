"""A supervisor's "remind pending": push notices and, when email is set up, emails, in one audited transaction."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from server.mail.config import Mail
from server.mail.outbox import enqueue_reminder_mail
from server.models import Release, User
from server.people import audit
from server.push.outbox import enqueue_reminders


@dataclass
class Reminded:
    """How a reminder went, per officer: reached by push (a device with alerts on), by email, or not at all."""

    pending: int
    by_push: int
    by_email: int
    unreached: int
    notices: int

    @property
    def reached(self) -> int:
        return self.pending - self.unreached


async def remind_pending(release: Release, officers: list[User], actor: User, mail: Mail | None) -> Reminded:
    """Remind these officers (not yet acknowledged) of a release on every channel that reaches them.

    Email goes to every one of them when it is set up, whether or not they have push: a reminder
    is about a release that needs acknowledgment, which officers cannot turn off.
    """
    async with in_transaction() as conn:
        pushed = await enqueue_reminders(release, officers, conn)
        emailed = await enqueue_reminder_mail(release, officers, mail, conn) if mail is not None else set()
        pushed_ids = set(pushed.user_ids)
        active = [u for u in officers if u.agency_id == release.agency_id and u.active]
        unreached = sum(1 for u in active if u.id not in pushed_ids and u.id not in emailed)
        result = Reminded(len(active), len(pushed_ids), len(emailed), unreached, pushed.notices)
        await audit.record(
            release.agency_id,
            actor,
            "push.remind",
            f"release {release.number}",
            details={
                "officers_pending": len(officers),
                "officers_reached": result.reached,
                "by_push": result.by_push,
                "by_email": result.by_email,
                "notices": pushed.notices,
            },
            connection=conn,
        )
    return result
