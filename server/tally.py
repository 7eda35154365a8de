"""Per-release tallies of the acknowledgments that count, kept in the transaction of each change.

An acknowledgment counts for its release when its author counts for it (the rule is in
server/acknowledgments/dashboard.py): an active officer created before the release was
superseded by the next release that needs an acknowledgment. Whether the author joined
before the supersession is settled when the acknowledgment is recorded (join and publication
times never change), so afterwards only a person's role or active flag can move their
acknowledgments in or out of the tallies: `person_changing` adjusts them in the transaction
that changes the person, `ack_recorded` in the one that records the acknowledgment. Both run
under the agency's row lock (PostgreSQL), the lock the ledger appends under, so they never
interleave. `late` counts those received after the release's due date.

This module sits below the domain packages (it uses only the models and the database) because
both the ledger (server.acknowledgments) and the accounts (server.people) write tallies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise import connections

from server.models import Acknowledgment, Agency

OFFICER = "officer"

# The tallies from scratch: one row per release with acknowledgments that count. The same
# statement fills release_tally in migration 0004.
RECOUNT = """
SELECT s.release_id AS release_id, COUNT(*) AS acknowledged,
       SUM(CASE WHEN s.due_at IS NOT NULL AND a.received_at > s.due_at THEN 1 ELSE 0 END) AS late
  FROM (SELECT r.id AS release_id, r.due_at AS due_at,
               (SELECT n.published_at FROM "release" n
                 WHERE n.agency_id = r.agency_id AND n.requires_ack AND n.number > r.number
                 ORDER BY n.number LIMIT 1) AS superseded_at
          FROM "release" r WHERE r.requires_ack AND r.agency_id = {agency}) s
  JOIN acknowledgment a ON a.release_id = s.release_id
  JOIN "user" u ON u.id = a.user_id
 WHERE u.role = 'officer' AND u.active AND (s.superseded_at IS NULL OR u.created_at < s.superseded_at)
 GROUP BY s.release_id
"""
UPSERT = (
    "INSERT INTO release_tally (release_id, acknowledged, late) VALUES {rows} "
    "ON CONFLICT (release_id) DO UPDATE SET acknowledged = release_tally.acknowledged + excluded.acknowledged, "
    "late = release_tally.late + excluded.late"
)
_PLACEHOLDER = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Tally:
    """A release's acknowledgments that count, and how many of them came after the due date."""

    acknowledged: int = 0
    late: int = 0


def read_time(value) -> datetime | None:
    """A stored time as an aware datetime (SQLite hands back its ISO text, PostgreSQL a datetime)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def db_time(moment: datetime) -> datetime:
    """A time as a query parameter: in UTC, as times are stored (SQLite compares them as text)."""
    return moment.astimezone(timezone.utc)


def sql(conn, text: str) -> str:
    """Query text written with $1, $2… placeholders, in the connection's dialect."""
    return _PLACEHOLDER.sub(r"?\1", text) if conn.capabilities.dialect == "sqlite" else text


def counts(role: str, active: bool, created_at: datetime, superseded_at: datetime | None) -> bool:
    """Whether a person counts for a release that needs an acknowledgment (superseded_at: None if current)."""
    return role == OFFICER and bool(active) and (superseded_at is None or created_at < superseded_at)


async def _rows(conn, text: str, *values) -> list[dict]:
    return await conn.execute_query_dict(sql(conn, text), list(values))


async def _person(conn, user_id: int) -> dict:
    rows = await _rows(conn, 'SELECT agency_id, role, active, created_at FROM "user" WHERE id = $1', user_id)
    return rows[0]


async def ack_recorded(conn, ack: Acknowledgment, number: int, due_at: datetime | None) -> None:
    """Count a just-recorded acknowledgment of release `number` if its author counts for it."""
    person = await _person(conn, ack.user_id)
    following = await _rows(
        conn,
        'SELECT published_at FROM "release" WHERE agency_id = $1 AND requires_ack AND number > $2 ORDER BY number LIMIT 1',
        ack.agency_id,
        number,
    )
    superseded = read_time(following[0]["published_at"]) if following else None
    if counts(person["role"], person["active"], read_time(person["created_at"]), superseded):
        late = int(due_at is not None and ack.received_at > due_at)
        await conn.execute_query(UPSERT.format(rows=f"({int(ack.release_id)}, 1, {late})"))


