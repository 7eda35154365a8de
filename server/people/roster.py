"""Roster import: a CSV of the agency's people (email, name, role, school) read into a plan, then applied at once.

The plan says who would be created, updated (name, role or school changed, or a deactivated
person listed again), left unchanged and, only when asked, which active officers missing from
the file would be deactivated; and every wrong row with its line number and why. Nothing is
written while any row is wrong. Applying re-plans inside one transaction (so a change made
since the preview is seen), writes everyone in a few bulk statements and one audit entry.
Another agency's use of an address is neither looked at nor revealed: emails are unique per
agency only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from server import tally
from server.csv_export import original_cell, write_csv
from server.mail.config import Mail
from server.models import Agency, Role, User
from server.people import accounts, audit

COLUMNS = ("email", "name", "role", "school")
MAX_BYTES = 900_000  # under the app's 1 MB request limit, with room for the form around the file
MAX_ROWS = 10_000
AUDIT_ACTION = "user.roster_import"
ROLE_ORDER = {Role.ADMIN: 0, Role.SUPERVISOR: 1, Role.OFFICER: 2}


class RosterError(Exception):
    """A file that cannot be read as a roster at all (size, encoding, columns), with a message for the admin."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Problem:
    """A wrong row: its line in the file, the email as written, and why."""

    line: int
    email: str
    message: str


@dataclass(frozen=True)
class Entry:
    """A person as a row of the file asks them to be."""

    line: int
    email: str
    name: str
    role: Role
    school: str | None


@dataclass(frozen=True)
class Change:
    """An existing person the file changes: what changes ({field: (before, after)}) and whether they come back."""

    entry: Entry
    user_id: int
    changes: dict
    reactivate: bool


@dataclass(frozen=True)
class Person:
    """An existing person as the plan read them."""

    id: int
    email: str
    name: str
    role: Role
    school: str | None
    active: bool
    has_password: bool


