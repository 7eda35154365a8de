"""The supervisor's numbers: who counts for a release, who acknowledged, who is pending or overdue.

Who counts for a release: the agency's active officers who were already on the roster before
the release was superseded by the next release that needs an acknowledgment. An officer
created after a release was published therefore counts for the release in effect when they
joined (and every later one), but not for releases that were already replaced. Deactivated
officers count for nothing; their acknowledgments stay in the ledger and in exports.

Overdue: the due date has passed and the officer has not acknowledged. Late: the server
received the acknowledgment after the due date (the device's time is shown beside it).

Speed: per-release totals come from one GROUP BY over a covering index; acknowledgments by
people who do not count for a release (few: deactivated users, other roles, later hires) are
counted in a second small query and subtracted. Plain SQL with integer literals only, so it
reads the same on SQLite and PostgreSQL and skips the ORM's per-row cost.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tortoise import connections

from server.acknowledgments.ledger import ack_fields
from server.models import Role, User

OFFICER = Role.OFFICER.value
# The acknowledgment fields an officer's row and an officer's history show.
ROW_ACK_FIELDS = ("received_at", "device_time", "uuid", "seq", "row_hash")
HISTORY_ACK_FIELDS = ("received_at", "device_time", "device_id", "uuid")


def is_overdue(due_at: datetime | None, moment: datetime) -> bool:
    """Whether an unacknowledged release is overdue at `moment`."""
    return due_at is not None and moment > due_at


def is_late(due_at: datetime | None, received_at: datetime) -> bool:
    """Whether an acknowledgment received at `received_at` came after the due date."""
    return due_at is not None and received_at > due_at


def _when(value) -> datetime | None:
    # SQLite hands back the stored ISO text, PostgreSQL a datetime.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


async def _query(sql: str, **ints: int) -> list[dict]:
    # Only integers are put into the SQL text, so no placeholder dialect is needed.
    return await connections.get("default").execute_query_dict(sql.format(**{k: int(v) for k, v in ints.items()}))


@dataclass
class ReleaseStatus:
    """One release's acknowledgment numbers among the officers who count for it."""

    id: int
    number: int
    summary: str
    published_at: datetime
    due_at: datetime | None
    requires_ack: bool
    superseded_at: datetime | None
    expected: int = 0
    acknowledged: int = 0
    overdue_now: bool = False

    @property
    def outstanding(self) -> int:
        return max(self.expected - self.acknowledged, 0)

    @property
    def pending(self) -> int:
        return 0 if self.overdue_now else self.outstanding

    @property
    def overdue(self) -> int:
        return self.outstanding if self.overdue_now else 0

    @property
    def percent(self) -> int:
        return round(100 * self.acknowledged / self.expected) if self.expected else 100

    def counts_officer(self, created_at: datetime) -> bool:
        """Whether an active officer created at `created_at` counts for this release."""
        return self.requires_ack and (self.superseded_at is None or created_at < self.superseded_at)


async def _releases(agency_id: int, moment: datetime) -> list[ReleaseStatus]:
    rows = await _query(
        'SELECT id, number, summary, published_at, due_at, requires_ack FROM "release" '
        "WHERE agency_id = {agency} ORDER BY number DESC",
        agency=agency_id,
    )
    statuses = []
    next_ack_release = None
    for row in rows:
        published, due = _when(row["published_at"]), _when(row["due_at"])
        requires_ack = bool(row["requires_ack"])
        statuses.append(
            ReleaseStatus(
                id=row["id"],
                number=row["number"],
                summary=row["summary"],
                published_at=published,
                due_at=due,
                requires_ack=requires_ack,
                superseded_at=next_ack_release,
                overdue_now=requires_ack and is_overdue(due, moment),
            )
        )
        if requires_ack:
            next_ack_release = published
    return statuses  # newest first


async def release_statuses(agency_id: int, moment: datetime) -> list[ReleaseStatus]:
    """Every release of the agency, newest first, with expected / acknowledged / pending / overdue."""
    statuses = await _releases(agency_id, moment)
    ack_releases = [s for s in reversed(statuses) if s.requires_ack]  # oldest first
    if not ack_releases:
        return statuses
    people = await _query('SELECT id, role, active, created_at FROM "user" WHERE agency_id = {agency}', agency=agency_id)
    joined = []
    not_counted = []  # (user id, number of the first release they count for)
    never = 10**9
    superseded = [r.superseded_at for r in ack_releases if r.superseded_at is not None]
    for person in people:
        created = _when(person["created_at"])
        if person["role"] != OFFICER or not person["active"]:
            not_counted.append((person["id"], never))
            continue
        joined.append(created)
        first = ack_releases[bisect_right(superseded, created)].number
        if first > ack_releases[0].number:
            not_counted.append((person["id"], first))
    joined.sort()
    totals = await _query(
        "SELECT release_id, COUNT(*) AS n FROM acknowledgment WHERE agency_id = {agency} GROUP BY release_id",
        agency=agency_id,
    )
    acked = {r["release_id"]: r["n"] for r in totals}
    if not_counted:
        # Driven from these few people through the (user, release) index, not from every ack.
        values = ", ".join(f"({int(uid)}, {int(first)})" for uid, first in not_counted)
        extra = await _query(
            f"WITH t(user_id, first_number) AS (VALUES {values}) "
            "SELECT a.release_id AS release_id, COUNT(*) AS n FROM t "
            "JOIN acknowledgment a ON a.user_id = t.user_id "
            'JOIN "release" r ON r.id = a.release_id AND r.agency_id = {agency} '
            "WHERE r.number < t.first_number GROUP BY a.release_id",
            agency=agency_id,
        )
        for row in extra:
            acked[row["release_id"]] -= row["n"]
    for status in ack_releases:
        status.expected = bisect_left(joined, status.superseded_at) if status.superseded_at else len(joined)
        status.acknowledged = acked.get(status.id, 0)
    return statuses


