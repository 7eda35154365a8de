"""Exports for audits: a release's acknowledgments as CSV, the ledger chain, the evidence bundle."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime

from server import ledger_signing as signing
from server.acknowledgments.check_stats import questions_json, release_answers_csv
from server.acknowledgments.checkpoints import checkpoint_file, make_checkpoint
from server.acknowledgments.dashboard import OfficerRow, ReleaseStatus, officer_rows
from server.acknowledgments.ledger import (
    CHAIN_FIELDS,
    GENESIS,
    HASHED_FIELDS,
    OPTIONAL_FIELDS,
    SIGNED_FIELDS,
    ack_fields,
    ledger_rows,
    stamp,
)
from server.csv_export import write_csv
from server.guidance.content import canonical_json
from server.guidance.questions import release_questions
from server.guidance.releases import ReleaseView
from server.models import Acknowledgment, Agency, Release

LEDGER_COLUMNS = HASHED_FIELDS + SIGNED_FIELDS
ACK_COLUMNS = (
    "user_id", "name", "email", "school", "counted", "status", "acknowledged_at", "device_time",
    "late", "uuid", "seq", "row_hash", "last_sync_at", "reading",
)
# The columns of acks.csv that come from the acknowledgment row.
CSV_ACK_FIELDS = ("received_at", "device_time", "uuid", "seq", "row_hash")


def ledger_csv(rows: list[dict]) -> str:
    """The chain as CSV: the hashed values (card_hashes and reading as JSON, null as empty), formula-safe.

    A cell starting with ' had one put in front by the CSV writer (server/csv_export.py): drop it to
    get the hashed value back.
    """
    def cell(name, value):
        return canonical_json(value) if name in ("card_hashes", "reading") and value is not None else value

    return write_csv(LEDGER_COLUMNS, ([cell(n, r[n]) for n in LEDGER_COLUMNS] for r in rows))


def ledger_json(agency: Agency, rows: list[dict]) -> str:
    """The chain as JSON, with the agency, the genesis value and the head to compare later exports with."""
    return json.dumps(
        {
            "format": "fieldguide-ledger/1",
            "agency": {"id": agency.id, "slug": agency.slug, "name": agency.name},
            "genesis": GENESIS,
            "hashed_fields": list(CHAIN_FIELDS),
            "hashed_when_set": list(OPTIONAL_FIELDS),
            "head": {"seq": rows[-1]["seq"], "row_hash": rows[-1]["row_hash"]} if rows else None,
            "rows": [{n: r[n] for n in LEDGER_COLUMNS} for r in rows],
        },
        ensure_ascii=False,
        indent=1,
    )


async def release_ack_rows(agency_id: int, status: ReleaseStatus, moment: datetime) -> list[list]:
    """CSV rows for one release: every officer who counts, then acks by anyone else (not counted)."""
    rows: list[OfficerRow] = await officer_rows(agency_id, status, moment)
    # Proof of reading, as the ledger hashed it: the changed cards opened on the device, with seconds.
    reading = {
        r["user_id"]: canonical_json(r["reading"]) if r["reading"] is not None else None
        for r in await Acknowledgment.filter(agency_id=agency_id, release_id=status.id, reading__not_isnull=True)
        .values("user_id", "reading")
    }
    out = []
    for r in rows:
        ack = ack_fields(r, CSV_ACK_FIELDS)
        out.append(
            [
                r.user_id, r.name, r.email, r.school, "yes", r.status,
                ack["received_at"], ack["device_time"], "yes" if r.status == "late" else "no",
                ack["uuid"], ack["seq"], ack["row_hash"], stamp(r.last_sync_at), reading.get(r.user_id),
            ]
        )
    counted = {r.user_id for r in rows}
    others = (
        await Acknowledgment.filter(release_id=status.id)
        .exclude(user_id__in=counted)
        .order_by("seq")
        .prefetch_related("user")
    )
    for row in others:
        ack = ack_fields(row, CSV_ACK_FIELDS)
        out.append(
            [
                row.user_id, row.user.name, row.user.email, row.user.school, "no",
                "recorded", ack["received_at"], ack["device_time"], "",
                ack["uuid"], ack["seq"], ack["row_hash"], "", reading.get(row.user_id),
            ]
        )
    return out


async def release_acks_csv(agency_id: int, status: ReleaseStatus, moment: datetime) -> str:
    """One release's acknowledgment status for every officer who counts, as CSV."""
    return write_csv(ACK_COLUMNS, await release_ack_rows(agency_id, status, moment))


async def release_manifest(release: ReleaseView) -> dict:
    """The release's manifest with its hash, and every release's manifest hash for context."""
    body = release.manifest()
    body["manifest_hash"] = release.manifest_hash
    body["agency_releases"] = [
        {"release": r["number"], "manifest_hash": r["manifest_hash"], "published_at": stamp(r["published_at"])}
        for r in await Release.filter(agency_id=release.agency_id)
        .order_by("number")
        .values("number", "manifest_hash", "published_at")
    ]
    return body


