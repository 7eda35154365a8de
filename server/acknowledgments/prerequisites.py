"""What an officer does before acknowledging a release: the understanding check, and opening the changed cards.

One description for the online "what changed" page, the copy every device keeps offline, and
the ledger's refusals (ledger.check_gates applies the same rules when an acknowledgment arrives).
"""

from __future__ import annotations

from dataclasses import dataclass

from server.acknowledgments.reading import changed_cards
from server.guidance.questions import question_view, release_questions
from server.guidance.releases import ReleaseView
from server.models import Agency


@dataclass
class Prerequisites:
    """A release's questions and changed cards, and which of them the agency requires."""

    questions: list[dict]  # question_view of each, in order
    check_required: bool  # answer every question before acknowledging
    changed: list[dict]  # [{card_id, hash, title}] the cards the release adds or changes
    open_required: bool  # open each changed card on the device before acknowledging

    def changed_field(self) -> str:
        """The changed cards as the page carries them for the phone's scripts: "card_id:hash" separated by spaces."""
        return " ".join(f"{c['card_id']}:{c['hash']}" for c in self.changed)


async def prerequisites(release: ReleaseView, agency: Agency) -> Prerequisites:
    """What the agency asks of an officer before they acknowledge this release (same for every officer)."""
    questions = [question_view(q) for q in await release_questions(release.id)]
    changed = [
        {"card_id": card_id, "hash": card_hash, "title": release.by_id[card_id]["title"]}
        for card_id, card_hash in (await changed_cards(release)).items()
    ]
    return Prerequisites(
        questions=questions,
        check_required=bool(agency.require_check and release.requires_ack and questions),
        changed=changed,
        open_required=bool(agency.require_open and release.requires_ack and changed),
    )