async def release_status(agency_id: int, number: int, moment: datetime) -> ReleaseStatus | None:
    """One release's status without counts (None when the agency has no such release)."""
    for status in await _releases(agency_id, moment):
        if status.number == number:
            return status
    return None


@dataclass
class OfficerRow:
    """One officer's standing on one release; more per-officer columns are added here."""

    user_id: int
    name: str
    email: str
    school: str | None
    status: str  # acknowledged | late | pending | overdue
    received_at: datetime | None = None
    device_time: datetime | None = None
    uuid: str | None = None
    seq: int | None = None
    row_hash: str | None = None
    last_sync_at: datetime | None = None
    extra: dict = field(default_factory=dict)

    @property
    def acknowledged(self) -> bool:
        return self.received_at is not None


# Each active officer with their acknowledgment of one release (if any) and last device sync,
# outstanding first, then by school and name: one pass over the roster using the (user, release)
# and (user, device) indexes.
OFFICER_ROWS = f"""
SELECT u.id AS id, u.name AS name, u.email AS email, u.school AS school, u.created_at AS created_at,
       a.received_at AS received_at, a.device_time AS device_time, a.uuid AS uuid, a.seq AS seq,
       a.row_hash AS row_hash,
       (SELECT MAX(d.last_sync_at) FROM device d WHERE d.user_id = u.id) AS last_sync_at
  FROM "user" u
  LEFT JOIN acknowledgment a ON a.user_id = u.id AND a.release_id = {{release}}
 WHERE u.agency_id = {{agency}} AND u.role = '{OFFICER}' AND u.active
 ORDER BY CASE WHEN a.id IS NULL THEN 0 ELSE 1 END, LOWER(COALESCE(u.school, '')), LOWER(u.name), u.id
"""


async def officer_rows(agency_id: int, release: ReleaseStatus, moment: datetime) -> list[OfficerRow]:
    """Every officer who counts for a release with their status, outstanding ones first."""
    missing = "overdue" if release.overdue_now else "pending"
    rows = []
    for r in await _query(OFFICER_ROWS, agency=agency_id, release=release.id):
        # Everyone counts for a release still in effect; only older ones need the join date.
        if release.superseded_at is not None and not release.counts_officer(_when(r["created_at"])):
            continue
        row = OfficerRow(
            user_id=r["id"],
            name=r["name"],
            email=r["email"],
            school=r["school"],
            status=missing,
            last_sync_at=_when(r["last_sync_at"]),
        )
        if r["uuid"] is not None:
            for name, value in ack_fields(r, ROW_ACK_FIELDS, time=_when).items():
                setattr(row, name, value)
            row.status = "late" if is_late(release.due_at, row.received_at) else "acknowledged"
        rows.append(row)
    return rows


def schools_of(rows: list[OfficerRow]) -> list[str]:
    """The distinct schools among some officers, sorted."""
    return sorted({r.school for r in rows if r.school}, key=str.lower)


def completion_series(rows: list[OfficerRow]) -> list[datetime]:
    """When each counted officer's acknowledgment arrived, in order (the i-th is i acknowledged)."""
    return sorted(r.received_at for r in rows if r.received_at is not None)


@dataclass
class HistoryItem:
    """One release in an officer's history."""

    number: int
    summary: str
    published_at: datetime
    due_at: datetime | None
    counts: bool
    status: str  # acknowledged | late | pending | overdue | recorded (an ack that does not count)
    received_at: datetime | None = None
    device_time: datetime | None = None
    device_id: str | None = None
    uuid: str | None = None


async def officer_history(agency_id: int, user: User, moment: datetime) -> list[HistoryItem]:
    """Each release that counts for the person or that they acknowledged, newest first."""
    statuses = await _releases(agency_id, moment)
    acks = {
        a["release_id"]: a
        for a in await _query(
            "SELECT release_id, received_at, device_time, device_id, uuid FROM acknowledgment "
            "WHERE agency_id = {agency} AND user_id = {user}",
            agency=agency_id,
            user=user.id,
        )
    }
    counted_role = user.role == Role.OFFICER and user.active
    items = []
    for status in statuses:
        ack = acks.get(status.id)
        counts = counted_role and status.counts_officer(user.created_at)
        if not counts and ack is None:
            continue
        item = HistoryItem(
            number=status.number,
            summary=status.summary,
            published_at=status.published_at,
            due_at=status.due_at,
            counts=counts,
            status="overdue" if status.overdue_now else "pending",
        )
        if ack is not None:
            for name, value in ack_fields(ack, HISTORY_ACK_FIELDS, time=_when).items():
                setattr(item, name, value)
            if not counts:
                item.status = "recorded"
            else:
                item.status = "late" if is_late(status.due_at, item.received_at) else "acknowledged"
        items.append(item)
    return items
