"""The understanding check for supervisors: per question, who answered right first time, who needed tries, who has not answered.

Only officers who count for the release (dashboard's roster) are counted or listed, at one
school or all. A page costs a few queries whatever the number of officers: the counts are
grouped per question in one query, the officers who needed several tries come in one query,
and the officers who have not answered are read per question with a LIMIT (the CSV has them all).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from server import tally
from server.acknowledgments.dashboard import ReleaseStatus, query, roster_clause
from server.acknowledgments.ledger import stamp
from server.csv_export import write_csv
from server.guidance.questions import release_questions
from server.models import Acknowledgment, ReleaseQuestion

# Officers listed by name per question on the page as not having answered (the CSV lists all).
LIST_LIMIT = 25
ANSWER_COLUMNS = (
    "user_id", "name", "email", "school", "counted", "question", "card_id", "question_text", "question_hash",
    "answered", "right_first_time", "tries", "choices_picked", "received_at", "device_time", "uuid",
)


@dataclass
class Person:
    """An officer named in the stats."""

    user_id: int
    name: str
    school: str | None
    tries: int = 0


@dataclass
class QuestionStats:
    """One question's numbers among the officers who count."""

    question: ReleaseQuestion
    answered: int = 0
    right_first_time: int = 0
    several_tries: list[Person] = field(default_factory=list)
    not_answered: int = 0
    not_answered_people: list[Person] = field(default_factory=list)

    @property
    def percent_first_time(self) -> int:
        return round(100 * self.right_first_time / self.answered) if self.answered else 0


@dataclass
class CheckStats:
    """A release's understanding check: the officers who count and each question's numbers."""

    expected: int
    questions: list[QuestionStats]


def tries_of(raw) -> list[int]:
    """The tries column as a list (SQLite gives JSON text, PostgreSQL may too)."""
    value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return list(value or [])


async def check_stats(agency_id: int, release: ReleaseStatus, school: str = "") -> CheckStats | None:
    """Per question of a release: right first time, several tries (who, how many), not answered (who); None without questions."""
    questions = await release_questions(release.id)
    if not questions:
        return None
    roster, values = roster_clause(release, school)
    expected = (await query(f'SELECT COUNT(*) AS n FROM "user" u WHERE {roster}', *values, agency=agency_id))[0]["n"]
    stats = {q.id: QuestionStats(q) for q in questions}
    answered = f'FROM check_answer ca JOIN "user" u ON u.id = ca.user_id WHERE ca.agency_id = {{agency}} AND ca.release_id = {{release}} AND {roster}'
    for row in await query(
        "SELECT ca.question_id AS q, COUNT(*) AS n, SUM(CASE WHEN ca.right_first_time THEN 1 ELSE 0 END) AS first "
        f"{answered} GROUP BY ca.question_id",
        *values, agency=agency_id, release=release.id,
    ):
        stats[row["q"]].answered, stats[row["q"]].right_first_time = row["n"], int(row["first"] or 0)
    for row in await query(
        f"SELECT ca.question_id AS q, u.id AS id, u.name AS name, u.school AS school, ca.tries AS tries {answered} "
        "AND NOT ca.right_first_time ORDER BY LOWER(COALESCE(u.school, '')), LOWER(u.name), u.id",
        *values, agency=agency_id, release=release.id,
    ):
        stats[row["q"]].several_tries.append(Person(row["id"], row["name"], row["school"], len(tries_of(row["tries"]))))
    for item in stats.values():
        item.not_answered = expected - item.answered
        if item.not_answered:
            rows = await query(
                f'SELECT u.id AS id, u.name AS name, u.school AS school FROM "user" u WHERE {roster} AND NOT EXISTS '
                "(SELECT 1 FROM check_answer ca WHERE ca.agency_id = {agency} AND ca.release_id = {release} "
                "AND ca.question_id = {question} AND ca.user_id = u.id) "
                f"ORDER BY LOWER(COALESCE(u.school, '')), LOWER(u.name), u.id LIMIT {LIST_LIMIT}",
                *values, agency=agency_id, release=release.id, question=item.question.id,
            )
            item.not_answered_people = [Person(r["id"], r["name"], r["school"]) for r in rows]
    return CheckStats(expected, [stats[q.id] for q in questions])


