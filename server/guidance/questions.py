"""The understanding check of a release: questions written in a draft, checked, hashed and published.

This is the one place a question is checked (check_question) and hashed (question_hash): the
draft forms, submit and publish, and the answers officers send all rely on these rules.
A question is about one card the draft adds or changes; its passage is words of that card
as the draft leaves it, shown to an officer who answers wrongly.
"""

from __future__ import annotations

from typing import TypedDict

from tortoise.transactions import in_transaction

from server.errors import Conflict, Invalid, NotFound
from server.guidance.cards import CardData
from server.guidance.content import content_hash
from server.guidance.drafts import WorkingCopy, draft_target, require_editable
from server.guidance.rendering import plain_text
from server.models import Draft, DraftQuestion, ReleaseQuestion, User
from server.people import audit

MAX_QUESTIONS = 5
MIN_CHOICES, MAX_CHOICES = 2, 4
MAX_TEXT = 300
MAX_CHOICE = 200
MAX_EXPLANATION = 300
MAX_PASSAGE = 500
# Audit actions of question edits (review.CONTRIBUTING counts them: an author may not approve).
ACTIONS = ("question.add", "question.edit", "question.remove", "question.move")


class QuestionData(TypedDict):
    """A question's content: what is checked, hashed and published."""

    card_id: str
    text: str
    choices: list[str]
    answer: int  # index of the right choice
    explanation: str
    passage: str


def question_hash(card_id: str, text: str, choices: list[str], answer: int, explanation: str, passage: str) -> str:
    """SHA-256 of a question's canonical content: the hash officers' answers are bound to."""
    return content_hash(
        {
            "card_id": card_id,
            "text": text,
            "choices": list(choices),
            "answer": answer,
            "explanation": explanation,
            "passage": passage,
        }
    )


def hash_of(question: DraftQuestion | ReleaseQuestion | QuestionData) -> str:
    """question_hash of a stored question or of question data."""
    get = question.get if isinstance(question, dict) else lambda name: getattr(question, name)
    return question_hash(*(get(name) for name in ("card_id", "text", "choices", "answer", "explanation", "passage")))


def _normal(text: str) -> str:
    """Text compared for the passage rule: one space between words, case ignored, curly quotes straight."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return " ".join(text.split()).casefold()


def card_words(card: CardData) -> str:
    """The words of a card an officer reads (title, one-line answer, body, local policy), normalised."""
    parts = [card.get("title", ""), card.get("summary", ""), plain_text(card.get("body", ""))]
    parts += [plain_text(slot.get("text", "")) for slot in card.get("local_policy") or []]
    return "\n".join(_normal(p) for p in parts)


def passage_in_card(passage: str, card: CardData) -> bool:
    """Whether the passage's words occur in the card (within one part: title, summary, body or a policy)."""
    wanted = _normal(plain_text(passage))
    return bool(wanted) and any(wanted in part for part in card_words(card).split("\n"))


def changed_cards(wc: WorkingCopy) -> dict[str, CardData]:
    """The cards a question may be about: those the draft adds or whose content it changes."""
    ids = {c.card_id for c in wc.changes() if c.kind in ("added", "changed")}
    return {cid: wc.by_id[cid] for cid in ids if cid in wc.by_id}


def _line(raw, name: str, label: str, limit: int) -> str:
    """One line of text, spacing cleaned; label names it in messages ("the question", "answer 2")."""
    said = label[0].upper() + label[1:]
    if not isinstance(raw, str):
        raise Invalid(f"{said} must be text.", {"field": name})
    if "\n" in raw.strip():
        raise Invalid(f"{said} must be one line.", {"field": name})
    text = " ".join(raw.split())
    if not text:
        raise Invalid(f"Write {label}.", {"field": name})
    if len(text) > limit:
        raise Invalid(f"{said} is {len(text)} characters; keep it to {limit}.", {"field": name})
    return text


