"""Receipts from the phone: the service worker reports each release notice it shows.

A receipt names the release, the kind of notice and the device; the device makes its uuid,
so sending one twice (offline replay, the page and the worker at once) records it once. One
receipt stands per officer, release and device: the first notice shown there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.errors import Invalid, NotFound
from server.models import PushReceipt, Release, User
from server.params import (
    parse_device_id,
    parse_device_time,
    parse_release_number,
    parse_uuid,
)

KINDS = ("release", "reminder")


@dataclass(frozen=True)
class ReceiptInput:
    """A receipt as the device sent it, every field checked."""

    uuid: str
    release: int
    kind: str
    device_id: str
    shown_at: datetime | None


def parse_receipt(body: dict) -> ReceiptInput:
    """The fields of POST /api/v1/push/receipts, or Invalid naming the first field at fault."""
    uuid = parse_uuid(body.get("uuid"))
    release = parse_release_number(body.get("release"))
    kind = body.get("kind", "release")
    if kind not in KINDS:
        raise Invalid("kind must be release or reminder.", {"kind": "invalid"})
    device_id = parse_device_id(body.get("device_id"))
    if device_id is None:
        raise Invalid("device_id names the device that showed the notice.", {"device_id": "missing"})
    return ReceiptInput(uuid, release, kind, device_id, parse_device_time(body.get("shown_at"), "shown_at"))


@dataclass
class Recorded:
    """The receipt that stands for this officer, release and device, and whether this call made it."""

    receipt: PushReceipt
    number: int
    created: bool


async def _standing(user: User, release_id: int, receipt: ReceiptInput) -> PushReceipt | None:
    return await PushReceipt.get_or_none(uuid=receipt.uuid, user_id=user.id) or await PushReceipt.get_or_none(
        user_id=user.id, release_id=release_id, device_id=receipt.device_id
    )


async def record_receipt(user: User, receipt: ReceiptInput) -> Recorded:
    """Record a receipt once. A release of another agency is NotFound, as is a uuid of another officer."""
    release = await Release.get_or_none(agency_id=user.agency_id, number=receipt.release)
    if release is None:
        raise NotFound(f"Your agency has no release {receipt.release}.", {"release": receipt.release})
    existing = await _standing(user, release.id, receipt)
    if existing is None:
        if await PushReceipt.exists(uuid=receipt.uuid):
            raise Invalid("This uuid is another receipt's: make a new one.", {"uuid": "taken"})
        try:
            async with in_transaction():
                row = await PushReceipt.create(
                    agency_id=user.agency_id,
                    user_id=user.id,
                    release_id=release.id,
                    device_id=receipt.device_id,
                    uuid=receipt.uuid,
                    kind=receipt.kind,
                    shown_at=receipt.shown_at,
                    received_at=clock.now(),
                )
            return Recorded(row, release.number, True)
        except IntegrityError:
            # Sent twice at once: the other request recorded it first.
            existing = await _standing(user, release.id, receipt)
            if existing is None:
                raise Invalid("This uuid is another receipt's: make a new one.", {"uuid": "taken"}) from None
    return Recorded(existing, release.number, False)


def receipt_body(recorded: Recorded) -> dict:
    """A receipt as the API returns it."""
    r = recorded.receipt
    return {
        "uuid": r.uuid,
        "release": recorded.number,
        "kind": r.kind,
        "device_id": r.device_id,
        "shown_at": r.shown_at.isoformat() if r.shown_at else None,
        "received_at": r.received_at.isoformat(),
    }


async def first_shown(agency_id: int, user_ids: list[int], release_id: int) -> dict[int, datetime]:
    """Per user (of these), when a notice about the release was first shown on one of their devices.

    The device's own time when it sent one, else when the server received it; read through the
    (user, release, device) index for one page of officers.
    """
    shown: dict[int, datetime] = {}
    if not user_ids:
        return shown
    rows = await PushReceipt.filter(user_id__in=user_ids, release_id=release_id, agency_id=agency_id).values(
        "user_id", "shown_at", "received_at"
    )
    for row in rows:
        at = row["shown_at"] or row["received_at"]
        if row["user_id"] not in shown or at < shown[row["user_id"]]:
            shown[row["user_id"]] = at
    return shown


async def shown_per_release(agency_id: int, user_id: int) -> dict[int, datetime]:
    """Per release id, when a notice about it was first shown on one of this officer's devices."""
    shown: dict[int, datetime] = {}
    for row in await PushReceipt.filter(user_id=user_id, agency_id=agency_id).values("release_id", "shown_at", "received_at"):
        at = row["shown_at"] or row["received_at"]
        if row["release_id"] not in shown or at < shown[row["release_id"]]:
            shown[row["release_id"]] = at
    return shown
