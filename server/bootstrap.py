"""Setting up a database: migrations, base content, agencies, users and the demo."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from server import db
from server.guidance.content import content_hash, load_content
from server.guidance.releases import publish_release, sync_base_content
from server.models import Agency, BaseCard, Role, User
from server.people.auth import hash_password
from server.settings import Settings

DEMO_PASSWORD = "fieldguide-demo"
DEMO_AGENCY = ("demo", "Demo Police Department")
DEMO_USERS = [
    ("officer@demo.test", "Officer Casey Rivera", Role.OFFICER, "Lincoln High School"),
    ("officer2@demo.test", "Officer Sam Okafor", Role.OFFICER, "Roosevelt Middle School"),
    ("supervisor@demo.test", "Sgt. Jordan Lee", Role.SUPERVISOR, None),
    ("admin@demo.test", "Lt. Morgan Diaz", Role.ADMIN, None),
    ("admin2@demo.test", "Capt. Avery Chen", Role.ADMIN, None),
]


@dataclass
class Prepared:
    """What preparing the database did."""

    new_database: bool
    migrations_applied: list[str]
    base_cards_changed: list[str]
    demo_created: bool


async def load_base_content(settings: Settings) -> list[str]:
    """Check content/ and store it as the base guidance; return changed card ids."""
    content = load_content(settings.content_dir)
    return await sync_base_content(content)


async def base_release_parts(settings: Settings) -> tuple[list[dict], list[dict], dict, list[dict]]:
    """The base cards (as stored), categories, flow and practice scenarios, for an agency's first release."""
    content = load_content(settings.content_dir)
    rows = await BaseCard.all().order_by("position").prefetch_related("version")
    cards = []
    for row in rows:
        data = dict(row.version.data)
        data["local_policy"] = [
            {"id": s["id"], "label": s["label"], "text": s["text"]} for s in data["local_policy"]
        ]
        cards.append(data)
    return cards, content.categories, content.flow, content.scenarios


async def create_agency(settings: Settings, slug: str, name: str) -> Agency:
    """A new agency whose release 1 is the NASRO base guidance."""
    cards, categories, flow, scenarios = await base_release_parts(settings)
    async with in_transaction() as conn:
        agency = await Agency.create(slug=slug, name=name, using_db=conn)
        await publish_release(
            agency,
            cards,
            categories,
            flow,
            "NASRO base guidance (2015 position statement).",
            requires_ack=True,
            base_hashes={card["id"]: content_hash(card) for card in cards},
            scenarios=scenarios,
            connection=conn,
        )
    return agency


async def create_user(
    agency: Agency, email: str, name: str, role: Role, password: str | None, school: str | None = None
) -> User:
    """A user of an agency (password optional: an invitation can set it later)."""
    return await User.create(
        agency=agency,
        email=email.strip().lower(),
        name=name,
        role=role,
        password_hash=await hash_password(password) if password else None,
        school=school,
    )


async def create_demo(settings: Settings) -> bool:
    """The demo agency and its people, unless it exists; True when created."""
    if await Agency.exists(slug=DEMO_AGENCY[0]):
        return False
    agency = await create_agency(settings, *DEMO_AGENCY)
    for email, name, role, school in DEMO_USERS:
        await create_user(agency, email, name, role, DEMO_PASSWORD, school)
    return True


async def prepare(settings: Settings, *, demo: bool) -> Prepared:
    """Open the database; on a new one apply migrations; load base content; add the demo.

    Several processes may start at once on one PostgreSQL database: they take turns under an
    advisory lock, so the first one migrates and seeds and the others find it done.
    """
    await db.open_db(settings)
    async with db.preparing(settings):
        new = await db.applied_count(settings) == 0
        applied = await db.migrate(settings) if new else []
        await db.ensure_current(settings)
        changed = await load_base_content(settings)
        created = await create_demo(settings) if demo else False
    return Prepared(new, applied, changed, created)