def check_question(
    changed: dict[str, CardData],
    card_id,
    text,
    choices,
    answer,
    explanation,
    passage,
) -> QuestionData:
    """The question's cleaned values, or Invalid naming the first field at fault (details["field"]).

    changed: the cards the draft adds or changes (changed_cards), by id.
    answer: the index of the right choice among the choices as sent (blank ones are dropped first).
    """
    if not isinstance(card_id, str) or card_id not in changed:
        raise Invalid(
            "Choose a card this draft adds or changes: a question is about a change officers acknowledge.",
            {"field": "card_id"},
        )
    text = _line(text, "text", "the question", MAX_TEXT)
    if not isinstance(choices, list | tuple):
        raise Invalid("The answers must be a list.", {"field": "choices"})
    if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
        raise Invalid("Mark the one right answer.", {"field": "answer"})
    kept, right = [], None
    for index, choice in enumerate(choices):
        if not isinstance(choice, str):
            raise Invalid("Each answer must be text.", {"field": "choices"})
        if not choice.strip():
            if index == answer:
                raise Invalid("The answer marked right is empty: write it, or mark another one.", {"field": "answer"})
            continue
        if index == answer:
            right = len(kept)
        kept.append(_line(choice, "choices", f"answer {index + 1}", MAX_CHOICE))
    if not MIN_CHOICES <= len(kept) <= MAX_CHOICES:
        raise Invalid(f"Give {MIN_CHOICES} to {MAX_CHOICES} answers (this has {len(kept)}).", {"field": "choices"})
    if len({_normal(c) for c in kept}) != len(kept):
        raise Invalid("Two answers say the same thing: make each answer different.", {"field": "choices"})
    explanation = _line(explanation, "explanation", "the explanation", MAX_EXPLANATION)
    passage = _passage(passage, changed[card_id])
    return {
        "card_id": card_id, "text": text, "choices": kept, "answer": right,
        "explanation": explanation, "passage": passage,
    }


def _passage(raw, card: CardData) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("Copy the words of the card that answer the question into the passage.", {"field": "passage"})
    passage = " ".join(raw.split())
    if len(passage) > MAX_PASSAGE:
        raise Invalid(f"The passage is {len(passage)} characters; keep it to {MAX_PASSAGE}.", {"field": "passage"})
    if not passage_in_card(passage, card):
        raise Invalid(
            f"The passage must be words of “{card['title']}” as this draft leaves it; "
            "copy them from the card (spacing and capitals may differ).",
            {"field": "passage"},
        )
    return passage


async def draft_questions(draft_id: int, connection=None) -> list[DraftQuestion]:
    """A draft's questions in order."""
    return await DraftQuestion.filter(draft_id=draft_id).using_db(connection).order_by("position", "id")


async def release_questions(release_id: int, connection=None) -> list[ReleaseQuestion]:
    """A release's published questions in order (none: the release has no check)."""
    return await ReleaseQuestion.filter(release_id=release_id).using_db(connection).order_by("position")


def question_view(question: ReleaseQuestion) -> dict:
    """A published question as pages, the offline copy and exports show it."""
    return {
        "id": question.id,
        "position": question.position,
        "card_id": question.card_id,
        "text": question.text,
        "choices": list(question.choices),
        "answer": question.answer,
        "explanation": question.explanation,
        "passage": question.passage,
        "hash": question.hash,
    }


def problems(wc: WorkingCopy, questions: list[DraftQuestion]) -> list[str]:
    """Why a draft's questions cannot be published as they are (empty: they can)."""
    changed = changed_cards(wc)
    found = []
    if len(questions) > MAX_QUESTIONS:
        found.append(f"A release has at most {MAX_QUESTIONS} questions; this draft has {len(questions)}.")
    for number, q in enumerate(questions, start=1):
        card = changed.get(q.card_id)
        if card is None:
            title = wc.by_id[q.card_id]["title"] if q.card_id in wc.by_id else q.card_id
            found.append(f"Question {number} is about “{title}”, which this draft no longer changes: edit or remove it.")
        elif not passage_in_card(q.passage, card):
            found.append(
                f"Question {number}: its passage no longer occurs in “{card['title']}”: copy the words again."
            )
    return found


def release_rows(questions: list[DraftQuestion]) -> list[dict]:
    """The ReleaseQuestion values of a draft's questions, with their hashes, in order."""
    return [
        {
            "position": position, "card_id": q.card_id, "text": q.text, "choices": list(q.choices),
            "answer": q.answer, "explanation": q.explanation, "passage": q.passage, "hash": hash_of(q),
        }
        for position, q in enumerate(questions)
    ]


