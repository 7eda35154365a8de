"""The supervisor's numbers: who counts for a release, who acknowledged, who is pending or overdue.

Who counts for a release: the agency's active officers who were already on the roster before
the release was superseded by the next release that needs an acknowledgment. An officer
created after a release was published therefore counts for the release in effect when they
joined (and every later one), but not for releases that were already replaced. Deactivated
officers count for nothing; their acknowledgments stay in the ledger and in exports.

Overdue: the due date has passed and the officer has not acknowledged. Late: the server
received the acknowledgment after the due date (the device's time is shown beside it).

Speed, at 20,000 officers and millions of acknowledgments: nothing here reads an agency's
whole history. The acknowledgments that count per release are kept as tallies
(server/tally.py, updated in the transaction of each acknowledgment and of each change to a
person's role or active flag); who counts is a count over the roster by join date, through the
(agency, role, active, created_at) index; a release page fetches one page of officers, in
order, with LIMIT/OFFSET, and its chart grouped per horizontal position. Plain SQL reading the same on SQLite and PostgreSQL (integers are
put in the text, times passed as parameters), skipping the ORM's per-row cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise import connections

from server import tally
from server.acknowledgments.chart import LEFT, PLOT_W
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


async def query(sql: str, *values, **ints: int) -> list[dict]:
    """Rows of a dashboard query; integers go into the text, anything else is a parameter ($1, $2…, either dialect)."""
    conn = connections.get("default")
    return await conn.execute_query_dict(tally.sql(conn, sql.format(**{k: int(v) for k, v in ints.items()})), list(values))


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
    rows = await query(
        'SELECT id, number, summary, published_at, due_at, requires_ack FROM "release" '
        "WHERE agency_id = {agency} ORDER BY number DESC",
        agency=agency_id,
    )
    statuses = []
    next_ack_release = None
    for row in rows:
        published, due = tally.read_time(row["published_at"]), tally.read_time(row["due_at"])
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


def roster_clause(status: ReleaseStatus, school: str | None = None) -> tuple[str, list]:
    """The officers who count for a release, as a WHERE clause on "user" u and its parameters."""
    # The officers who count for a release (and are at one school): a WHERE clause on "user" u
    # with its parameters; {agency} stays for _query.
    where = f"u.agency_id = {{agency}} AND u.role = '{OFFICER}' AND u.active"
    values: list = []
    if status.superseded_at is not None:
        values.append(tally.db_time(status.superseded_at))
        where += f" AND u.created_at < ${len(values)}"
    if school:
        values.append(school)
        where += f" AND u.school = ${len(values)}"
    return where, values


async def _joined_before(agency_id: int, moments: list[datetime]) -> list[int]:
    """How many active officers joined before each of some ascending moments, then in all (one more)."""
    # One pass over the roster index: each officer falls in the interval of their join date.
    cases = " ".join(f"WHEN u.created_at < ${i} THEN {i - 1}" for i in range(1, len(moments) + 1))
    interval = f"CASE {cases} ELSE {len(moments)} END" if moments else "0"
    rows = await query(
        f'SELECT {interval} AS k, COUNT(*) AS n FROM "user" u '
        f"WHERE u.agency_id = {{agency}} AND u.role = '{OFFICER}' AND u.active GROUP BY 1",
        *[tally.db_time(m) for m in moments],
        agency=agency_id,
    )
    per_interval = [0] * (len(moments) + 1)
    for row in rows:
        per_interval[row["k"]] = row["n"]
    running, out = 0, []
    for n in per_interval:
        running += n
        out.append(running)
    return out


async def release_statuses(agency_id: int, moment: datetime) -> list[ReleaseStatus]:
    """Every release of the agency, newest first, with expected / acknowledged / pending / overdue."""
    statuses = await _releases(agency_id, moment)
    ack_releases = [s for s in statuses if s.requires_ack]
    if not ack_releases:
        return statuses
    moments = sorted({s.superseded_at for s in ack_releases if s.superseded_at is not None})
    joined = await _joined_before(agency_id, moments)
    position = {m: i for i, m in enumerate(moments)}
    tallies = await tally.tallies(agency_id)
    for status in ack_releases:
        status.expected = joined[position[status.superseded_at] if status.superseded_at else -1]
        status.acknowledged = tallies.get(status.id, tally.Tally()).acknowledged
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


# The officers who count for a release (the {roster} clause of _roster) with their
# acknowledgment of it, if any: {join} picks them all (LEFT), the acknowledged (INNER), or,
# with "AND a.id IS NULL", the outstanding; ordered by school and name. A page of them walks the
# roster and the (user, release) index and stops at LIMIT.
OFFICER_ROWS = """
SELECT u.id AS id, u.name AS name, u.email AS email, u.school AS school,
       a.received_at AS received_at, a.device_time AS device_time, a.uuid AS uuid, a.seq AS seq,
       a.row_hash AS row_hash
  FROM "user" u
  {join} JOIN acknowledgment a ON a.agency_id = {{agency}} AND a.release_id = {{release}} AND a.user_id = u.id
 WHERE {roster}
 ORDER BY {order}LOWER(COALESCE(u.school, '')), LOWER(u.name), u.id
