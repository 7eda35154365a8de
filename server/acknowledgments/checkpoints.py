"""Signed checkpoints of an agency's ledger: its row count and head hash at one moment, signed.

A checkpoint file is one JSON object: format, agency {id, slug}, count, head, unsigned (how many
of those rows were recorded before rows were signed), made_at, key_id and signature. The
signature is the site's Ed25519 signature of the canonical JSON (keys sorted, no spaces, UTF-8)
of the object without "signature". Held by someone else, a checkpoint proves
that the chain had at least `count` rows with row `count`'s hash equal to `head`: rows cut off,
rewritten or forged up to that point no longer match it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from server import clock
from server import ledger_signing as signing
from server.acknowledgments.ledger import (
    GENESIS,
    HASH,
    Verified,
    ledger_rows,
    site_keys,
    stamp,
    verify_rows,
)
from server.guidance.content import canonical_json
from server.models import Agency, LedgerCheckpoint

FORMAT = "fieldguide-ledger-checkpoint/1"
FIELDS = ("format", "agency", "count", "head", "unsigned", "made_at", "key_id")
REASONS = ("export", "command", "download")


class CheckpointInvalid(ValueError):
    """A checkpoint file that cannot be read as one."""


def signed_text(body: dict) -> str:
    """The exact text a checkpoint's signature covers: its fields but the signature, canonical JSON."""
    return canonical_json({name: body[name] for name in FIELDS})


async def make_checkpoint(agency: Agency, reason: str, rows: list[dict] | None = None) -> LedgerCheckpoint:
    """Sign and store a checkpoint of the agency's chain: as it is now, or of these rows (ledger_rows)."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}")
    key = signing.site_key()
    rows = await ledger_rows(agency.id) if rows is None else rows
    moment = clock.now()
    body = {
        "format": FORMAT,
        "agency": {"id": agency.id, "slug": agency.slug},
        "count": len(rows),
        "head": rows[-1]["row_hash"] if rows else GENESIS,
        "unsigned": sum(1 for r in rows if r["signature"] is None),
        "made_at": stamp(moment),
        "key_id": key.key_id,
    }
    text = signed_text(body)
    return await LedgerCheckpoint.create(
        agency_id=agency.id, count=body["count"], head=body["head"], made_at=moment,
        key_id=key.key_id, body=text, signature=key.sign(text.encode()), reason=reason,
    )


async def latest_checkpoint(agency_id: int) -> LedgerCheckpoint | None:
    """The agency's newest checkpoint, if any."""
    return await LedgerCheckpoint.filter(agency_id=agency_id).order_by("-made_at", "-id").first()


def checkpoint_file(checkpoint: LedgerCheckpoint) -> str:
    """The checkpoint as the file people keep: its signed fields plus the signature, one JSON object."""
    return json.dumps({**json.loads(checkpoint.body), "signature": checkpoint.signature}, ensure_ascii=False, indent=1) + "\n"


def read_checkpoint(text: str) -> dict:
    """A checkpoint file's fields, checked for shape (not yet for its signature)."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise CheckpointInvalid(f"not JSON ({exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise CheckpointInvalid(f"not a ledger checkpoint (format {FORMAT!r} expected)")
    missing = [name for name in (*FIELDS, "signature") if name not in body]
    if missing:
        raise CheckpointInvalid(f"missing {', '.join(missing)}")
    unknown = sorted(set(body) - {*FIELDS, "signature"})
    if unknown:
        raise CheckpointInvalid(f"unknown field(s) {', '.join(unknown)}: the signature covers every field")
    agency = body["agency"]
    if not (isinstance(agency, dict) and isinstance(agency.get("id"), int) and isinstance(agency.get("slug"), str)):
        raise CheckpointInvalid("agency must be {id, slug}")
    for name in ("count", "unsigned"):
        if not isinstance(body[name], int) or isinstance(body[name], bool) or body[name] < 0:
            raise CheckpointInvalid(f"{name} must be a whole number")
    if not isinstance(body["head"], str) or not HASH.match(body["head"]):
        raise CheckpointInvalid("head must be a SHA-256 hex hash")
    if not all(isinstance(body[name], str) for name in ("made_at", "key_id", "signature")):
        raise CheckpointInvalid("made_at, key_id and signature must be text")
    return body


def checkpoint_signed_by(body: dict, keys: dict[str, signing.Verifier]) -> bool:
    """Whether the checkpoint's signature is good, by one of these keys (the one its key_id names)."""
    verifier = keys.get(body["key_id"])
    return verifier is not None and verifier.check(signed_text(body).encode(), body["signature"])


