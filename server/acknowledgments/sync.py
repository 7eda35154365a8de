"""Delta sync: what a device says it holds, what it lacks, and each device's last sync.

The protocol is described in docs/sync.md. The server trusts a device's claim only when
it names a release of the device's own agency exactly (the release's strong ETag, or its
number); anything else gets the whole release, so a wrong claim costs bytes, never
correctness. A device still checks every card hash of the manifest it receives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from server import clock, params
from server.guidance.releases import ReleaseCache, ReleaseView
from server.lru import LRU
from server.models import Device, Release, User
from server.settings import Settings

HELD_ETAG = re.compile(r'"r([1-9][0-9]{0,8})-([0-9a-f]{20})"')
DEVICE_HEADER = "fieldguide-device"
RECORD_EVERY = timedelta(minutes=1)
CHECKED_HEADER = "Fieldguide-Checked-At"
# FIELDGUIDE_MAX_DEVICES_PER_USER's default, for callers that do not pass the setting.
MAX_DEVICES = Settings().max_devices_per_user


@dataclass(frozen=True)
class Claim:
    """What a device says it holds: a release number, and that release's ETag when it sent one."""

    number: int
    etag: str | None = None


def parse_claim(if_none_match: str | None, have: str | None) -> Claim | None:
    """The device's claim from If-None-Match (preferred) or ?have=N; None when it holds nothing.

    Invalid (server.errors) for a malformed have.
    """
    for candidate in (if_none_match or "").split(","):
        match = HELD_ETAG.fullmatch(candidate.strip().removeprefix("W/"))
        if match:
            return Claim(int(match.group(1)), match.group(0))
    if have is None or have in ("", "0"):
        return None
    return Claim(params.parse_release_number(have, "have"))


def parse_device_id(header: str | None) -> str | None:
    """The client-made device id (Fieldguide-Device header), or None when not sent; Invalid when malformed."""
    return params.parse_device_id(header, DEVICE_HEADER)


async def held_release(
    claim: Claim | None, current: ReleaseView, agency_id: int, releases: ReleaseCache
) -> ReleaseView | None:
    """The release of this agency the device really holds, or None when the claim does not match one."""
    if claim is None:
        return None
    if claim.number == current.number:
        held = current
    else:
        row = await Release.get_or_none(agency_id=agency_id, number=claim.number)
        if row is None:
            return None
        held = await releases.get(row)
    if claim.etag is not None and claim.etag != held.etag:
        return None
    return held


def delta(current: ReleaseView, held: ReleaseView | None) -> tuple[list[dict], list[str]]:
    """(cards of the current release whose hash the device lacks, ids of cards it must drop)."""
    if held is None:
        return list(current.cards), []
    have = {c["hash"] for c in held.cards}
    lacking = [c for c in current.cards if c["hash"] not in have]
    retired = [c["id"] for c in held.cards if c["id"] not in current.by_id]
    return lacking, retired


def page_delta(current: dict[str, dict], held: dict[str, dict] | None) -> tuple[dict[str, dict], list[str]]:
    """(pages the device must be sent, paths of pages it keeps from the release it holds)."""
    if held is None:
        return current, []
    kept = [path for path, page in current.items() if held.get(path) == page]
    return {path: page for path, page in current.items() if held.get(path) != page}, kept


class RecentSyncs:
    """What this process last recorded per (user, device): (release number, browser, last sync).

    A memo of the rows record_sync wrote or read, so the common check (a device every few
    minutes, same release, same browser) needs no device query at all. The database row stays
    the source of truth: a memo older than RECORD_EVERY sends record_sync back to it. Each
    process keeps its own; one that has not seen a device just reads its row.
    """

    def __init__(self, size: int = 100_000):
        self._items: LRU[tuple[int, str], tuple[int | None, str, datetime]] = LRU(size)

    def fresh(self, key: tuple[int, str], release_number: int | None, user_agent: str, moment: datetime) -> bool:
        """Whether this process recorded this device, release and browser less than RECORD_EVERY ago."""
        seen = self._items.get(key)
        return (
            seen is not None
            and seen[0] == release_number
            and seen[1] == user_agent
            and moment - seen[2] < RECORD_EVERY
        )

    def note(self, key: tuple[int, str], release_number: int | None, user_agent: str, at: datetime) -> None:
        """Remember what the device's row now says."""
        self._items.put(key, (release_number, user_agent, at))


async def drop_devices_beyond(user_id: int, limit: int) -> int:
    """Forget a person's devices beyond `limit`, the longest unsynced first; how many were dropped.

    Nothing else points at a device row: acknowledgments keep the device id as text (the
    evidence stays whole) and push subscriptions have their own cap. Run after a new device's
    row is written: under concurrent first syncs each run deletes, by id, what its own read
    shows beyond the cap, so the count may pass the cap for a moment, but the last run reads
    every row written before it and settles it back (PostgreSQL, any number of processes).
    """
    rows = await Device.filter(user_id=user_id).values("id", "last_sync_at", "created_at")
    if len(rows) <= limit:
        return 0
    rows.sort(key=lambda r: (r["last_sync_at"] or r["created_at"], r["id"]), reverse=True)
    victims = [r["id"] for r in rows[max(1, limit) :]]
    return await Device.filter(id__in=victims).delete()


async def record_sync(
    user: User,
    device_id: str,
    user_agent: str,
    release_number: int | None,
    recent: RecentSyncs | None = None,
    max_devices: int = MAX_DEVICES,
) -> None:
    """Remember when a device last synced and which release it holds.

    A device checks every few minutes: within RECORD_EVERY of its last record, with the same
    release and browser, nothing is written, so the common check only reads (and, with this
    process's `recent` memo, does not even read). A new device beyond `max_devices` drops the
    person's longest unsynced one.
    """
    moment = clock.now()
    key = (user.id, device_id)
    fields = {"user_agent": user_agent[:300], "release_number": release_number, "last_sync_at": moment}
    if recent is not None and recent.fresh(key, release_number, fields["user_agent"], moment):
        return
    device = await Device.get_or_none(user_id=user.id, device_id=device_id)
    if device is None:
        try:
            await Device.create(user_id=user.id, device_id=device_id, **fields)
            await drop_devices_beyond(user.id, max_devices)
        except IntegrityError:
            # Two first syncs of one device raced: the other one created the row.
            device = await Device.get(user_id=user.id, device_id=device_id)
    if device is not None:
        fresh = device.last_sync_at is not None and moment - device.last_sync_at < RECORD_EVERY
        if fresh and device.release_number == release_number and device.user_agent == fields["user_agent"]:
            moment = device.last_sync_at
        else:
            await Device.filter(id=device.id).update(**fields)
    if recent is not None:
        recent.note(key, release_number, fields["user_agent"], moment)