@dataclass
class Plan:
    """What applying a roster file would do, and every wrong row."""

    sha256: str
    rows: int = 0
    deactivate_missing: bool = False
    create: list[Entry] = field(default_factory=list)
    update: list[Change] = field(default_factory=list)
    unchanged: int = 0
    deactivate: list[Person] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the file can be applied (no wrong row)."""
        return not self.problems

    @property
    def reactivated(self) -> int:
        return sum(1 for change in self.update if change.reactivate)

    def counts(self) -> dict:
        """How many rows fall in each group (for the preview, the CLI and the audit entry)."""
        return {
            "rows": self.rows,
            "created": len(self.create),
            "updated": len(self.update),
            "reactivated": self.reactivated,
            "unchanged": self.unchanged,
            "deactivated": len(self.deactivate),
            "wrong": len(self.problems),
        }

    def digest(self) -> str:
        """A fingerprint of what the plan would write: applying checks it is still what was previewed."""
        what = {
            "create": [(e.email, e.name, e.role.value, e.school) for e in self.create],
            "update": [(c.user_id, c.entry.name, c.entry.role.value, c.entry.school, c.reactivate) for c in self.update],
            "deactivate": [p.id for p in self.deactivate],
        }
        return hashlib.sha256(json.dumps(what, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Result:
    """An applied plan and the set-password links of those who need one: [(email, name, token)]."""

    plan: Plan
    links: list[tuple[str, str, str]]


class PlanChanged(Exception):
    """The roster changed between the preview and applying it: nothing was written; here is the new plan."""

    def __init__(self, plan: Plan):
        super().__init__("The agency's people changed since the preview.")
        self.plan = plan


def template(people: list[User]) -> str:
    """The import's CSV: its header and these people, so an admin can edit the current roster and upload it back."""
    ordered = sorted(people, key=lambda u: (ROLE_ORDER[u.role], u.name.lower()))
    return write_csv(COLUMNS, [(u.email, u.name, u.role.value, u.school or "") for u in ordered])


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise RosterError(
            f"This file is {len(data):,} bytes; a roster file may be at most {MAX_BYTES:,} bytes "
            f"(about {MAX_ROWS:,} people). Split it into several files."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(
            f"This file is not UTF-8 text (byte {exc.start + 1:,} is not). Save it as \"CSV UTF-8\" "
            "(Excel) or as CSV with UTF-8 encoding, and upload it again."
        ) from None
    if "\x00" in text:
        raise RosterError("This file holds NUL characters: it is not a CSV file. Save it as CSV and upload it again.")
    if not text.strip():
        raise RosterError("This file is empty. Start from the template: a header row (email, name, role, school) and one row per person.")
    return text


def _dialect(first_line: str) -> str:
    # Spreadsheets in many countries save "CSV" with semicolons; a header without commas tells.
    return ";" if ";" in first_line and "," not in first_line else ","


def _columns(header: list[str]) -> dict[str, int]:
    names = [" ".join(h.split()).lower() for h in header]
    unknown = [h for h in names if h and h not in COLUMNS]
    missing = [c for c in COLUMNS if c not in names]
    twice = sorted({h for h in names if h and names.count(h) > 1})
    problems = []
    if missing:
        problems.append("missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    if unknown:
        problems.append("unknown column" + ("s " if len(unknown) > 1 else " ") + ", ".join(repr(h[:40]) for h in unknown[:5]))
    if twice:
        problems.append("column" + ("s " if len(twice) > 1 else " ") + ", ".join(twice) + " given twice")
    if "" in names and not problems:
        problems.append(f"column {names.index('') + 1} has no name")
    if problems:
        raise RosterError(
            "The first row must name the columns email, name, role and school (in any order, nothing else): "
            + "; ".join(problems) + "."
        )
    return {name: names.index(name) for name in COLUMNS}


def read(data: bytes) -> tuple[list[Entry], list[Problem]]:
    """The rows of a roster file checked one by one (not against the agency), or RosterError for the whole file."""
    text = _text(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(text.split("\n", 1)[0]))
    entries: list[Entry] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    try:
        header = next(reader)
        while header and not header[-1].strip():
            header.pop()  # spreadsheets often add empty columns at the right
        where = _columns(header)
        width, line, rows = len(header), reader.line_num, 0
        for cells in reader:
            start, line = line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines, and rows of empty cells a spreadsheet leaves at the end
            rows += 1
            if rows > MAX_ROWS:
                raise RosterError(f"This file has more than {MAX_ROWS:,} people. Split it into several files.")
            while len(cells) > width and not cells[-1].strip():
                cells.pop()
            cells = [original_cell(c) for c in cells]
            raw_email = cells[where["email"]].strip()[:254] if len(cells) > where["email"] else ""
            if len(cells) != width:
                problems.append(Problem(start, raw_email, f"This row has {len(cells)} cells; the header has {width}."))
                continue
            try:
                email = accounts.check_email(cells[where["email"]])
                name = accounts.check_name(cells[where["name"]])
                role = _role(cells[where["role"]])
                school = accounts.check_school(cells[where["school"]])
            except accounts.AccountError as exc:
                problems.append(Problem(start, raw_email, exc.message))
                continue
            if email in seen:
                problems.append(Problem(start, email, f"The same email is on line {seen[email]}: list each person once."))
                continue
            seen[email] = start
            entries.append(Entry(start, email, name, role, school))
    except csv.Error as exc:
        raise RosterError(f"Line {reader.line_num} cannot be read as CSV ({exc}). Check its quotes.") from None
    except StopIteration:
        raise RosterError("This file has no header row.") from None
    return entries, problems


def _role(value: str) -> Role:
    text = value.strip().lower()
    try:
        return Role(text)
    except ValueError:
        shown = f"Unknown role {value.strip()[:40]!r}" if text else "No role"
        raise accounts.AccountError(f"{shown}: write officer, supervisor or admin.") from None


async def _people(agency_id: int, conn=None) -> dict[str, Person]:
    rows = await (
        User.filter(agency_id=agency_id)
        .using_db(conn)
        .values_list("id", "email", "name", "role", "school", "active", "password_hash")
    )
    return {r[1]: Person(r[0], r[1], r[2], Role(r[3]), r[4], bool(r[5]), r[6] is not None) for r in rows}


async def plan(
    agency_id: int, data: bytes, actor: User | None, deactivate_missing: bool = False, conn=None
) -> Plan:
    """What importing this file into the agency would do (reads the agency's people once; writes nothing)."""
    sha256 = hashlib.sha256(data).hexdigest()
    entries, problems = read(data)
    people = await _people(agency_id, conn)
    result = Plan(sha256=sha256, deactivate_missing=deactivate_missing, problems=problems)
    result.rows = len(entries) + len(problems)
    listed = set()
    for entry in entries:
        listed.add(entry.email)
        person = people.get(entry.email)
        if person is None:
            result.create.append(entry)
            continue
        if actor is not None and person.id == actor.id and entry.role != Role.ADMIN:
            result.problems.append(
                Problem(entry.line, entry.email, "This is you: you cannot take away your own admin role (ask another admin).")
            )
            continue
        changes = {
            name: (before, after)
            for name, before, after in (
                ("name", person.name, entry.name),
                ("role", person.role.value, entry.role.value),
                ("school", person.school, entry.school),
            )
            if before != after
        }
        if changes or not person.active:
            result.update.append(Change(entry, person.id, changes, reactivate=not person.active))
        else:
            result.unchanged += 1
    if deactivate_missing:
        result.deactivate = sorted(
            (
                p
                for p in people.values()
                if p.active and p.role == Role.OFFICER and p.email not in listed and (actor is None or p.id != actor.id)
            ),
            key=lambda p: p.name.lower(),
        )
    _check_admins_left(result, people)
    result.problems.sort(key=lambda p: p.line)
    return result


def _check_admins_left(result: Plan, people: dict[str, Person]) -> None:
    # An agency needs an active admin (the command line has no acting admin to keep one).
    demoted = {c.user_id for c in result.update if c.entry.role != Role.ADMIN}
    promoted = [c for c in result.update if c.entry.role == Role.ADMIN]
    left = sum(1 for p in people.values() if p.active and p.role == Role.ADMIN and p.id not in demoted)
    left += len(promoted) + sum(1 for e in result.create if e.role == Role.ADMIN)
    if not left and demoted:
        first = min(c.entry.line for c in result.update if c.user_id in demoted)
        result.problems.append(
            Problem(first, "", "No active admin would be left: your agency needs at least one (keep someone admin).")
        )


async def apply(
    agency: Agency,
    actor: User | None,
    data: bytes,
    deactivate_missing: bool,
    days: int,
    expected: str | None = None,
    source: str = "",
    mail: Mail | None = None,
) -> Result:
    """Apply a roster file in one transaction with one audit entry; PlanChanged when it is not the plan previewed.

    expected: the digest of the previewed plan (None: whatever the file plans now, as the
    command line does). Raises RosterError for an unreadable file and PlanChanged (with the
    plan) when a row is wrong or the plan differs from the preview; nothing is written then.
    source: the file's name, or "command line", for the audit entry. mail: when email is set up,
    each set-password link is also emailed (server/people/accounts.new_invitations).
    """
    async with in_transaction() as conn:
        # First, before any row that refers to the agency: the lock person changes and ledger
        # appends take (server/tally.py), so tallies stay right and imports do not interleave.
        await Agency.filter(id=agency.id).select_for_update().using_db(conn).first()
        current = await plan(agency.id, data, actor, deactivate_missing, conn)
        if not current.ok or (expected is not None and current.digest() != expected):
            raise PlanChanged(current)
        links = await _write(agency, actor, current, days, conn, mail)
        await audit.record(
            agency.id,
            actor,
            AUDIT_ACTION,
            source[:200] or "roster",
            details={
                **current.counts(),
                "sha256": current.sha256,
                "deactivate_missing": deactivate_missing,
                "by": "command line" if actor is None else "upload",
            },
            connection=conn,
        )
    return Result(current, links)


async def _write(agency: Agency, actor: User | None, current: Plan, days: int, conn, mail) -> list[tuple[str, str, str]]:
    if current.create:
        await User.bulk_create(
            [
                User(agency_id=agency.id, email=e.email, name=e.name, role=e.role, school=e.school)
                for e in current.create
            ],
            batch_size=500,
            using_db=conn,
        )
    if current.update:
        await User.bulk_update(
            [
                User(id=c.user_id, name=c.entry.name, role=c.entry.role, school=c.entry.school, active=True)
                for c in current.update
            ],
            fields=["name", "role", "school", "active"],
            batch_size=500,
            using_db=conn,
        )
    gone = [p.id for p in current.deactivate]
    if gone:
        await accounts.deactivate_many(gone, conn)
    if gone or any(c.reactivate or "role" in c.changes for c in current.update):
        await tally.rebuild(agency.id, conn)  # roles and active flags moved: recount in this transaction
    # Links for the new people and for those coming back who never set a password.
    people = await _people(agency.id, conn)
    needing = [people[e.email] for e in current.create]
    needing += [people[c.entry.email] for c in current.update if c.reactivate and not people[c.entry.email].has_password]
    tokens = await accounts.new_invitations([p.id for p in needing], agency.id, actor, days, conn, mail=mail)
    return [(p.email, p.name, tokens[p.id]) for p in needing]
