"""Acknowledgments: recording each officer's ack of a release exactly once, in a hash-chained ledger.

The ledger is append-only and chained per agency: row N holds the row_hash of row N-1
(64 zeros for the first row), and its own row_hash is the SHA-256 of the canonical JSON of
its content fields plus that prev_hash. Editing, removing or reordering any row breaks the
chain from that row on. Each new row also carries an Ed25519 signature of its row_hash by the
site's ledger key (server/ledger_signing.py), so a rewritten and re-hashed chain, or a forged row,
shows to anyone without that key; signed checkpoints (checkpoints.py) also show cut-off rows.
docs/ledger.md says what each proves and how to verify an export independently.
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
from server import ledger_signing as signing
from server.acknowledgments.answers import answers_hash, recorded
from server.acknowledgments.reading import changed_cards, check_reading, unread
from server.errors import Conflict, Invalid, NotFound
from server.guidance.content import content_hash
from server.guidance.releases import ReleaseView
from server.models import Acknowledgment, Agency, AuditEntry, ReleaseQuestion, User
from server.params import parse_device_id, parse_device_time, parse_uuid  # noqa: F401 (parse_device_time: importable here too)

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
# Fields hashed only when set (not None), so rows recorded before they existed verify as they were:
# the changed cards opened on the device ([{card_id, hash, seconds}]) and the hash of the officer's
# answers to the release's understanding check (answers.answers_hash).
OPTIONAL_FIELDS = ("reading", "check_hash")
HASHED_FIELDS = CHAIN_FIELDS + OPTIONAL_FIELDS
# An acknowledgment as the API returns it; the times the ledger writes as text.
API_FIELDS = ("uuid", "release", "received_at", "device_time", "card_hashes", "seq", "row_hash")
TIME_FIELDS = ("device_time", "received_at")
HASH = re.compile(r"^[0-9a-f]{64}$")
# What each row carries besides its hashed fields: its hash, and the signature of that hash.
SIGNED_FIELDS = ("row_hash", "signature", "key_id")


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
            if name in ("card_hashes", "reading") and isinstance(value, list):
                value = [dict(v) if isinstance(v, dict) else v for v in value]
        out[name] = value
    return out


def chain_content(ack: Acknowledgment, release_number: int) -> dict:
    """The fields of a row that its hash covers (the optional ones too, None when not set)."""
    return ack_fields(ack, HASHED_FIELDS, release_number)


def row_hash(content: dict) -> str:
    """SHA-256 of the canonical JSON of a row's content fields (prev_hash included; an optional field when set)."""
    hashed = {name: content[name] for name in CHAIN_FIELDS}
    hashed.update({name: content[name] for name in OPTIONAL_FIELDS if content.get(name) is not None})
    return content_hash(hashed)


# --- recording ---------------------------------------------------------------------------


@dataclass
class Recorded:
    """The acknowledgment that stands for an officer and release, and whether this call made it."""

    ack: Acknowledgment
    created: bool


def check_ack_input(release: ReleaseView, uuid: str, card_hashes, device_id) -> tuple[str, list[str], str | None]:
    """Validated uuid, card hashes (sorted, each a card of the release) and device id."""
    uuid = parse_uuid(uuid)
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
    if not card_hashes:
        raise Invalid("card_hashes must name the cards acknowledged (at least one).", {"card_hashes": "empty"})
    return uuid, sorted(set(card_hashes)), device_id


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


async def check_gates(agency: Agency, user: User, release: ReleaseView, reading: list[dict] | None, conn) -> str | None:
    """The officer's check_hash for the release (None: no answers), or Conflict when the agency's rules are not met.

    require_check: a release with major changes and questions is answered (every question) first.
    require_open: every changed card is in the reading, with its text in this release.
    """
    answers = await recorded(user.id, release.id, conn)
    if agency.require_check and release.requires_ack:
        questions = await ReleaseQuestion.filter(release_id=release.id).using_db(conn).count()
        if len(answers) < questions:
            raise Conflict(
                f"Answer the {questions} question{'s' if questions != 1 else ''} about release {release.number}'s "
                "changes before acknowledging it: your agency requires the understanding check.",
                {"check": "not answered", "questions": questions},
            )
    if agency.require_open:
        missing = unread(await changed_cards(release), reading)
        if missing:
            titles = ", ".join(f"“{release.by_id[c]['title']}”" for c in missing)
            raise Conflict(
                f"Open each changed card before acknowledging release {release.number}: your agency requires it. "
                f"Not opened on this device: {titles}.",
                {"reading": "not opened", "cards": missing},
            )
    return answers_hash(answers) if answers else None


