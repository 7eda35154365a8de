"""Push delivery at a glance: a device's label, and per officer the devices with alerts on, the
last notice delivered, and how a release's notices went (so "not subscribed", "not delivered"
and "delivered but not acknowledged" can be told apart)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.functions import Max, Min

from server.models import Device, EmailOutbox, PushOutbox, PushSubscription
from server.push.receipts import first_shown, shown_per_release

_BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"), ("Mac OS X", "Mac"), ("Linux", "Linux"))


def device_label(user_agent: str) -> str:
    """A short name for a device from its browser's User-Agent ("Chrome on Android")."""
    browser = next((name for key, name in _BROWSERS if key in user_agent), "Browser")
    system = next((name for key, name in _SYSTEMS if key in user_agent), "")
    return f"{browser} on {system}" if system else browser


@dataclass
class EmailStep:
    """The email channel for one officer and release: sent, sending, failed, replaced or none."""

    state: str = "none"
    at: datetime | None = None
    reason: str | None = None

    def add(self, status: str, sent_at: datetime | None, reason: str | None) -> None:
        """Take in one email row of this officer and release (the release's, or a reminder)."""
        state = "sending" if status == "pending" else status
        if state == "sent":
            # Reached once is reached: the first email sent is when.
            self.at = min(filter(None, (self.at, sent_at)), default=None)
        if _EMAIL_RANK.get(state, 0) > _EMAIL_RANK[self.state]:
            self.state, self.reason = state, reason
        elif state == self.state and reason:
            self.reason = reason

    @property
    def label(self) -> str:
        """The channel in words for the ladder."""
        return {
            "sent": "Emailed",
            "sending": "Email: sending" + (f" (retrying: {self.reason})" if self.reason else ""),
            "failed": f"Email failed: {self.reason}" if self.reason else "Email failed",
            "replaced": "Email not sent: a newer release's took its place",
            "none": "No email",
        }[self.state]


# The better news wins: an email sent says the officer was reached, whatever else failed.
_EMAIL_RANK = {"sent": 4, "sending": 3, "failed": 2, "replaced": 1, "none": 0}


class Ladder(list):
    """The delivery steps [(key, label, when, reached)], with the email channel beside them in `.email`."""

    def __init__(self, steps, email: EmailStep):
        super().__init__(steps)
        self.email = email


@dataclass
class PushStatus:
    """One person's alerts, and the notices about one release."""

    devices: int = 0
    last_delivered_at: datetime | None = None
    release_delivered_at: datetime | None = None
    failures: int = 0
    last_failure: str | None = None
    waiting: int = 0
    replaced: int = 0  # notices not sent because a newer release's notice took their place
    # The delivery ladder of the release: shown on a phone (a receipt), synced (a device's last
    # sync holds it, or a later release); "sent" is release_delivered_at, "acknowledged" the row's.
    shown_at: datetime | None = None
    synced_at: datetime | None = None
    email: EmailStep = field(default_factory=EmailStep)

    def ladder(self, acknowledged_at: datetime | None = None) -> Ladder:
        """The steps of the release's delivery: (key, label, when, reached), in order, and `.email`."""
        steps = (
            ("sent", "Sent to the push service", self.release_delivered_at),
            ("shown", "Shown on the phone", self.shown_at),
            ("synced", "Synced", self.synced_at),
            ("acknowledged", "Acknowledged", acknowledged_at),
        )
        return Ladder([(key, label, at, at is not None) for key, label, at in steps], self.email)

    @property
    def state(self) -> str:
        """not-subscribed | not-delivered | sending | delivered | replaced | no-notice (subscribed since)."""
        if self.release_delivered_at:
            return "delivered"
        if self.waiting:
            return "sending"
        if self.failures:
            return "not-delivered"
        if self.replaced:
            return "replaced"
        return "no-notice" if self.devices else "not-subscribed"

    @property
    def label(self) -> str:
        """The state in words for the dashboard."""
        return {
            "delivered": "Delivered",
            "sending": "Sending",
            "not-delivered": "Not delivered",
            "replaced": "Not sent: a newer release's notice replaced it",
            "no-notice": "No notice sent (alerts turned on later)",
            "not-subscribed": "Alerts off",
        }[self.state]


