"""Acknowledgments: recording each officer's ack of a release exactly once, in a hash-chained ledger.

The ledger is append-only and chained per agency: row N holds the row_hash of row N-1
(64 zeros for the first row), and its own row_hash is the SHA-256 of the canonical JSON of
its content fields plus that prev_hash. Editing, removing or reordering any row breaks the
chain from that row on; docs/ledger.md shows how to verify an export independently.
Each new row also counts in its release's tally (server/tally.py), in the same transaction.
"""

from __future__ import annotations

import re
import uuid as uuid_lib
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock, tally
from server.errors import Conflict, Invalid, NotFound
from server.guidance.content import content_hash
from server.guidance.releases import ReleaseView
from server.models import Acknowledgment, Agency, AuditEntry, User
from server.params import parse_device_id

GENESIS = "0" * 64
DEFAULT_ATTESTATION = "I have read and understand the changes in release {release}."
MAX_ATTESTATION = 500
# The fields each row's hash covers, in the order exports list them.
CHAIN_FIELDS = (
    "seq",
    "agency_id",
    "user_id",
    "release",
    "uuid",
    "card_hashes",
    "attestation",
    "device_time",
    "received_at",
    "device_id",
    "prev_hash",
)
# An acknowledgment as the API returns it; the times the ledger writes as text.
API_FIELDS = ("uuid", "release", "received_at", "device_time", "card_hashes", "seq", "row_hash")
TIME_FIELDS = ("device_time", "received_at")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HASH = re.compile(r"^[0-9a-f]{64}$")


def attestation_template(agency: Agency) -> str:
    """The agency's attestation wording, with {release} where the number goes."""
    return agency.attestation or DEFAULT_ATTESTATION


def attestation_text(agency: Agency, number: int) -> str:
    """The sentence an officer attests to for release `number`."""
    return attestation_template(agency).replace("{release}", str(number))


def check_attestation(text: str) -> str:
    """A cleaned attestation wording, or ValueError saying what is wrong with it."""
    text = " ".join(text.split())
    if not text:
        raise ValueError("The attestation cannot be empty.")
    if len(text) > MAX_ATTESTATION:
        raise ValueError(f"The attestation is limited to {MAX_ATTESTATION} characters.")
    return text


def new_uuid() -> str:
    """A fresh idempotency key for an acknowledgment form."""
    return str(uuid_lib.uuid4())