async def person_changing(conn, user_id: int, role: str | None = None, active: bool | None = None) -> None:
    """Before a person's role or active flag is set (same transaction): move their acks in or out of the tallies.

    role, active: the new values (None: unchanged). Call it before anything else in the
    transaction: on PostgreSQL a row written earlier that refers to the agency (an audit entry)
    holds a share lock on it, and two such transactions would deadlock on the agency lock.
    """
    agency_id = (await _person(conn, user_id))["agency_id"]
    # Serializes with the ledger's appends and other changes in the agency, and makes the
    # person's row read below the latest one.
    await Agency.filter(id=agency_id).select_for_update().using_db(conn).first()
    person = await _person(conn, user_id)
    created = read_time(person["created_at"])
    before = counts(person["role"], person["active"], created, None)
    after = counts(
        person["role"] if role is None else role, person["active"] if active is None else active, created, None
    )
    if before == after:
        return
    acks = await _rows(
        conn,
        "SELECT a.release_id AS release_id, a.received_at AS received_at, r.due_at AS due_at, "
        '(SELECT n.published_at FROM "release" n WHERE n.agency_id = r.agency_id AND n.requires_ack '
        "AND n.number > r.number ORDER BY n.number LIMIT 1) AS superseded_at "
        'FROM acknowledgment a JOIN "release" r ON r.id = a.release_id WHERE a.user_id = $1',
        user_id,
    )
    step = 1 if after else -1
    rows = []
    for ack in acks:
        superseded, due = read_time(ack["superseded_at"]), read_time(ack["due_at"])
        if superseded is None or created < superseded:
            late = int(due is not None and read_time(ack["received_at"]) > due)
            rows.append(f"({int(ack['release_id'])}, {step}, {step * late})")
    if rows:
        await conn.execute_query(UPSERT.format(rows=", ".join(rows)))


async def tallies(agency_id: int, release_id: int | None = None) -> dict[int, Tally]:
    """The stored tally of each release of the agency that has one (or of one release)."""
    only = "" if release_id is None else f" AND r.id = {int(release_id)}"
    rows = await connections.get("default").execute_query_dict(
        "SELECT t.release_id AS release_id, t.acknowledged AS acknowledged, t.late AS late FROM release_tally t "
        f'JOIN "release" r ON r.id = t.release_id WHERE r.agency_id = {int(agency_id)}{only}'
    )
    return {r["release_id"]: Tally(r["acknowledged"], r["late"]) for r in rows}


async def recount(agency_id: int) -> dict[int, Tally]:
    """Each release's tally counted from scratch from the ledger and the roster (for checks)."""
    rows = await connections.get("default").execute_query_dict(RECOUNT.format(agency=int(agency_id)))
    return {r["release_id"]: Tally(r["acknowledged"], int(r["late"])) for r in rows}


async def differences(agency_id: int) -> dict[int, tuple[Tally, Tally]]:
    """Releases whose stored tally is not the recount: {release id: (stored, recounted)}."""
    stored, counted = await tallies(agency_id), await recount(agency_id)
    return {
        release_id: (stored.get(release_id, Tally()), counted.get(release_id, Tally()))
        for release_id in stored.keys() | counted.keys()
        if stored.get(release_id, Tally()) != counted.get(release_id, Tally())
    }


async def rebuild(agency_id: int, conn=None) -> None:
    """Replace the agency's tallies with a recount (after a bulk change that bypassed the ledger), in conn if given."""
    conn = conn or connections.get("default")
    await conn.execute_query(
        f'DELETE FROM release_tally WHERE release_id IN (SELECT id FROM "release" WHERE agency_id = {int(agency_id)})'
    )
    await conn.execute_query(
        "INSERT INTO release_tally (release_id, acknowledged, late) "
        f"SELECT release_id, acknowledged, late FROM ({RECOUNT.format(agency=int(agency_id))}) counted"
    )