"""
OUTSTANDING_FIRST = "CASE WHEN a.id IS NULL THEN 0 ELSE 1 END, "


async def _officer_rows(agency_id: int, release: ReleaseStatus, sql: str, values: list) -> list[OfficerRow]:
    found = await query(sql, *values, agency=agency_id, release=release.id)
    synced = {}
    if found:
        # Only for the rows shown: one grouped read through the (user, device) index.
        ids = ", ".join(str(int(r["id"])) for r in found)
        synced = {
            r["user_id"]: r["at"]
            for r in await query(f"SELECT user_id, MAX(last_sync_at) AS at FROM device WHERE user_id IN ({ids}) GROUP BY user_id")
        }
    missing = "overdue" if release.overdue_now else "pending"
    rows = []
    for r in found:
        row = OfficerRow(
            user_id=r["id"],
            name=r["name"],
            email=r["email"],
            school=r["school"],
            status=missing,
            last_sync_at=tally.read_time(synced.get(r["id"])),
        )
        if r["uuid"] is not None:
            for name, value in ack_fields(r, ROW_ACK_FIELDS, time=tally.read_time).items():
                setattr(row, name, value)
            row.status = "late" if is_late(release.due_at, row.received_at) else "acknowledged"
        rows.append(row)
    return rows


async def officer_rows(agency_id: int, release: ReleaseStatus, moment: datetime) -> list[OfficerRow]:
    """Every officer who counts for a release with their status, outstanding ones first (exports)."""
    roster, values = roster_clause(release)
    sql = OFFICER_ROWS.format(join="LEFT", roster=roster, order=OUTSTANDING_FIRST)
    return await _officer_rows(agency_id, release, sql, values)


# One page of officer ids in officer_rows' order: the outstanding (NOT EXISTS) or the
# acknowledged (EXISTS), both answered from the (agency, release, user) index alone.
PAGE_IDS = """
SELECT u.id AS id FROM "user" u
 WHERE {roster} AND {exists} (SELECT 1 FROM acknowledgment a
                               WHERE a.agency_id = {{agency}} AND a.release_id = {{release}} AND a.user_id = u.id)
 ORDER BY LOWER(COALESCE(u.school, '')), LOWER(u.name), u.id LIMIT {limit} OFFSET {offset}
"""


async def officer_page(
    agency_id: int, release: ReleaseStatus, show: str, school: str, first: int, size: int
) -> list[OfficerRow]:
    """One page of the officers a release page lists (show: outstanding, acknowledged or all), in officer_rows' order.

    release must carry its counts for this school (count_release): "all" lists the outstanding
    officers first, then the acknowledged, so a page can straddle the two.
    """
    roster, values = roster_clause(release, school)

    async def part(acknowledged: bool, offset: int, limit: int) -> list[int]:
        if limit <= 0:
            return []
        sql = PAGE_IDS.format(roster=roster, exists="EXISTS" if acknowledged else "NOT EXISTS", limit=int(limit), offset=int(offset))
        return [r["id"] for r in await query(sql, *values, agency=agency_id, release=release.id)]

    if show == "outstanding":
        ids = await part(False, first, size)
    elif show == "acknowledged":
        ids = await part(True, first, size)
    else:
        outstanding = release.outstanding
        ids = await part(False, first, min(size, outstanding - first))
        ids += await part(True, max(first - outstanding, 0), size - len(ids))
    if not ids:
        return []
    listed = ", ".join(str(int(i)) for i in ids)
    sql = OFFICER_ROWS.format(join="LEFT", roster=f"u.id IN ({listed})", order="")
    rows = {r.user_id: r for r in await _officer_rows(agency_id, release, sql, [])}
    return [rows[i] for i in ids]


async def count_release(agency_id: int, release: ReleaseStatus, school: str = "") -> int:
    """Set a release's expected and acknowledged counts (at one school, or all); returns how many were late."""
    roster, values = roster_clause(release, school)
    rows = await query(f'SELECT COUNT(*) AS n FROM "user" u WHERE {roster}', *values, agency=agency_id)
    release.expected = rows[0]["n"]
    if school:
        due = "1 = 0"
        if release.due_at is not None:
            values = values + [tally.db_time(release.due_at)]
            due = f"a.received_at > ${len(values)}"
        rows = await query(
            f"SELECT COUNT(*) AS n, SUM(CASE WHEN {due} THEN 1 ELSE 0 END) AS late FROM acknowledgment a "
            f'JOIN "user" u ON u.id = a.user_id WHERE a.agency_id = {{agency}} AND a.release_id = {{release}} AND {roster}',
            *values,
            agency=agency_id,
            release=release.id,
        )
        release.acknowledged, late = rows[0]["n"], int(rows[0]["late"] or 0)
    else:
        counted = (await tally.tallies(agency_id, release.id)).get(release.id, tally.Tally())
        release.acknowledged, late = counted.acknowledged, counted.late
    return late