def stamp(moment: datetime | None) -> str | None:
    """A time as the ledger writes it: UTC, microseconds, always the same shape."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ack_fields(row, names: tuple[str, ...] = API_FIELDS, release: int | None = None, time=stamp) -> dict:
    """The named fields of an acknowledgment row, by name: every reader of acks turns rows into dicts here.

    row: an Acknowledgment, a .values() or SQL dict, or any object with those attributes.
    release: the release number (else read from "release__number"). time: what each stored time
    becomes (stamp: the ledger's text; the dashboard passes a reader that gives datetimes).
    """
    read = row.get if isinstance(row, dict) else (lambda name: getattr(row, name))
    out = {}
    for name in names:
        if name == "release":
            value = release if release is not None else read("release__number")
        elif name in TIME_FIELDS:
            value = time(read(name))
        else:
            value = read(name)
            if name == "card_hashes" and isinstance(value, list):
                value = list(value)
        out[name] = value
    return out


def chain_content(ack: Acknowledgment, release_number: int) -> dict:
    """The fields of a row that its hash covers."""
    return ack_fields(ack, CHAIN_FIELDS, release_number)


def row_hash(content: dict) -> str:
    """SHA-256 of the canonical JSON of a row's content fields (prev_hash included)."""
    return content_hash({name: content[name] for name in CHAIN_FIELDS})


# --- recording ---------------------------------------------------------------------------


@dataclass
class Recorded:
    """The acknowledgment that stands for an officer and release, and whether this call made it."""

    ack: Acknowledgment
    created: bool


def parse_device_time(raw) -> datetime | None:
    """An ISO 8601 time with a time zone (as the browser's toISOString gives), in UTC."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise Invalid("device_time must be an ISO 8601 time with a time zone.", {"device_time": "invalid"})
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid("device_time must be an ISO 8601 time with a time zone.", {"device_time": "invalid"}) from None
    if moment.tzinfo is None:
        raise Invalid("device_time needs a time zone (e.g. 2025-01-31T14:05:00Z).", {"device_time": "no time zone"})
    return moment.astimezone(timezone.utc)


def check_ack_input(release: ReleaseView, uuid: str, card_hashes, device_id) -> tuple[str, list[str], str | None]:
    """Validated uuid, card hashes (sorted, each a card of the release) and device id."""
    if not isinstance(uuid, str) or not UUID.match(uuid.lower()):
        raise Invalid("uuid must be a UUID made by the client.", {"uuid": "invalid"})
    if not isinstance(card_hashes, list) or not all(isinstance(h, str) and HASH.match(h) for h in card_hashes):
        raise Invalid("card_hashes must be a list of card content hashes.", {"card_hashes": "invalid"})
    known = {c["hash"] for c in release.cards}
    unknown = sorted(set(card_hashes) - known)
    if unknown:
        raise Invalid(
            f"Some card hashes are not cards of release {release.number}.",
            {"card_hashes": "not in release", "unknown": unknown[:5]},
        )
    device_id = parse_device_id(None if device_id == "" else device_id)
    return uuid.lower(), sorted(set(card_hashes)), device_id


async def _lock_agency(conn, agency_id: int) -> Agency:
    # PostgreSQL: FOR UPDATE on the agency row serializes appends to its chain across
    # processes. SQLite drops it, but there a transaction holds the one connection's lock.
    return await Agency.filter(id=agency_id).select_for_update().using_db(conn).get()


async def _wordings(agency: Agency, number: int, conn) -> set[str]:
    """Every sentence the agency has asked officers to attest to, for release `number`."""
    details = await AuditEntry.filter(agency_id=agency.id, action="attestation.update").using_db(conn).values_list(
        "details", flat=True
    )
    templates = {DEFAULT_ATTESTATION, attestation_template(agency)}
    templates |= {d.get(k) for d in details for k in ("before", "after") if isinstance(d, dict) and d.get(k)}
    return {t.replace("{release}", str(number)) for t in templates}


async def _existing(user: User, release_id: int, uuid: str, conn=None) -> Acknowledgment | None:
    same_key = await Acknowledgment.get_or_none(uuid=uuid).using_db(conn)
    if same_key is not None:
        if same_key.user_id != user.id:
            raise Conflict("This uuid belongs to another acknowledgment.", {"uuid": "taken"})
        return same_key
    return await Acknowledgment.get_or_none(user_id=user.id, release_id=release_id).using_db(conn)


async def record_ack(
    user: User,
    release: ReleaseView,
    uuid: str,
    card_hashes: list[str],
    device_time: datetime | None = None,
    device_id: str | None = None,
    attestation: str | None = None,
) -> Recorded:
    """Append the officer's ack of a release, or return the one that exists (same uuid or release).

    attestation: the sentence the officer was shown; kept when it is one the agency has used
    (its wording may have changed while the ack waited offline), else the current wording.
    """
    if release.agency_id != user.agency_id:
        raise NotFound("Your agency has no such release.")
    if not release.requires_ack:
        raise Conflict(
            f"Release {release.number} has minor changes only and needs no acknowledgment.",
            {"release": release.number},
        )
    uuid, card_hashes, device_id = check_ack_input(release, uuid, card_hashes, device_id)
    if attestation is not None and (not isinstance(attestation, str) or len(attestation) > 2 * MAX_ATTESTATION):
        raise Invalid("attestation must be the sentence shown to the officer.", {"attestation": "invalid"})
    try:
        async with in_transaction() as conn:
            agency = await _lock_agency(conn, user.agency_id)
            found = await _existing(user, release.id, uuid, conn)
            if found is not None:
                return Recorded(found, False)
            sentence = attestation_text(agency, release.number)
            if attestation is not None and attestation != sentence:
                if attestation not in await _wordings(agency, release.number, conn):
                    raise Conflict("That is not a sentence your agency asked officers to confirm.", {"attestation": "unknown"})
                sentence = attestation
            last = await Acknowledgment.filter(agency_id=agency.id).using_db(conn).order_by("-seq").first()
            ack = Acknowledgment(
                agency_id=agency.id,
                seq=(last.seq if last else 0) + 1,
                user_id=user.id,
                release_id=release.id,
                uuid=uuid,
                card_hashes=card_hashes,
                attestation=sentence,
                # In UTC, so stored times compare correctly even as text (SQLite).
                device_time=_exact(device_time),
                received_at=_exact(clock.now()),
                device_id=device_id,
                prev_hash=last.row_hash if last else GENESIS,
                row_hash="",
            )
            ack.row_hash = row_hash(chain_content(ack, release.number))
            await ack.save(using_db=conn)
            await tally.ack_recorded(conn, ack, release.number, release.due_at)
            return Recorded(ack, True)
    except IntegrityError:
        # A concurrent writer won a unique constraint race: its row is the answer.
        found = await _existing(user, release.id, uuid)
        if found is None:
            raise
        return Recorded(found, False)


def _exact(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


async def acks_of(user: User) -> list[dict]:
    """The user's own acknowledgments, newest release first."""
    rows = (
        await Acknowledgment.filter(user_id=user.id)
        .order_by("-release__number")
        .values("uuid", "release__number", "received_at", "device_time", "card_hashes", "seq", "row_hash")
    )
    return [ack_fields(r) for r in rows]


async def ack_for(user: User, release_id: int) -> Acknowledgment | None:
    """The user's acknowledgment of one release, if any."""
    return await Acknowledgment.get_or_none(user_id=user.id, release_id=release_id)


def ack_body(ack: Acknowledgment, release_number: int) -> dict:
    """An acknowledgment as the API returns it."""
    return ack_fields(ack, API_FIELDS, release_number)


# --- the ledger --------------------------------------------------------------------------


async def ledger_rows(agency_id: int) -> list[dict]:
    """The agency's chain in order: each row's hashed content fields plus its row_hash."""
    rows = (
        await Acknowledgment.filter(agency_id=agency_id)
        .order_by("seq")
        .values(
            "id", "seq", "agency_id", "user_id", "release__number", "uuid", "card_hashes", "attestation",
            "device_time", "received_at", "device_id", "prev_hash", "row_hash",
        )
    )
    return [{**ack_fields(r, CHAIN_FIELDS + ("row_hash",)), "_id": r["id"]} for r in rows]


@dataclass
class Break:
    """The first place the chain does not hold, and why."""

    position: int  # 1-based position in seq order
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"row {self.position} (seq {self.seq}): {self.problem}"


def verify_rows(rows: list[dict]) -> Break | None:
    """The first broken link of a chain given in order, or None when every link holds."""
    prev = GENESIS
    last_id = None
    for position, row in enumerate(rows, start=1):
        seq = row["seq"]
        if seq != position:
            return Break(position, seq, f"seq is {seq} where {position} was expected: a row was removed or moved")
        if row["prev_hash"] != prev:
            return Break(position, seq, "prev_hash does not match the row before: a row was removed, added or moved")
        if row_hash(row) != row["row_hash"]:
            return Break(position, seq, "the row's content does not match its row_hash: the row was edited")
        # Rows are appended under a lock, so their ids rise with seq; a fall means rows swapped places.
        row_id = row.get("_id")
        if row_id is not None and last_id is not None and row_id < last_id:
            return Break(position, seq, "stored out of insertion order: rows were swapped")
        last_id = row_id if row_id is not None else last_id
        prev = row["row_hash"]
    return None


@dataclass
class Verified:
    """What verifying an agency's ledger found."""

    count: int
    head: str
    broken: Break | None


async def verify_agency(agency_id: int) -> Verified:
    """Re-hash an agency's whole chain from the database."""
    rows = await ledger_rows(agency_id)
    return Verified(len(rows), rows[-1]["row_hash"] if rows else GENESIS, verify_rows(rows))
