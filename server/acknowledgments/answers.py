"""An officer's answers to a release's understanding check: checked, recorded once, and hashed for the ledger.

The phone sends every question of a release in one submission, each with the choices picked in
order (the last one right: an officer tries until right). The server keeps one CheckAnswer per
officer and question, bound to the question's hash; a resend (same uuid) or a second
submission for an answered release (another device) gets what was recorded, never a second
record, as the ledger does for a second acknowledgment. answers_hash binds the recorded answers
(question hashes and tries) into the officer's acknowledgment of the release (check_hash).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock
from server.errors import Conflict, Invalid, NotFound
from server.guidance.content import content_hash
from server.guidance.questions import MAX_QUESTIONS, release_questions
from server.guidance.releases import ReleaseView
from server.models import CheckAnswer, ReleaseQuestion, User
from server.params import parse_device_id, parse_device_time, parse_uuid

HASH = re.compile(r"[0-9a-f]{64}")


@dataclass
class Answered:
    """The answers that stand for an officer and release, and whether this call recorded them."""

    rows: list[CheckAnswer]
    created: bool


def answers_hash(answers) -> str:
    """SHA-256 binding an officer's answers for a release: each question's hash and the tries, by question hash.

    answers: CheckAnswer rows or dicts with question_hash and tries.
    """
    read = (lambda a, k: a[k]) if answers and isinstance(answers[0], dict) else getattr
    items = sorted(({"question": read(a, "question_hash"), "tries": list(read(a, "tries"))} for a in answers),
                   key=lambda item: item["question"])
    return content_hash(items)


def _tries(raw, question: ReleaseQuestion, field: str) -> list[int]:
    """The choices picked, in order: each a choice of the question, none twice, only the last one right."""
    count = len(question.choices)
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"{field} must list the choices picked, in order (at least one).", {field: "invalid"})
    if len(raw) > count or not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < count for t in raw):
        raise Invalid(f"{field} must hold choice numbers from 0 to {count - 1}, each at most once.", {field: "invalid"})
    if len(set(raw)) != len(raw):
        raise Invalid(f"{field} picks a choice twice.", {field: "repeated"})
    if raw[-1] != question.answer or question.answer in raw[:-1]:
        raise Invalid(
            f"{field} does not end with the right answer: the check is answered when the right choice is picked.",
            {field: "not right"},
        )
    return list(raw)


def check_answers(raw, questions: list[ReleaseQuestion], number: int) -> list[tuple[ReleaseQuestion, list[int]]]:
    """Each question of the release with its tries, in question order; Invalid naming the field at fault."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_QUESTIONS:
        raise Invalid(f"answers must be a list of 1 to {MAX_QUESTIONS} answers.", {"answers": "invalid"})
    by_hash = {q.hash: q for q in questions}
    picked: dict[str, list[int]] = {}
    for index, item in enumerate(raw):
        field = f"answers[{index}]"
        if not isinstance(item, dict):
            raise Invalid(f"{field} must be an object with question and tries.", {field: "invalid"})
        question_hash = item.get("question")
        if not isinstance(question_hash, str) or not HASH.fullmatch(question_hash):
            raise Invalid(f"{field}.question must be a question's hash.", {f"{field}.question": "invalid"})
        question = by_hash.get(question_hash)
        if question is None:
            raise Invalid(
                f"{field}.question is not a question of release {number} (the question may have been changed).",
                {f"{field}.question": "unknown"},
            )
        if question_hash in picked:
            raise Invalid(f"{field}.question answers a question twice.", {f"{field}.question": "repeated"})
        picked[question_hash] = _tries(item.get("tries"), question, f"{field}.tries")
    missing = [q.position + 1 for q in questions if q.hash not in picked]
    if missing:
        raise Invalid(
            f"Answer every question of release {number} in one submission (missing: "
            f"{', '.join(map(str, missing))}).",
            {"answers": "incomplete"},
        )
    return [(q, picked[q.hash]) for q in questions]


async def _existing(user: User, release_id: int, uuid: str, conn=None) -> list[CheckAnswer]:
    same_key = await CheckAnswer.filter(uuid=uuid).using_db(conn).order_by("id")
    if same_key:
        if any(a.user_id != user.id or a.release_id != release_id for a in same_key):
            raise Conflict("This uuid belongs to other answers.", {"uuid": "taken"})
        return same_key
    return await recorded(user.id, release_id, conn)


async def recorded(user_id: int, release_id: int, conn=None) -> list[CheckAnswer]:
    """An officer's recorded answers for a release, in question order (none: not answered)."""
    return (
        await CheckAnswer.filter(user_id=user_id, release_id=release_id)
        .using_db(conn)
        .order_by("question__position")
    )


async def record_answers(user: User, release: ReleaseView, body: dict) -> Answered:
    """Record an officer's answers to every question of a release, or return those recorded before.

    body: {uuid, answers: [{question: hash, tries: [index, ...]}], device_id?, device_time?}.
    """
    if release.agency_id != user.agency_id:
        raise NotFound("Your agency has no such release.")
    questions = await release_questions(release.id)
    if not questions:
        raise Conflict(
            f"Release {release.number} has no understanding check: there is nothing to answer.",
            {"release": release.number},
        )
    uuid = parse_uuid(body.get("uuid"))
    device_id = parse_device_id(None if body.get("device_id") == "" else body.get("device_id"))
    device_time = parse_device_time(body.get("device_time"))
    answers = check_answers(body.get("answers"), questions, release.number)
    try:
        async with in_transaction() as conn:
            found = await _existing(user, release.id, uuid, conn)
            if found:
                return Answered(found, False)
            received = clock.now().astimezone(timezone.utc)
            rows = [
                CheckAnswer(
                    agency_id=user.agency_id,
                    user_id=user.id,
                    release_id=release.id,
                    question_id=question.id,
                    question_hash=question.hash,
                    uuid=uuid,
                    tries=tries,
                    right_first_time=len(tries) == 1,
                    device_id=device_id,
                    device_time=_utc(device_time),
                    received_at=received,
                )
                for question, tries in answers
            ]
            for row in rows:
                await row.save(using_db=conn)
            return Answered(rows, True)
    except IntegrityError:
        # Another submission for this officer won the race (unique per officer and question).
        found = await _existing(user, release.id, uuid)
        if not found:
            raise
        return Answered(found, False)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


def answers_body(rows: list[CheckAnswer], release_number: int) -> dict:
    """Recorded answers as the API returns them."""
    first = rows[0]
    return {
        "uuid": first.uuid,
        "release": release_number,
        "received_at": first.received_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "answers": [
            {"question": a.question_hash, "tries": list(a.tries), "right_first_time": a.right_first_time}
            for a in rows
        ],
        "check_hash": answers_hash(rows),
    }