async def push_statuses(
    agency_id: int, user_ids: list[int], release_id: int | None = None, release_number: int | None = None
) -> dict[int, PushStatus]:
    """Per user (of these, in an agency): devices, last delivery, and (for release_id) that release's notices.

    With release_number too, the rest of the ladder: when a notice was shown, when a device synced it.

    Read for the users on one dashboard page only: an agency's whole outbox history can run to
    millions of rows.
    """
    statuses: dict[int, PushStatus] = {}
    if not user_ids:
        return statuses
    for user_id in await PushSubscription.filter(user_id__in=user_ids, user__agency_id=agency_id).values_list(
        "user_id", flat=True
    ):
        statuses.setdefault(user_id, PushStatus()).devices += 1
    last = (
        await PushOutbox.filter(user_id__in=user_ids, agency_id=agency_id, status="sent")
        .annotate(last=Max("sent_at"))
        .group_by("user_id")
        .values("user_id", "last")
    )
    for row in last:
        statuses.setdefault(row["user_id"], PushStatus()).last_delivered_at = row["last"]
    if release_id is not None:
        rows = (
            await PushOutbox.filter(user_id__in=user_ids, agency_id=agency_id, release_id=release_id)
            .order_by("id")
            .values("user_id", "status", "sent_at", "last_error")
        )
        for row in rows:
            s = statuses.setdefault(row["user_id"], PushStatus())
            if row["status"] == "sent":
                s.release_delivered_at = max(filter(None, (s.release_delivered_at, row["sent_at"])))
            elif row["status"] in ("failed", "gone"):
                s.failures += 1
                s.last_failure = row["last_error"]
            elif row["status"] == "replaced":
                s.replaced += 1
            else:
                s.waiting += 1
                s.last_failure = row["last_error"] or s.last_failure
        for user_id, at in (await first_shown(agency_id, user_ids, release_id)).items():
            statuses.setdefault(user_id, PushStatus()).shown_at = at
        emails = (
            await EmailOutbox.filter(user_id__in=user_ids, agency_id=agency_id, release_id=release_id)
            .order_by("id")
            .values("user_id", "status", "sent_at", "last_error")
        )
        for row in emails:
            statuses.setdefault(row["user_id"], PushStatus()).email.add(row["status"], row["sent_at"], row["last_error"])
    if release_number is not None:
        synced = (
            await Device.filter(user_id__in=user_ids, user__agency_id=agency_id, release_number__gte=release_number)
            .annotate(at=Max("last_sync_at"))
            .group_by("user_id")
            .values("user_id", "at")
        )
        for row in synced:
            if row["at"] is not None:
                statuses.setdefault(row["user_id"], PushStatus()).synced_at = row["at"]
    return statuses


async def attach_push_status(rows: list, agency_id: int, release_id: int | None = None, release_number: int | None = None) -> None:
    """Put each dashboard row's PushStatus in row.extra["push"] (rows with .user_id and .extra)."""
    statuses = await push_statuses(agency_id, [row.user_id for row in rows], release_id, release_number)
    for row in rows:
        row.extra["push"] = statuses.get(row.user_id, PushStatus())


@dataclass
class AlertDevice:
    """A device with alerts on, as the supervisor sees it."""

    name: str
    created_at: datetime
    last_delivered_at: datetime | None
    last_failure_at: datetime | None
    last_failure: str | None


async def person_alerts(user_id: int) -> dict:
    """One person's devices with alerts on, and their notices that were not delivered (newest first)."""
    devices = [
        AlertDevice(device_label(s.user_agent), s.created_at, s.last_delivered_at, s.last_failure_at, s.last_failure)
        for s in await PushSubscription.filter(user_id=user_id).order_by("-created_at")
    ]
    failed = (
        await PushOutbox.filter(user_id=user_id, status__in=("failed", "gone"))
        .order_by("-id")
        .limit(10)
        .values("kind", "release__number", "created_at", "status", "last_error")
    )
    return {"devices": devices, "failed": failed}


async def release_ladders(agency_id: int, user_id: int, releases: dict[int, int]) -> dict[int, PushStatus]:
    """One officer's delivery ladder per release (releases: id -> number), keyed by release number.

    Four reads whatever the number of releases: the notices sent, the emails, the receipts, the devices.
    """
    ladders = {number: PushStatus() for number in releases.values()}
    if not releases:
        return ladders
    sent = (
        await PushOutbox.filter(user_id=user_id, agency_id=agency_id, status="sent", release_id__in=list(releases))
        .annotate(first=Min("sent_at"))
        .group_by("release_id")
        .values("release_id", "first")
    )
    for row in sent:
        ladders[releases[row["release_id"]]].release_delivered_at = row["first"]
    emails = (
        await EmailOutbox.filter(user_id=user_id, agency_id=agency_id, release_id__in=list(releases))
        .order_by("id")
        .values("release_id", "status", "sent_at", "last_error")
    )
    for row in emails:
        ladders[releases[row["release_id"]]].email.add(row["status"], row["sent_at"], row["last_error"])
    for release_id, at in (await shown_per_release(agency_id, user_id)).items():
        if release_id in releases:
            ladders[releases[release_id]].shown_at = at
    devices = await Device.filter(user_id=user_id, release_number__not_isnull=True, last_sync_at__not_isnull=True).values(
        "release_number", "last_sync_at"
    )
    for number, ladder in ladders.items():
        held = [d["last_sync_at"] for d in devices if d["release_number"] >= number]
        ladder.synced_at = max(held) if held else None
    return ladders
