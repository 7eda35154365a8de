"""Push delivery at a glance: a device's label, and per officer the devices with alerts on, the
last notice delivered, and how a release's notices went (so "not subscribed", "not delivered"
and "delivered but not acknowledged" can be told apart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.functions import Max

from server.models import PushOutbox, PushSubscription

_BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"), ("Windows", "Windows"), ("Mac OS X", "Mac"), ("Linux", "Linux"))


def device_label(user_agent: str) -> str:
    """A short name for a device from its browser's User-Agent ("Chrome on Android")."""
    browser = next((name for key, name in _BROWSERS if key in user_agent), "Browser")
    system = next((name for key, name in _SYSTEMS if key in user_agent), "")
    return f"{browser} on {system}" if system else browser


@dataclass
class PushStatus:
    """One person's alerts, and the notices about one release."""

    devices: int = 0
    last_delivered_at: datetime | None = None
    release_delivered_at: datetime | None = None
    failures: int = 0
    last_failure: str | None = None
    waiting: int = 0

    @property
    def state(self) -> str:
        """not-subscribed | not-delivered | sending | delivered | no-notice (subscribed since)."""
        if self.release_delivered_at:
            return "delivered"
        if self.waiting:
            return "sending"
        if self.failures:
            return "not-delivered"
        return "no-notice" if self.devices else "not-subscribed"

    @property
    def label(self) -> str:
        """The state in words for the dashboard."""
        return {
            "delivered": "Delivered",
            "sending": "Sending",
            "not-delivered": "Not delivered",
            "no-notice": "No notice sent (alerts turned on later)",
            "not-subscribed": "Alerts off",
        }[self.state]


async def push_statuses(agency_id: int, user_ids: list[int], release_id: int | None = None) -> dict[int, PushStatus]:
    """Per user (of these, in an agency): devices, last delivery, and (for release_id) that release's notices.

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
            else:
                s.waiting += 1
                s.last_failure = row["last_error"] or s.last_failure
    return statuses


async def attach_push_status(rows: list, agency_id: int, release_id: int | None = None) -> None:
    """Put each dashboard row's PushStatus in row.extra["push"] (rows with .user_id and .extra)."""
    statuses = await push_statuses(agency_id, [row.user_id for row in rows], release_id)
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
