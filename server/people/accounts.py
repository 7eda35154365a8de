"""People in an agency: invitations, password links, roles, schools, deactivation (all audited)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import clock, tally
from server.mail import outbox as mail_outbox
from server.mail.config import Mail
from server.models import Agency, Invitation, Role, Session, User
from server.people import audit
from server.people.auth import hash_password, revoke_user_sessions

MIN_PASSWORD = 12
MAX_PASSWORD = 256
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    """A request about an account that cannot be done, with a message for the person asking."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def token_hash(token: str) -> str:
    """The SHA-256 of a link token: only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_path(token: str) -> str:
    """The path of the set-password page for a token."""
    return f"/invite/{token}"


def check_email(email: str) -> str:
    """A normalised email address, or AccountError."""
    email = email.strip().lower()
    if not email:
        raise AccountError("Enter the person's email address.", "email")
    if len(email) > 254 or not EMAIL.match(email):
        raise AccountError("That does not look like an email address (name@example.org).", "email")
    return email


def check_name(name: str) -> str:
    """A trimmed display name, or AccountError."""
    name = " ".join(name.split())
    if not name:
        raise AccountError("Enter the person's name.", "name")
    if len(name) > 200:
        raise AccountError("Names are limited to 200 characters.", "name")
    return name


def check_role(role: str) -> Role:
    """A Role from a form value, or AccountError."""
    try:
        return Role(role)
    except ValueError:
        raise AccountError("Choose officer, supervisor or admin.", "role") from None


def check_school(school: str) -> str | None:
    """A trimmed school name (None when empty), or AccountError."""
    school = " ".join(school.split())
    if len(school) > 200:
        raise AccountError("School names are limited to 200 characters.", "school")
    return school or None


def password_problem(password: str, confirm: str) -> str | None:
    """Why a new password cannot be used, or None when it can."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters (yours has {len(password)}). A few plain words make a good one."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    if not password.strip():
        return "A password cannot be only spaces."
    if password != confirm:
        return "The two passwords are not the same. Type the same password twice."
    return None


async def new_invitations(
    user_ids: list[int], agency_id: int, actor: User | None, days: int, conn, purpose: str = "invite",
    mail: Mail | None = None,
) -> dict[int, str]:
    """Single-use set-password links for these people of one agency, in bulk; returns {user id: token}.

    mail: when email is set up, each link is also emailed to its person (written to the outbox in
    this same transaction).
    """
    if not user_ids:
        return {}
    # One open link per person: a new one replaces any earlier link not yet used.
    moment = clock.now()
    await Invitation.filter(user_id__in=user_ids, used_at__isnull=True, expires_at__gt=moment).using_db(conn).update(
        expires_at=moment
    )
    tokens = {user_id: secrets.token_urlsafe(32) for user_id in user_ids}
    await Invitation.bulk_create(
        [
            Invitation(
                agency_id=agency_id,
                user_id=user_id,
                purpose=purpose,
                token_hash=token_hash(token),
                created_by_id=actor.id if actor else None,
                expires_at=moment + timedelta(days=days),
            )
            for user_id, token in tokens.items()
        ],
        batch_size=500,
        using_db=conn,
    )
    if mail is not None:
        paths = {user_id: invitation_path(token) for user_id, token in tokens.items()}
        await mail_outbox.enqueue_links(agency_id, purpose, paths, days, mail, conn)
    return tokens


async def _new_link(user: User, purpose: str, actor: User | None, days: int, conn, mail: Mail | None = None) -> str:
    return (await new_invitations([user.id], user.agency_id, actor, days, conn, purpose, mail))[user.id]


async def invite(
    agency: Agency, actor: User | None, email: str, name: str, role: str, school: str, days: int,
    mail: Mail | None = None,
) -> tuple[User, str]:
    """A new user with no password yet and a single-use link to set one (emailed too, with mail); returns (user, token)."""
    email = check_email(email)
    name = check_name(name)
    role_value = check_role(role)
    school_value = check_school(school)
    # Only this agency's people are looked at: another agency's use of the address is neither
    # revealed nor in the way (emails are unique per agency).
    taken = AccountError(
        "That email already has an account in your agency. Each person signs in with their own email.", "email"
    )
    if await User.exists(agency_id=agency.id, email=email):
        raise taken
    async with in_transaction() as conn:
        try:
            user = await User.create(
                agency_id=agency.id, email=email, name=name, role=role_value, school=school_value, using_db=conn
            )
        except IntegrityError:
            raise taken from None  # the same email invited at the same moment
        token = await _new_link(user, "invite", actor, days, conn, mail)
        await audit.record(
            agency.id,
            actor,
            "user.invite",
            email,
            details={"name": name, "role": role_value.value, "school": school_value, "expires_days": days},
            connection=conn,
        )
    return user, token


async def new_link(actor: User | None, user: User, days: int, mail: Mail | None = None) -> str:
    """A fresh set-password link: an invitation again if none was used yet, else a reset (emailed too, with mail)."""
    if not user.active:
        raise AccountError("Reactivate this account before giving them a new link.")
    purpose = "reset" if user.password_hash else "invite"
    async with in_transaction() as conn:
        token = await _new_link(user, purpose, actor, days, conn, mail)
        await audit.record(
            user.agency_id,
            actor,
            f"user.{purpose}_link",
            user.email,
            details={"expires_days": days},
            connection=conn,
        )
    return token