@dataclass
class CheckpointCheck:
    """A chain verified against a checkpoint: the chain's own verdict, then the checkpoint's."""

    chain: Verified
    problem: str | None  # None: the chain holds and contains the checkpoint

    @property
    def intact(self) -> bool:
        return self.chain.broken is None and self.problem is None


def check_against(chain: Verified, rows: list[dict], body: dict) -> str | None:
    """Why a verified chain does not contain the checkpoint's rows, or None when it does."""
    count, head = body["count"], body["head"]
    if len(rows) < count:
        return f"the checkpoint saw {count} row(s); the chain has {len(rows)}: rows were removed from its end"
    at = rows[count - 1]["row_hash"] if count else GENESIS
    if at != head:
        return f"row {count}'s hash is not the checkpoint's head {head}: the chain was rewritten up to there"
    # Unsigned rows only ever lead the chain (verify_rows checks), so these are its first rows.
    unsigned = min(chain.unsigned, count)
    if unsigned != body["unsigned"]:
        return f"{unsigned} of the first {count} rows are unsigned where the checkpoint saw {body['unsigned']}: signatures were removed"
    return None


async def verify_with_checkpoint(agency: Agency, body: dict, keys: dict[str, signing.Verifier] | None = None) -> CheckpointCheck:
    """Verify the agency's chain, then that it holds the (already signature-checked) checkpoint's rows."""
    rows = await ledger_rows(agency.id)
    chain = verify_rows(rows, site_keys() if keys is None else keys)
    if chain.broken is not None:
        return CheckpointCheck(chain, None)
    return CheckpointCheck(chain, check_against(chain, rows, body))


@dataclass
class Report:
    """What `fieldguide ledger verify` says and its exit status (0 intact, 1 broken, 2 usage, 3 bad checkpoint)."""

    status: int
    message: str


async def report(agency: Agency, body: dict | None, keys: dict[str, signing.Verifier]) -> Report:
    """Verify the agency's ledger (against a checkpoint when given) as the command line reports it."""
    slug = agency.slug
    if body is None:
        rows = await ledger_rows(agency.id)
        chain, problem = verify_rows(rows, keys), None
    else:
        if body["agency"] != {"id": agency.id, "slug": agency.slug}:
            return Report(2, f"The checkpoint is of agency {body['agency']}, not {slug!r} (id {agency.id}).")
        if not checkpoint_signed_by(body, keys):
            return Report(3, f"The checkpoint's signature does not verify with key {body['key_id']!r} "
                             f"(keys: {', '.join(sorted(keys))}): it was altered or is not this site's.")
        checked = await verify_with_checkpoint(agency, body, keys)
        chain, problem = checked.chain, checked.problem
    if chain.broken is not None:
        return Report(1, f"Ledger of {slug!r} is BROKEN at {chain.broken}.")
    if problem is not None:
        return Report(1, f"Ledger of {slug!r} is BROKEN: {problem}.")
    unsigned = f"; {chain.unsigned} row(s) recorded before rows were signed" if chain.unsigned else ""
    text = f"Ledger of {slug!r} is intact: {chain.count} acknowledgment(s); head {chain.head}{unsigned}."
    if body is not None:
        text += (f"\nIt holds the checkpoint of {body['made_at']}: {body['count']} row(s), head {body['head']}, "
                 f"signed by key {body['key_id']}.")
    return Report(0, text)
