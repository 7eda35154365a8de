"""Review before publishing: a draft is submitted, approved or sent back, then published or withdrawn."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from server import clock
from server.errors import Invalid, Refused
from server.guidance import draft_scenarios, questions
from server.guidance.change_class import MAJOR
from server.guidance.content import content_hash
from server.guidance.drafts import (
    STATUS_LABELS,
    DraftConflict,
    WorkingCopy,
    draft_target,
    validate_card,
)
from server.guidance.releases import publish_release
from server.mail.config import Mail
from server.models import Agency, AuditEntry, Draft, DraftStatus, Release, Role, User
from server.people import audit

DEFAULT_DUE_DAYS = 14
ADDED = "added"
# Audit actions that make someone a contributor to a draft (who then may not approve it).
CONTRIBUTING = [
    "draft.start", "draft.details", "draft.reorder", "draft.submit",
    "card.edit", "card.add", "card.retire", "card.discard",
    "base.take_in", "base.keep_ours", "base.merge", "base.add", "base.retire",
    *questions.ACTIONS,
    *draft_scenarios.ACTIONS,
]


class ReviewRefused(Refused):
    """This person may not take this review step."""


async def may_self_approve(agency: Agency) -> bool:
    """The agency's setting, or by default: only while it has fewer than two active admins."""
    if agency.allow_self_approval is not None:
        return agency.allow_self_approval
    admins = await User.filter(agency_id=agency.id, role=Role.ADMIN, active=True).count()
    return admins < 2


async def contributors(draft: Draft) -> set[int]:
    """Ids of the people who started, edited or submitted a draft."""
    target = draft_target(draft)
    rows = await AuditEntry.filter(
        Q(target=target) | Q(target__startswith=target + " card "),
        agency_id=draft.agency_id,
        action__in=CONTRIBUTING,
    ).values_list("actor_id", flat=True)
    return {draft.author_id, *(r for r in rows if r is not None)}


def _refuse_status(draft: Draft, wanted: tuple[DraftStatus, ...], step: str) -> None:
    if draft.status in wanted:
        return
    hints = {
        DraftStatus.DRAFT: "it has not been submitted for review yet",
        DraftStatus.IN_REVIEW: "it is waiting for review",
        DraftStatus.APPROVED: "it is already approved",
        DraftStatus.PUBLISHED: "it was already published",
        DraftStatus.WITHDRAWN: "it was withdrawn",
    }
    raise DraftConflict(
        f"You cannot {step} this draft: {hints[draft.status]}.",
        {"status": draft.status.value, "status_label": STATUS_LABELS[draft.status]},
    )


def _check_fingerprint(wc: WorkingCopy, fingerprint: str | None) -> None:
    if fingerprint != wc.fingerprint():
        raise DraftConflict("The draft changed since you opened it. Review it again before you continue.")


async def _move(draft: Draft, src: tuple[DraftStatus, ...], conn=None, **values) -> None:
    """Change a draft's status only if nobody else changed it first."""
    updated = await Draft.filter(id=draft.id, status__in=list(src)).using_db(conn).update(**values)
    if updated != 1:
        raise DraftConflict("Someone else acted on this draft at the same moment. Reload the page.")
    for name, value in values.items():
        setattr(draft, name, value)


def _refuse_stale_questions(wc: WorkingCopy) -> None:
    """Refuse a draft whose questions are about a card it no longer changes, or quote words no longer there."""
    found = questions.problems(wc, wc.questions)
    if found:
        raise Invalid("Some questions need attention: " + " ".join(found), {"errors": found})


async def submit(wc: WorkingCopy, actor: User, sources: dict) -> None:
    """Draft → in review, once it changes something, has a summary and every card passes the checks."""
    draft = wc.draft
    _refuse_status(draft, (DraftStatus.DRAFT,), "submit")
    if not wc.changes() and not wc.order_changed() and not wc.realigned() and not wc.scenario_changes():
        raise DraftConflict("This draft does not change anything yet: edit, add or retire a card first.")
    if not draft.summary.strip():
        raise DraftConflict("Write a change summary (what changed and why) before you submit the draft.")
    problems = []
    for card_id, edit in wc.edits.items():
        if edit.data:
            problems += [str(e) for e in validate_card(wc, edit.data, sources, new=False)]
    if problems:
        raise Invalid("Some cards fail the content checks: " + "; ".join(problems), {"errors": problems})
    _refuse_stale_questions(wc)
    async with in_transaction() as conn:
        await _move(
            draft, (DraftStatus.DRAFT,), conn,
            status=DraftStatus.IN_REVIEW, submitted_at=clock.now(), reviewer_id=None, reviewed_at=None,
        )
        await audit.record(draft.agency_id, actor, "draft.submit", draft_target(draft), connection=conn)


async def approve(wc: WorkingCopy, agency: Agency, actor: User, fingerprint: str | None) -> None:
    """In review → approved, by someone who did not write the draft (unless the agency allows it)."""
    draft = wc.draft
    _refuse_status(draft, (DraftStatus.IN_REVIEW,), "approve")
    if actor.id in await contributors(draft) and not await may_self_approve(agency):
        raise ReviewRefused(
            "You worked on this draft, so another admin must approve it. "
            "Your agency does not allow approving your own changes."
        )
    _check_fingerprint(wc, fingerprint)
    async with in_transaction() as conn:
        await _move(
            draft, (DraftStatus.IN_REVIEW,), conn,
            status=DraftStatus.APPROVED, reviewer_id=actor.id, reviewed_at=clock.now(), review_comment=None,
        )
        await audit.record(
            draft.agency_id, actor, "draft.approve", draft_target(draft),
            details={"fingerprint": fingerprint}, connection=conn,
        )


