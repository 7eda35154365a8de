"""Exports for audits: a release's acknowledgments as CSV, the ledger chain, the evidence bundle."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import datetime

from server.acknowledgments.dashboard import OfficerRow, ReleaseStatus, officer_rows
from server.acknowledgments.ledger import CHAIN_FIELDS, GENESIS, ack_fields, ledger_rows, stamp
from server.guidance.content import canonical_json
from server.guidance.releases import ReleaseView
from server.models import Acknowledgment, Agency, Release

LEDGER_COLUMNS = CHAIN_FIELDS + ("row_hash",)
ACK_COLUMNS = (
    "user_id", "name", "email", "school", "counted", "status", "acknowledged_at", "device_time",
    "late", "uuid", "seq", "row_hash", "last_sync_at",
)
# The columns of acks.csv that come from the acknowledgment row.
CSV_ACK_FIELDS = ("received_at", "device_time", "uuid", "seq", "row_hash")


def _human(value) -> str:
    # Spreadsheets run cells that start with these as formulas; a leading ' keeps them text.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(columns, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


def ledger_csv(rows: list[dict]) -> str:
    """The chain as CSV: exactly the hashed values (card_hashes as a JSON array, null as empty)."""
    def cell(name, value):
        if name == "card_hashes":
            return canonical_json(value)
        return "" if value is None else value

    return _csv(LEDGER_COLUMNS, ([cell(n, r[n]) for n in LEDGER_COLUMNS] for r in rows))


def ledger_json(agency: Agency, rows: list[dict]) -> str:
    """The chain as JSON, with the agency, the genesis value and the head to compare later exports with."""
    return json.dumps(
        {
            "format": "fieldguide-ledger/1",
            "agency": {"id": agency.id, "slug": agency.slug, "name": agency.name},
            "genesis": GENESIS,
            "hashed_fields": list(CHAIN_FIELDS),
            "head": {"seq": rows[-1]["seq"], "row_hash": rows[-1]["row_hash"]} if rows else None,
            "rows": [{n: r[n] for n in LEDGER_COLUMNS} for r in rows],
        },
        ensure_ascii=False,
        indent=1,
    )


async def release_ack_rows(agency_id: int, status: ReleaseStatus, moment: datetime) -> list[list]:
    """CSV rows for one release: every officer who counts, then acks by anyone else (not counted)."""
    rows: list[OfficerRow] = await officer_rows(agency_id, status, moment)
    out = []
    for r in rows:
        ack = ack_fields(r, CSV_ACK_FIELDS)
        out.append(
            [
                r.user_id, _human(r.name), _human(r.email), _human(r.school), "yes", r.status,
                ack["received_at"], ack["device_time"], "yes" if r.status == "late" else "no",
                ack["uuid"], ack["seq"], ack["row_hash"], stamp(r.last_sync_at),
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
                row.user_id, _human(row.user.name), _human(row.user.email), _human(row.user.school), "no",
                "recorded", ack["received_at"], ack["device_time"], "",
                ack["uuid"], ack["seq"], ack["row_hash"], "",
            ]
        )
    return out


async def release_acks_csv(agency_id: int, status: ReleaseStatus, moment: datetime) -> str:
    """One release's acknowledgment status for every officer who counts, as CSV."""
    return _csv(ACK_COLUMNS, await release_ack_rows(agency_id, status, moment))


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
               acknowledgment's uuid and its place (seq, row_hash) in the ledger. Rows marked
               counted=no are acknowledgments by people who do not count for this release.
ledger.json    The agency's whole acknowledgment ledger: every row's hashed fields and row_hash,
ledger.csv     in chain order, and (JSON) the head: seq {head_seq}, row_hash {head_hash}.
manifest.json  Release {number}'s manifest (card ids and content hashes) and manifest hash,
               and the manifest hash of every release of the agency.
SHA256SUMS     SHA-256 of each file above.

Verifying the chain: row_hash = SHA-256 of the canonical JSON (keys sorted, no spaces, UTF-8)
of the fields {fields}; prev_hash is the previous row's row_hash (64 zeros for seq 1). The SRO
Field Guide documentation (docs/ledger.md) has a standalone Python script for this. Keep the
head above: a later export must contain it unchanged at the same seq.
"""


async def evidence_zip(agency: Agency, status: ReleaseStatus, release: ReleaseView, who: str, moment: datetime) -> bytes:
    """The evidence bundle of one release as a ZIP: acks CSV, ledger (JSON and CSV), manifest, sums."""
    chain = await ledger_rows(agency.id)
    head = chain[-1] if chain else {"seq": 0, "row_hash": GENESIS}
    files = {
        "acks.csv": await release_acks_csv(agency.id, status, moment),
        "ledger.json": ledger_json(agency, chain),
        "ledger.csv": ledger_csv(chain),
        "manifest.json": json.dumps(await release_manifest(release), ensure_ascii=False, indent=1),
    }
    files["README.txt"] = README.format(
        agency=agency.name, slug=agency.slug, number=status.number, made=stamp(moment), who=who,
        head_seq=head["seq"], head_hash=head["row_hash"], fields=", ".join(CHAIN_FIELDS),
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