README = """Acknowledgment evidence: {agency} (agency {slug}), release {number}
Made {made} by {who}.

acks.csv       Every officer who counts for release {number}: acknowledged (on time or late),
               pending or overdue, with the server's receive time, the device's time, the
               acknowledgment's uuid and its place (seq, row_hash) in the ledger, and the
               changed cards opened on the device with seconds (reading). Rows marked
               counted=no are acknowledgments by people who do not count for this release.
{check_files}ledger.json    The agency's whole acknowledgment ledger: every row's hashed fields, row_hash,
ledger.csv     signature and key_id, in chain order, and (JSON) the head: seq {head_seq},
               row_hash {head_hash}.
checkpoint.json  A checkpoint of that ledger signed by the server: {count} row(s), head
               {checkpoint_head}, made {checkpoint_made}, key {key_id}.
ledger-public-key.pem  The server's ledger public key (key id {key_id}).
manifest.json  Release {number}'s manifest (card ids and content hashes) and manifest hash,
               and the manifest hash of every release of the agency.
SHA256SUMS     SHA-256 of each file above.

Verifying the chain: row_hash = SHA-256 of the canonical JSON (keys sorted, no spaces, UTF-8)
of the fields {fields}, and of {optional} when the row has them (not null): reading is the
changed cards the officer opened in the app on the device [{{card_id, hash, seconds}}],
check_hash binds the officer's answers to the release's questions; prev_hash is the previous row's row_hash (64 zeros for seq 1). In
ledger.csv a cell that starts with ' had that ' added so spreadsheets do not run it as a
formula: drop it before hashing. Rows recorded since rows were signed carry an Ed25519
signature (hex) of the bytes "fieldguide-ledger-row:" followed by the row_hash, by the key in
ledger-public-key.pem; older rows have none.

Keeping the checkpoint: the checkpoint's signature covers the canonical JSON of its fields
without "signature". Kept away from the server, it proves the ledger had at least {count}
row(s) and that row {count}'s row_hash was {checkpoint_head}: a later ledger must still
hold that row unchanged, so rows cut off, rewritten or forged up to there show. On the
server: fieldguide ledger verify --agency {slug} --checkpoint checkpoint.json. The SRO Field
Guide documentation (docs/ledger.md) has a standalone Python script for the chain and the
openssl command for the checkpoint's signature.
"""


CHECK_README = """answers.csv    The understanding check of release {number}: one row per officer who counts and
               question (answered or not: right first time, how many tries, the choices picked,
               the answer's uuid), then answers by people who do not count (counted=no).
questions.json The questions as asked: text, choices, the right one, explanation, passage,
               and each question's hash, which the officers' answers are bound to.
"""


async def _check_files(agency_id: int, status: ReleaseStatus) -> dict[str, str]:
    """answers.csv and questions.json when the release has an understanding check (else nothing)."""
    questions = await release_questions(status.id)
    if not questions:
        return {}
    return {
        "answers.csv": await release_answers_csv(agency_id, status),
        "questions.json": questions_json(status.number, questions),
    }


async def evidence_zip(agency: Agency, status: ReleaseStatus, release: ReleaseView, who: str, moment: datetime) -> bytes:
    """The evidence bundle of one release as a ZIP: acks CSV, ledger, signed checkpoint and key, manifest, sums."""
    chain = await ledger_rows(agency.id)
    checkpoint = await make_checkpoint(agency, "export", chain)
    head = chain[-1] if chain else {"seq": 0, "row_hash": GENESIS}
    files = {
        "acks.csv": await release_acks_csv(agency.id, status, moment),
        **await _check_files(agency.id, status),
        "ledger.json": ledger_json(agency, chain),
        "ledger.csv": ledger_csv(chain),
        "checkpoint.json": checkpoint_file(checkpoint),
        "ledger-public-key.pem": signing.site_key().verifier.pem,
        "manifest.json": json.dumps(await release_manifest(release), ensure_ascii=False, indent=1),
    }
    files["README.txt"] = README.format(
        agency=agency.name, slug=agency.slug, number=status.number, made=stamp(moment), who=who,
        head_seq=head["seq"], head_hash=head["row_hash"], fields=", ".join(CHAIN_FIELDS),
        count=checkpoint.count, checkpoint_head=checkpoint.head, checkpoint_made=stamp(checkpoint.made_at),
        key_id=checkpoint.key_id, optional=", ".join(OPTIONAL_FIELDS),
        check_files=CHECK_README.format(number=status.number) if "questions.json" in files else "",
    )
    files["SHA256SUMS"] = "".join(
        f"{hashlib.sha256(text.encode()).hexdigest()}  {name}\n" for name, text in files.items()
    )
    folder = f"{agency.slug}-release-{status.number}-evidence"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(f"{folder}/{name}", text)
    return buffer.getvalue()