class LinkState:
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    INACTIVE = "inactive"


async def find_link(token: str) -> tuple[Invitation | None, str]:
    """The invitation of a token (its user loaded) and whether it can still be used."""
    if not token or len(token) > 100:
        return None, LinkState.UNKNOWN
    invitation = await Invitation.get_or_none(token_hash=token_hash(token)).prefetch_related("user", "agency")
    if invitation is None:
        return None, LinkState.UNKNOWN
    if invitation.used_at is not None:
        return invitation, LinkState.USED
    if invitation.expires_at <= clock.now():
        return invitation, LinkState.EXPIRED
    if not invitation.user.active:
        return invitation, LinkState.INACTIVE
    return invitation, LinkState.OK


async def use_link(token: str, password: str, confirm: str) -> User:
    """Set a password through a link, once; every earlier session of that person ends."""
    invitation, state = await find_link(token)
    if state != LinkState.OK:
        raise AccountError(state)
    problem = password_problem(password, confirm)
    if problem:
        raise AccountError(problem, "password")
    user = invitation.user
    password_hash = await hash_password(password)  # before the transaction: it takes ~100 ms
    moment = clock.now()
    async with in_transaction() as conn:
        # The conditional update is what makes the link single-use under concurrent submits.
        claimed = (
            await Invitation.filter(id=invitation.id, used_at__isnull=True, expires_at__gt=moment)
            .using_db(conn)
            .update(used_at=moment)
        )
        if not claimed:
            raise AccountError(LinkState.USED)
        await User.filter(id=user.id).using_db(conn).update(password_hash=password_hash)
        ended = await revoke_user_sessions(user)
        await audit.record(
            user.agency_id,
            user,
            "user.password_set",
            user.email,
            details={"link": invitation.purpose, "sessions_ended": ended},
            connection=conn,
        )
    return await User.get(id=user.id)


async def _other_active_admins(user: User) -> int:
    return await User.filter(agency_id=user.agency_id, role=Role.ADMIN, active=True).exclude(id=user.id).count()


async def deactivate(actor: User, user: User) -> int:
    """Turn an account off: its sessions end at once and its links stop working; returns sessions ended."""
    if user.id == actor.id:
        raise AccountError("You cannot deactivate your own account. Ask another admin.")
    if not user.active:
        raise AccountError(f"{user.name} is deactivated already.")
    async with in_transaction() as conn:
        await tally.person_changing(conn, user.id, active=False)
        ended = await deactivate_many([user.id], conn)
        await audit.record(
            user.agency_id, actor, "user.deactivate", user.email, details={"sessions_ended": ended}, connection=conn
        )
    user.active = False
    return ended


async def deactivate_many(user_ids: list[int], conn) -> int:
    """Turn these accounts off in a transaction (tallies and audit are the caller's): sessions and open links end."""
    moment = clock.now()
    await User.filter(id__in=user_ids).using_db(conn).update(active=False)
    ended = await Session.filter(user_id__in=user_ids, revoked_at__isnull=True).using_db(conn).update(revoked_at=moment)
    await Invitation.filter(user_id__in=user_ids, used_at__isnull=True, expires_at__gt=moment).using_db(conn).update(
        expires_at=moment
    )
    return ended


async def reactivate(actor: User, user: User) -> None:
    """Turn an account back on (the person signs in with their old password, or a new link)."""
    if user.active:
        raise AccountError(f"{user.name} is active already.")
    async with in_transaction() as conn:
        await tally.person_changing(conn, user.id, active=True)
        await User.filter(id=user.id).using_db(conn).update(active=True)
        await audit.record(user.agency_id, actor, "user.reactivate", user.email, connection=conn)
    user.active = True


async def update(actor: User, user: User, name: str, role: str, school: str) -> list[str]:
    """Change a person's name, role or school; returns what changed."""
    name_value = check_name(name)
    role_value = check_role(role)
    school_value = check_school(school)
    if user.role == Role.ADMIN and role_value != Role.ADMIN and user.active and not await _other_active_admins(user):
        raise AccountError("Your agency needs at least one active admin: make someone else admin first.", "role")
    changes = []
    async with in_transaction() as conn:
        # First in the transaction: it locks the agency row, which the audit rows below refer to.
        await tally.person_changing(conn, user.id, role=role_value.value)
        for field, before, after in (
            ("name", user.name, name_value),
            ("role", user.role.value, role_value.value),
            ("school", user.school, school_value),
        ):
            if before != after:
                changes.append(field)
                await audit.record(
                    user.agency_id,
                    actor,
                    f"user.{field}",
                    user.email,
                    details={"from": before, "to": after},
                    connection=conn,
                )
        if changes:
            await User.filter(id=user.id).using_db(conn).update(name=name_value, role=role_value, school=school_value)
    user.name, user.role, user.school = name_value, role_value, school_value
    return changes


async def schools(agency_id: int) -> list[str]:
    """The schools named in an agency, for suggestions and filters."""
    rows = await User.filter(agency_id=agency_id, school__isnull=False).distinct().order_by("school").values_list(
        "school", flat=True
    )
    return [s for s in rows if s]
