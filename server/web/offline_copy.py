"""A device's offline copy of its agency's current release, as one sync answer builds it.

What a phone keeps (docs/sync.md): the manifest; the card bodies it lacks, each with the
article fragment its pages show; every guidance page as a fragment (sent only when it
differs from the release the device holds); the "what changed" page with an acknowledgment
panel holding no one's state (pwa/static/ack-queue.js fills it on the device); and the
release's search index. The release's strong ETag (ReleaseView.etag) names all of it.
"""

from __future__ import annotations

from server.acknowledgments.ledger import attestation_text
from server.acknowledgments.prerequisites import Prerequisites, prerequisites
from server.acknowledgments.sync import delta, page_delta
from server.guidance.cards import ReleasedCard
from server.guidance.changes import compare, previous, shown_hashes
from server.guidance.releases import ReleaseCache, ReleaseView
from server.models import Agency
from server.web.fragments import CHANGES_PATH, Fragments
from server.web.page_context import changes_context


def card_body(card: ReleasedCard, fragments: Fragments) -> dict:
    """A card as the API serves it, with its page article and its body as plain text."""
    return {
        "id": card["id"],
        "hash": card["hash"],
        "title": card["title"],
        "category": card["category"],
        "audience": card["audience"],
        "summary": card["summary"],
        "tags": card["tags"],
        "related": card["related"],
        "source": card["source"],
        "local_policy": [
            {"id": s["id"], "label": s["label"], "html": s["html"]} for s in card["local_policy"]
        ],
        "html": card["html"],
        "article": fragments.article(card),
        "text": card["text"],
    }


def device_ack_panel(release: ReleaseView, hashes: list[str], attestation: str, before: Prerequisites) -> dict:
    """The acknowledgment panel and the check as a device keeps them: one for all officers, so no one's state in them.

    No uuid and no CSRF token either: pwa/static/ack-queue.js fills them on the device and
    shows the officer's own state from the acknowledgments it holds; pwa/static/check.js asks the
    questions (their answers, explanations and passages are in the page) and keeps the answers.
    """
    return {
        "required": release.requires_ack,
        "done": None,
        "uuid": "",
        "card_hashes": " ".join(hashes),
        "attestation": attestation,
        "current_number": release.number,
        "before": before,
        "answered": {},
        "answered_at": None,
        "trying": {},
        "check_uuid": "",
    }


def _rules(agency: Agency) -> tuple[bool, bool]:
    # The agency's requirements, which an admin changes without publishing: the page shows them.
    return (agency.require_check, agency.require_open)


async def changes_page(release: ReleaseView, agency: Agency, releases: ReleaseCache, fragments: Fragments) -> dict:
    """The release's what-changed page (against the release before it) as every officer's device keeps it."""
    attestation = attestation_text(agency, release.number)

    async def context() -> dict:
        old = await previous(release, releases)
        card_changes = await compare(release, old)
        hashes = shown_hashes(release, card_changes, old is None)
        before = await prerequisites(release, agency)
        return changes_context(release, old, card_changes, device_ack_panel(release, hashes, attestation, before))

    return await fragments.changes_page(release, (attestation, *_rules(agency)), context)


def answer_key(current: ReleaseView, held: ReleaseView | None, agency: Agency) -> tuple:
    """What offline_copy's answer depends on, as the key it is kept by (server/web/sync_answers.py).

    The releases (immutable: their ids, and the current one's ETag, which also names the page
    templates and the search index) and what of the agency an answer may show, which an admin
    can change without publishing: the attestation wording and the check and reading
    requirements (in the what-changed page) and the name (no page shows it yet). Whatever offline_copy comes to read besides the releases must
    be added here, or a kept answer would go on showing the old value.
    """
    fingerprint = (agency.id, agency.name, attestation_text(agency, current.number), *_rules(agency))
    return (held.id if held else None, current.id, current.etag, fingerprint)


async def offline_copy(
    current: ReleaseView, held: ReleaseView | None, agency: Agency, releases: ReleaseCache, fragments: Fragments
) -> dict:
    """The sync answer for a device holding `held` (None: nothing usable): the current release's
    manifest and what the device lacks to hold it whole."""
    lacking, retired = delta(current, held)
    # The what-changed page differs in every release, so it is always sent, never kept.
    pages = {**fragments.pages(current), CHANGES_PATH: await changes_page(current, agency, releases, fragments)}
    sent, kept = page_delta(pages, fragments.pages(held) if held else None)
    body = current.manifest()
    body.update(
        base=held.number if held else None,
        retired=retired,
        card_bodies=[card_body(c, fragments) for c in lacking],
        pages=sent,
        pages_kept=kept,
        # The whole index (gzip ~13 KB): it depends on every card. null when the held release's
        # index is the same (no searchable text changed): the phone keeps the one it has.
        search_index=None if held and held.index.digest == current.index.digest else current.index.shipped,
    )
    return body