async def record_ack(
    user: User,
    release: ReleaseView,
    uuid: str,
    card_hashes: list[str],
    device_time: datetime | None = None,
    device_id: str | None = None,
    attestation: str | None = None,
    reading=None,
) -> Recorded:
    """Append the officer's ack of a release, or return the one that exists (same uuid or release).

    attestation: the sentence the officer was shown; kept when it is one the agency has used
    (its wording may have changed while the ack waited offline), else the current wording.
    reading: the changed cards opened on the device ([{card_id, hash, seconds}], reading.py).
    A new row also binds the officer's answers to the release's check (check_hash), and is
    refused (Conflict) while the agency's require_check or require_open is not met.
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
    reading = check_reading(release, reading)
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
            check_hash = await check_gates(agency, user, release, reading, conn)
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
                reading=reading,
                check_hash=check_hash,
                row_hash="",
            )
            ack.row_hash = row_hash(chain_content(ack, release.number))
            key = signing.site_key()
            ack.signature, ack.key_id = key.sign_row(ack.row_hash), key.key_id
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
    """The agency's chain in order: each row's hashed content fields, row_hash, signature and key id.

    Also (underscored, for verify only): the row's id, and the agencies its release and officer belong to.
    """
    rows = (
        await Acknowledgment.filter(agency_id=agency_id)
        .order_by("seq")
        .values(
            "id", "seq", "agency_id", "user_id", "release__number", "uuid", "card_hashes", "attestation",
            "device_time", "received_at", "device_id", "prev_hash", "reading", "check_hash", "row_hash",
            "signature", "key_id", "release__agency_id", "user__agency_id",
        )
    )
    return [
        {
            **ack_fields(r, HASHED_FIELDS + SIGNED_FIELDS),
            "_id": r["id"],
            "_release_agency_id": r["release__agency_id"],
            "_user_agency_id": r["user__agency_id"],
        }
        for r in rows
    ]


@dataclass
class Break:
    """The first place the chain does not hold, and why."""

    position: int  # 1-based position in seq order
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"row {self.position} (seq {self.seq}): {self.problem}"


@dataclass
class Verified:
    """What verifying an agency's ledger found."""

    count: int
    head: str
    broken: Break | None
    # Rows recorded before rows were signed (all at the start of the chain).
    unsigned: int = 0


def _link_problem(position: int, row: dict, prev: str, last_id) -> str | None:
    seq = row["seq"]
    if seq != position:
        return f"seq is {seq} where {position} was expected: a row was removed or moved"
    if row["prev_hash"] != prev:
        return "prev_hash does not match the row before: a row was removed, added or moved"
    if row_hash(row) != row["row_hash"]:
        return "the row's content does not match its row_hash: the row was edited"
    # Rows are appended under a lock, so their ids rise with seq; a fall means rows swapped places.
    row_id = row.get("_id")
    if row_id is not None and last_id is not None and row_id < last_id:
        return "stored out of insertion order: rows were swapped"
    release_agency = row.get("_release_agency_id")
    if release_agency is not None and release_agency != row["agency_id"]:
        return f"points at a release of another agency (agency {release_agency}): the row was altered"
    user_agency = row.get("_user_agency_id")
    if user_agency is not None and user_agency != row["agency_id"]:
        return f"names a person of another agency (agency {user_agency}): the row was altered"
    return None


def _signature_problem(row: dict, keys: dict[str, signing.Verifier], signed_before: bool) -> str | None:
    if row.get("signature") is None and row.get("key_id") is None:
        if signed_before:
            return "unsigned after signed rows: rows were rewritten or forged"
        return None
    verifier = keys.get(row.get("key_id") or "")
    if verifier is None:
        known = ", ".join(sorted(keys)) or "none"
        return f"signed with key {row.get('key_id')!r}, not the site's key ({known}): the row was forged"
    if not verifier.check_row(row["row_hash"], row.get("signature")):
        return "the signature does not match the row_hash: the row was rewritten or forged"
    return None


def verify_rows(rows: list[dict], keys: dict[str, signing.Verifier] | None = None) -> Verified:
    """Check a chain given in order: links, hashes, release and person of the row's agency, signatures.

    keys: the public keys rows may be signed with, by key id (None: signatures are not checked).
    """
    prev = GENESIS
    last_id = None
    unsigned = 0
    signed_before = False
    for position, row in enumerate(rows, start=1):
        problem = _link_problem(position, row, prev, last_id)
        if problem is None and keys is not None:
            problem = _signature_problem(row, keys, signed_before)
        if problem is not None:
            return Verified(len(rows), rows[-1]["row_hash"], Break(position, row["seq"], problem), unsigned)
        if row.get("signature") is None:
            unsigned += 1
        else:
            signed_before = True
        last_id = row.get("_id", last_id)
        prev = row["row_hash"]
    return Verified(len(rows), prev, None, unsigned)


def site_keys(extra: list[signing.Verifier] = ()) -> dict[str, signing.Verifier]:
    """The keys rows may be signed with: the site's, and any others given (e.g. an earlier key)."""
    keys = {v.key_id: v for v in extra}
    verifier = signing.site_key().verifier
    keys.setdefault(verifier.key_id, verifier)
    return keys


async def verify_agency(agency_id: int, keys: dict[str, signing.Verifier] | None = None) -> Verified:
    """Re-check an agency's whole chain from the database, signatures included (the site's key by default)."""
    return verify_rows(await ledger_rows(agency_id), site_keys() if keys is None else keys)