async def _lock(draft: Draft, conn) -> None:
    """Lock the draft's row and refuse unless it is still a draft (another admin may have submitted it)."""
    # On PostgreSQL two admins changing questions at once wait here, so the count of five holds.
    locked = await Draft.filter(id=draft.id).using_db(conn).select_for_update().first()
    require_editable(locked)


async def _get(wc: WorkingCopy, question_id: int, conn=None) -> DraftQuestion:
    question = await DraftQuestion.get_or_none(id=question_id, draft_id=wc.draft.id).using_db(conn)
    if question is None:
        raise NotFound("This draft has no such question.")
    return question


def _values(question: QuestionData) -> dict:
    return {k: question[k] for k in ("card_id", "text", "choices", "answer", "explanation", "passage")}


async def add_question(wc: WorkingCopy, values: dict, actor: User) -> DraftQuestion:
    """Check a new question and add it last to the draft (at most MAX_QUESTIONS)."""
    require_editable(wc.draft)
    question = check_question(changed_cards(wc), **values)
    async with in_transaction() as conn:
        await _lock(wc.draft, conn)
        count = await DraftQuestion.filter(draft_id=wc.draft.id).using_db(conn).count()
        if count >= MAX_QUESTIONS:
            raise Conflict(f"A release has at most {MAX_QUESTIONS} questions: remove one to add another.")
        last = await DraftQuestion.filter(draft_id=wc.draft.id).using_db(conn).order_by("-position").first()
        saved = await DraftQuestion.create(
            draft_id=wc.draft.id, position=(last.position + 1) if last else 0, **_values(question), using_db=conn
        )
        await audit.record(
            wc.draft.agency_id, actor, "question.add", draft_target(wc.draft), hash_after=hash_of(question),
            details={"question": saved.id, "card_id": question["card_id"]}, connection=conn,
        )
    return saved


async def edit_question(wc: WorkingCopy, question_id: int, values: dict, actor: User) -> DraftQuestion:
    """Check and save new values for one of the draft's questions."""
    require_editable(wc.draft)
    question = check_question(changed_cards(wc), **values)
    async with in_transaction() as conn:
        await _lock(wc.draft, conn)
        saved = await _get(wc, question_id, conn)
        before = hash_of(saved)
        for name, value in _values(question).items():
            setattr(saved, name, value)
        await saved.save(using_db=conn)
        await audit.record(
            wc.draft.agency_id, actor, "question.edit", draft_target(wc.draft), hash_before=before,
            hash_after=hash_of(question), details={"question": saved.id, "card_id": question["card_id"]},
            connection=conn,
        )
    return saved


async def remove_question(wc: WorkingCopy, question_id: int, actor: User) -> None:
    """Remove one of the draft's questions; those after it move up."""
    require_editable(wc.draft)
    async with in_transaction() as conn:
        await _lock(wc.draft, conn)
        question = await _get(wc, question_id, conn)
        await DraftQuestion.filter(id=question.id).using_db(conn).delete()
        for position, rest in enumerate(await draft_questions(wc.draft.id, conn)):
            if rest.position != position:
                await DraftQuestion.filter(id=rest.id).using_db(conn).update(position=position)
        await audit.record(
            wc.draft.agency_id, actor, "question.remove", draft_target(wc.draft), hash_before=hash_of(question),
            details={"question": question.id, "card_id": question.card_id}, connection=conn,
        )


async def move_question(wc: WorkingCopy, question_id: int, direction: str, actor: User) -> None:
    """Swap a question with the one before (up) or after (down) it."""
    require_editable(wc.draft)
    if direction not in ("up", "down"):
        raise Invalid("Choose a direction: up or down.", {"field": "direction"})
    async with in_transaction() as conn:
        await _lock(wc.draft, conn)
        questions = await draft_questions(wc.draft.id, conn)
        index = next((i for i, q in enumerate(questions) if q.id == question_id), None)
        if index is None:
            raise NotFound("This draft has no such question.")
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(questions):
            return
        questions[index], questions[other] = questions[other], questions[index]
        for position, q in enumerate(questions):
            await DraftQuestion.filter(id=q.id).using_db(conn).update(position=position)
        await audit.record(
            wc.draft.agency_id, actor, "question.move", draft_target(wc.draft),
            details={"question": question_id, "direction": direction}, connection=conn,
        )
