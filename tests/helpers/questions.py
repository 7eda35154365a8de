"""Releases with an understanding check, published through the real draft, review and publish steps."""

from __future__ import annotations

from server.guidance import questions, review
from server.guidance.drafts import (
    load_sources,
    save_card,
    set_details,
    start_draft,
    working_copy,
)
from server.guidance.releases import latest_release, load_release
from server.models import Agency, Draft, Release, ReleaseQuestion, User
from server.settings import ROOT

from .editor import TEACHER_NEW, TEACHER_OLD

# Questions about the teacher card as the sample edit leaves it (TEACHER_OLD → TEACHER_NEW).
SAMPLE_QUESTIONS = [
    {
        "card_id": "teacher",
        "text": "Where do you find what your teacher role covers?",
        "choices": ["In your MOU", "In the student code of conduct", "Anywhere you like"],
        "answer": 0,
        "explanation": "NASRO recommends that the MOU define the SRO's roles, teacher included.",
        "passage": TEACHER_NEW,
    },
    {
        "card_id": "teacher",
        "text": "May teaching turn into formal school discipline?",
        "choices": ["Yes, when you teach the class", "No, discipline is for school administrators"],
        "answer": 1,
        "explanation": "Formal school discipline is the responsibility of school administrators.",
        "passage": "Don't let teaching turn into formal school discipline.",
    },
    {
        "card_id": "teacher",
        "text": "What does time with students help build?",
        "choices": ["Case files", "Relationships", "Arrest records"],
        "answer": 1,
        "explanation": "NASRO training emphasizes relationship building to prevent the need for SRO interventions.",
        "passage": "Use time with students to build relationships.",
    },
    {
        "card_id": "teacher",
        "text": "What is the teacher role one of?",
        "choices": ["The roles NASRO says your MOU should define", "A duty of school administrators"],
        "answer": 0,
        "explanation": "Teacher is one of the roles NASRO says your MOU should define for you.",
        "passage": "Teacher is one of the roles NASRO says your MOU should define for you.",
    },
    {
        "card_id": "teacher",
        "text": "What does proactive school policing aim to prevent?",
        "choices": ["The need for SRO interventions", "Classes", "Presentations", "Lessons"],
        "answer": 0,
        "explanation": "Its training emphasizes relationship building designed to prevent the need for SRO interventions.",
        "passage": "designed to prevent the need for SRO interventions with any student",
    },
]


async def publish_with_questions(
    count: int = 2,
    *,
    agency_slug: str = "demo",
    author_email: str = "admin@demo.test",
    approver_email: str = "admin2@demo.test",
    extra: list[dict] | None = None,
    summary: str = "Clearer wording on teaching.",
) -> tuple[Release, list[ReleaseQuestion]]:
    """Release N+1 with a major change to the teacher card and `count` sample questions (plus `extra`).

    Goes through start_draft, save_card, add_question, submit, approve and publish, so the
    questions are checked, reviewed and copied with their hashes exactly as in the admin pages.
    """
    agency = await Agency.get(slug=agency_slug)
    author = await User.get(agency=agency, email=author_email)
    approver = await User.get(agency=agency, email=approver_email)
    draft = await start_draft(agency, author)

    async def fresh():
        stored = await Draft.get(id=draft.id)
        return await working_copy(stored, await load_release(await latest_release(agency.id)))

    wc = await fresh()
    card = dict(wc.by_id["teacher"])
    assert TEACHER_OLD in card["body"]
    card["body"] = card["body"].replace(TEACHER_OLD, TEACHER_NEW)
    await save_card(wc, card, author, change_class="major")
    await set_details(wc.draft, summary, None, author)
    wc = await fresh()
    for values in SAMPLE_QUESTIONS[:count] + list(extra or []):
        await questions.add_question(wc, dict(values), author)
    wc = await fresh()
    await review.submit(wc, author, load_sources(ROOT / "content"))
    wc = await fresh()
    await review.approve(wc, agency, approver, wc.fingerprint())
    wc = await fresh()
    release = await review.publish(wc, agency, author, wc.fingerprint())
    return release, await questions.release_questions(release.id)