# Every officer who counts × every question, with the answer if any; then answers by anyone else.
ANSWER_ROWS = """
SELECT u.id AS id, u.name AS name, u.email AS email, u.school AS school, q.id AS qid,
       ca.tries AS tries, ca.right_first_time AS first, ca.received_at AS received_at,
       ca.device_time AS device_time, ca.uuid AS uuid
  FROM "user" u CROSS JOIN release_question q
  LEFT JOIN check_answer ca ON ca.agency_id = {{agency}} AND ca.release_id = {{release}}
                           AND ca.question_id = q.id AND ca.user_id = u.id
 WHERE q.release_id = {{release}} AND {roster}
 ORDER BY LOWER(COALESCE(u.school, '')), LOWER(u.name), u.id, q.position
"""
OTHER_ANSWERS = """
SELECT u.id AS id, u.name AS name, u.email AS email, u.school AS school, ca.question_id AS qid,
       ca.tries AS tries, ca.right_first_time AS first, ca.received_at AS received_at,
       ca.device_time AS device_time, ca.uuid AS uuid
  FROM check_answer ca JOIN "user" u ON u.id = ca.user_id JOIN release_question q ON q.id = ca.question_id
 WHERE ca.agency_id = {{agency}} AND ca.release_id = {{release}} AND NOT ({roster})
 ORDER BY LOWER(u.name), u.id, q.position
"""


async def answer_rows(agency_id: int, release: ReleaseStatus) -> list[list]:
    """CSV rows: one per officer who counts and question (answered or not), then answers by anyone else."""
    questions = {q.id: q for q in await release_questions(release.id)}
    if not questions:
        return []
    roster, values = roster_clause(release)
    out = []
    for sql, counted in ((ANSWER_ROWS, "yes"), (OTHER_ANSWERS, "no")):
        for r in await query(sql.format(roster=roster), *values, agency=agency_id, release=release.id):
            q = questions[r["qid"]]
            tries = tries_of(r["tries"]) if r["uuid"] is not None else []
            out.append(
                [
                    r["id"], r["name"], r["email"], r["school"], counted, q.position + 1, q.card_id, q.text, q.hash,
                    "yes" if tries else "no",
                    ("yes" if r["first"] else "no") if tries else "",
                    len(tries) if tries else "",
                    " ".join(str(t) for t in tries),
                    stamp(tally.read_time(r["received_at"])), stamp(tally.read_time(r["device_time"])), r["uuid"],
                ]
            )
    return out


async def release_answers_csv(agency_id: int, release: ReleaseStatus) -> str:
    """One release's check answers, one row per officer and question, as CSV."""
    return write_csv(ANSWER_COLUMNS, await answer_rows(agency_id, release))


def questions_json(number: int, questions: list[ReleaseQuestion]) -> str:
    """A release's questions as asked (texts, choices, the right one, passage) with their hashes."""
    body = [
        {
            "position": q.position + 1, "card_id": q.card_id, "text": q.text, "choices": list(q.choices),
            "answer": q.answer, "explanation": q.explanation, "passage": q.passage, "hash": q.hash,
        }
        for q in questions
    ]
    return json.dumps({"release": number, "questions": body}, ensure_ascii=False, indent=1)


@dataclass
class OfficerCheck:
    """One officer's check and reading for one release, for the per-officer history."""

    answers: list[dict] = field(default_factory=list)  # {position, text, answered, right_first_time, tries}
    reading: list[dict] = field(default_factory=list)  # {card_id, title, seconds}


async def officer_checks(agency_id: int, user_id: int, release_ids: dict[int, int]) -> dict[int, OfficerCheck]:
    """Per release number: the officer's answers to its questions and the cards read with seconds (three queries)."""
    if not release_ids:
        return {}
    ids = list(release_ids)
    questions = await ReleaseQuestion.filter(release_id__in=ids).order_by("release_id", "position")
    answers = {
        (a["question_id"]): a
        for a in await query(
            f"SELECT question_id, tries, right_first_time FROM check_answer WHERE agency_id = {{agency}} "
            f"AND user_id = {{user}} AND release_id IN ({', '.join(str(int(i)) for i in ids)})",
            agency=agency_id, user=user_id,
        )
    }
    out: dict[int, OfficerCheck] = {}
    for q in questions:
        item = out.setdefault(release_ids[q.release_id], OfficerCheck())
        answer = answers.get(q.id)
        tries = tries_of(answer["tries"]) if answer else []
        item.answers.append(
            {
                "position": q.position + 1, "text": q.text, "answered": answer is not None,
                "right_first_time": bool(answer["right_first_time"]) if answer else False, "tries": len(tries),
            }
        )
    for ack in await Acknowledgment.filter(agency_id=agency_id, user_id=user_id, release_id__in=ids).values(
        "release_id", "reading"
    ):
        reading = ack["reading"]
        if isinstance(reading, str):
            reading = json.loads(reading)
        if reading:
            item = out.setdefault(release_ids[ack["release_id"]], OfficerCheck())
            item.reading = [
                {"card_id": r.get("card_id"), "seconds": r.get("seconds")} for r in reading if isinstance(r, dict)
            ]
    return out