async def send_back(wc: WorkingCopy, actor: User, comment: str) -> None:
    """In review or approved → draft again, with the reviewer's comment for the author."""
    draft = wc.draft
    _refuse_status(draft, (DraftStatus.IN_REVIEW, DraftStatus.APPROVED), "send back")
    comment = comment.strip()
    if not comment:
        raise Invalid("Say what needs to change: a comment is required to send a draft back.")
    async with in_transaction() as conn:
        await _move(
            draft, (DraftStatus.IN_REVIEW, DraftStatus.APPROVED), conn,
            status=DraftStatus.DRAFT, reviewer_id=actor.id, reviewed_at=clock.now(), review_comment=comment,
        )
        await audit.record(
            draft.agency_id, actor, "draft.send_back", draft_target(draft),
            details={"comment": comment}, connection=conn,
        )


async def withdraw(draft: Draft, actor: User) -> None:
    """Abandon a draft that is not yet published."""
    _refuse_status(draft, (DraftStatus.DRAFT, DraftStatus.IN_REVIEW, DraftStatus.APPROVED), "withdraw")
    async with in_transaction() as conn:
        await _move(
            draft, (DraftStatus.DRAFT, DraftStatus.IN_REVIEW, DraftStatus.APPROVED), conn,
            status=DraftStatus.WITHDRAWN,
        )
        await audit.record(draft.agency_id, actor, "draft.withdraw", draft_target(draft), connection=conn)


def release_changes(wc: WorkingCopy) -> tuple[dict[str, str | None], bool]:
    """Per card how it changes (added, major, minor or None), and whether officers must acknowledge."""
    changes: dict[str, str | None] = {}
    for card in wc.cards:
        before = wc.release.by_id.get(card["id"])
        edit = wc.edits.get(card["id"])
        if before is None:
            changes[card["id"]] = ADDED
        elif before["hash"] != content_hash(card):
            changes[card["id"]] = edit.change_class if edit else MAJOR
        else:
            changes[card["id"]] = None
    retired_major = any(
        e.action == "retire" and e.change_class == MAJOR and e.card_id in wc.release.by_id
        for e in wc.edits.values()
    )
    requires_ack = retired_major or any(c in (ADDED, MAJOR) for c in changes.values())
    return changes, requires_ack


async def publish(
    wc: WorkingCopy, agency: Agency, actor: User, fingerprint: str | None, wake: Callable[[], None] | None = None,
    mail: Mail | None = None,
) -> Release:
    """Approved → published: release N+1 with the draft's cards and its push notices, in one transaction.

    wake: called once the transaction has committed, to start sending the notices now (the
    in-process push worker's wake; on PostgreSQL the commit also NOTIFYs every listening worker).
    mail: when email is set up, the release's emails are written in the same transaction.
    """
    draft = wc.draft
    _refuse_status(draft, (DraftStatus.APPROVED,), "publish")
    _check_fingerprint(wc, fingerprint)
    _refuse_stale_questions(wc)
    changes, requires_ack = release_changes(wc)
    due_at = None
    if requires_ack:
        due_at = draft.due_at or clock.now() + timedelta(days=DEFAULT_DUE_DAYS)
    base_hashes = {}
    for card in wc.cards:
        edit = wc.edits.get(card["id"])
        base_hashes[card["id"]] = edit.base_hash if edit and edit.base_hash else wc.base_hashes.get(card["id"])
    async with in_transaction() as conn:
        await _move(draft, (DraftStatus.APPROVED,), conn, status=DraftStatus.PUBLISHED)
        latest = await Release.filter(agency_id=agency.id).using_db(conn).order_by("-number").first()
        if latest is None or latest.id != wc.release.id:
            raise DraftConflict("A newer release was published since this draft was loaded. Reload the page.")
        author = await User.get(id=draft.author_id).using_db(conn)
        approver = await User.get(id=draft.reviewer_id).using_db(conn) if draft.reviewer_id else None
        release = await publish_release(
            agency,
            wc.cards,
            wc.release.categories,
            wc.release.flow,
            draft.summary.strip(),
            due_at=due_at,
            requires_ack=requires_ack,
            author=author,
            approver=approver,
            publisher=actor,
            changes=changes,
            base_hashes=base_hashes,
            questions=questions.release_rows(wc.questions),
            scenarios=wc.scenarios,
            mail=mail,
            connection=conn,
        )
        await _move(draft, (DraftStatus.PUBLISHED,), conn, published_release_id=release.id)
        await audit.record(
            agency,
            actor,
            "release.publish",
            f"release {release.number}",
            hash_after=release.manifest_hash,
            details={
                "draft": draft.id,
                "requires_ack": requires_ack,
                "changes": {k: v for k, v in changes.items() if v},
                "retired": [cid for cid in wc.release.by_id if cid not in wc.by_id],
            },
            connection=conn,
        )
    if wake is not None:
        wake()
    return release