async def release_schools(agency_id: int, release: ReleaseStatus) -> list[str]:
    """The schools of the officers who count for a release, sorted."""
    roster, values = roster_clause(release)
    rows = await query(f'SELECT DISTINCT u.school AS school FROM "user" u WHERE {roster} AND u.school IS NOT NULL', *values, agency=agency_id)
    return sorted((r["school"] for r in rows if r["school"]), key=str.lower)


# The chart's horizontal positions (it rounds to a tenth of a pixel): arrivals are read grouped
# per position, so at most this many rows come back however many officers acknowledged.
CHART_POSITIONS = PLOT_W * 10


def _epoch(conn, column: str) -> str:
    if conn.capabilities.dialect == "sqlite":
        return f"((julianday({column}) - 2440587.5) * 86400.0)"
    return f"date_part('epoch', {column})"  # double precision: EXTRACT gives slow numeric


async def completion_steps(
    agency_id: int, release: ReleaseStatus, school: str, start: datetime, end: datetime
) -> tuple[list[datetime], list[int]]:
    """A release's counted acknowledgments from start to end (at one school, or all), grouped per
    position of the chart: each group's last arrival and the running total by then."""
    roster, values = roster_clause(release, school)
    conn = connections.get("default")
    # Grouped by the tenth of a pixel the chart rounds each arrival to (its x, times ten).
    scale = CHART_POSITIONS / max((end - start).total_seconds(), 1.0)
    position = f"ROUND({LEFT * 10} + ({_epoch(conn, 'a.received_at')} - {start.timestamp()!r}) * {scale!r})"
    rows = await query(
        f"SELECT {position} AS k, MAX(a.received_at) AS at, COUNT(*) AS n FROM acknowledgment a "
        f'JOIN "user" u ON u.id = a.user_id WHERE a.agency_id = {{agency}} AND a.release_id = {{release}} '
        f"AND {roster} GROUP BY 1 ORDER BY 1",
        *values,
        agency=agency_id,
        release=release.id,
    )
    times, counts, running = [], [], 0
    for row in rows:
        running += row["n"]
        times.append(tally.read_time(row["at"]))
        counts.append(running)
    return times, counts


async def last_arrival(agency_id: int, release: ReleaseStatus, school: str = "") -> datetime | None:
    """When the last counted acknowledgment of a release arrived (at one school, or all)."""
    roster, values = roster_clause(release, school)
    rows = await query(
        'SELECT MAX(a.received_at) AS at FROM acknowledgment a JOIN "user" u ON u.id = a.user_id '
        f"WHERE a.agency_id = {{agency}} AND a.release_id = {{release}} AND {roster}",
        *values,
        agency=agency_id,
        release=release.id,
    )
    return tally.read_time(rows[0]["at"]) if rows else None


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
        for a in await query(
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
            for name, value in ack_fields(ack, HISTORY_ACK_FIELDS, time=tally.read_time).items():
                setattr(item, name, value)
            if not counts:
                item.status = "recorded"
            else:
                item.status = "late" if is_late(status.due_at, item.received_at) else "acknowledged"
        items.append(item)
    return items
