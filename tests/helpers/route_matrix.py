"""Who may use each route, and two agencies' worth of objects to try every route against.

ROUTES declares every (method, path) of the app: the roles allowed (None: public), how to fill
its path parameters from one agency's objects, and what a request sends. The tenancy and CSRF
tests walk app.routes and fail on any route missing here, so a new route must be declared.
The fixtures world_template and world (tests/conftest.py) build these objects.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from tortoise import Tortoise

from server import bootstrap
from server.acknowledgments.ledger import record_ack
from server.guidance.content import canonical_card
from server.guidance.drafts import start_draft
from server.guidance.releases import load_release, store_card
from server.models import (
    Agency,
    BaseCard,
    DraftQuestion,
    PushSubscription,
    Release,
    ReleaseCard,
    Role,
    User,
)
from server.people import accounts, audit
from server.people.auth import start_session
from server.web.sessions import SESSION_COOKIE

from .releases import publish_revision

# Appears in every name and text of the other agency: no response to our agency may hold it.
SECRET = "OTHERSECRET"
ROLES = ("officer", "supervisor", "admin")
ALL = frozenset(ROLES)
SUPERVISORS = frozenset({"supervisor", "admin"})
ADMINS = frozenset({"admin"})
P256DH = "BIPUL12DLfytvTajnryr2PRdAgXS3HGKiLqndGcJGabyhHheJYlNGCeXl1dn18gSJ1WAkAPIxr4gK0_dQds4yiI"
AUTH = "dGVzdC1hdXRoLXNlY3JldA"  # 16 bytes


@dataclass
class Side:
    """One agency's objects for the matrix: people with live sessions, a release, a draft..."""

    agency: Agency
    users: dict[str, User] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    person_id: int = 0  # an active officer an admin can edit
    inactive_id: int = 0  # a deactivated officer
    release_number: int = 1  # a release only this agency has
    card_id: str = ""  # a card of this agency's guidance (for the other agency: its own local card)
    card_hash: str = ""
    draft_id: int = 0
    invitation: str = ""  # an open set-password token
    endpoint: str = ""  # a push subscription endpoint of one of its officers
    base_update: str = ""  # a card with a pending NASRO base update
    question_id: int = 0  # a question of its draft's understanding check


@dataclass(frozen=True)
class Access:
    """Who may use a route and how to call it."""

    roles: frozenset[str] | None  # None: public (no sign-in)
    ids: Callable[[Side], dict] | None = None  # path parameters from one agency's objects
    body: Callable[[Side], dict] | None = None  # form fields (or JSON) besides the CSRF token
    json: bool = False
    query: dict | None = None
    own: tuple[int, ...] = (200,)  # statuses expected for an allowed role on its own agency
    # Whether the path ids name an agency's objects (then another agency's must be "not found").
    isolated: bool = True
    # Whether the body (not only the path) names another agency's object, e.g. an endpoint.
    body_isolated: bool = False
    note: str = ""


def _draft(s: Side) -> dict:
    return {"draft_id": s.draft_id}


def _draft_card(s: Side) -> dict:
    return {"draft_id": s.draft_id, "card_id": s.card_id}


def _draft_question(s: Side) -> dict:
    return {"draft_id": s.draft_id, "question_id": s.question_id}


def _question_fields(s: Side) -> dict:
    # The world's draft changes no card, so a question about one is refused (400, form re-shown).
    return {"card_id": s.card_id, "text": "Matrix question?", "choice_0": "Yes", "choice_1": "No", "answer": "0",
            "explanation": "Matrix.", "passage": "matrix"}


def _card_fields(s: Side) -> dict:
    return {"op": "preview", "title": "Preview title", "summary": "Preview.", "body": "## Do\n- x\n"}


def _draft_scenario(s: Side) -> dict:
    return {"draft_id": s.draft_id, "scenario_id": "vape-handed-over"}


def _scenario_fields(s: Side) -> dict:
    return {
        "id": "matrix-scenario", "title": "Matrix scenario", "situation": "A student asks for help.",
        "supported": "0",
        "c0_label": "Listen", "c0_text": "Listen.", "c0_flow": "out-talk", "c0_passages": ["proactive", "local"],
        "c1_label": "Walk away", "c1_text": "Build the relationship.", "c1_flow": "out-talk", "c1_passages": "mou-roles",
    }


def _ack(s: Side, form: bool = False) -> dict:
    body = {"release": s.release_number, "uuid": str(uuid.uuid4())}
    if form:
        return {**body, "attest": "yes", "card_hashes": s.card_hash}
    return {**body, "card_hashes": [s.card_hash]}


# (method, path) -> Access. "MOUNT" declares a mounted app (static files).
ROUTES: dict[tuple[str, str], Access] = {
    # Guidance: every role, only the signed-in user's agency.
    ("GET", "/"): Access(ALL),
    ("GET", "/cards/{card_id}"): Access(ALL, ids=lambda s: {"card_id": s.card_id}),
    ("GET", "/search"): Access(ALL, query={"q": "zebra"}),
    ("GET", "/flow"): Access(ALL),
    ("GET", "/flow/{node}"): Access(ALL, ids=lambda s: {"node": "what"}, isolated=False, note="flow steps are not agency objects"),
    ("GET", "/offline"): Access(None),
    ("GET", "/practice"): Access(ALL),
    ("GET", "/practice/{scenario_id}"): Access(
        ALL, ids=lambda s: {"scenario_id": "vape-handed-over"}, isolated=False,
        note="every agency's release holds the NASRO base scenarios; a page reads only the user's own release",
    ),
    ("GET", "/shell"): Access(ALL),
    ("GET", "/changes"): Access(ALL),
    ("GET", "/releases/{number:num}/changes"): Access(ALL, ids=lambda s: {"number": s.release_number}),
    ("GET", "/alerts"): Access(ALL),
    # An officer's email choice: their own account only (nothing to name, nothing of another agency).
    ("POST", "/alerts/email"): Access(ALL, body=lambda s: {"optional": "no"}, own=(303,)),
    # Acknowledging a release: anyone signed in (the body names the release: ours only).
    ("POST", "/acks"): Access(ALL, body=lambda s: _ack(s, form=True), own=(303,), body_isolated=True),
    # The check without JavaScript; the world's release has no questions: 409, nothing recorded.
    ("POST", "/releases/{number:num}/check"): Access(
        ALL, ids=lambda s: {"number": s.release_number}, body=lambda s: {"q0": "0", "check_uuid": str(uuid.uuid4())}, own=(409,)
    ),
    ("POST", "/api/v1/acks"): Access(ALL, json=True, body=_ack, own=(200, 201), body_isolated=True),
    ("GET", "/api/v1/acks"): Access(ALL),
    # Answers to a release's understanding check (the body names the release: ours only). The world's
    # release has no questions, so ours is refused 409 with nothing recorded (tests/test_answers.py records).
    ("POST", "/api/v1/answers"): Access(
        ALL, json=True, own=(409,), body_isolated=True,
        body=lambda s: {"release": s.release_number, "uuid": str(uuid.uuid4()), "answers": [{"question": "0" * 64, "tries": [0]}]},
    ),
    # Supervisor pages: supervisors and admins.
    ("GET", "/supervisor"): Access(SUPERVISORS),
    ("GET", "/supervisor/releases/{number:num}"): Access(SUPERVISORS, ids=lambda s: {"number": s.release_number}),
    ("GET", "/supervisor/releases/{number:num}/answers.csv"): Access(SUPERVISORS, ids=lambda s: {"number": s.release_number}),
    ("GET", "/supervisor/releases/{number:num}/acks.csv"): Access(
        SUPERVISORS, ids=lambda s: {"number": s.release_number}
    ),
    ("GET", "/supervisor/releases/{number:num}/evidence.zip"): Access(
        SUPERVISORS, ids=lambda s: {"number": s.release_number}
    ),
    ("GET", "/supervisor/officers/{user_id:num}"): Access(SUPERVISORS, ids=lambda s: {"user_id": s.person_id}),
    ("GET", "/supervisor/ledger/checkpoint.json"): Access(SUPERVISORS),
    # The ledger's public key: anyone may check a signature.
    ("GET", "/ledger/public-key.pem"): Access(None),
    # Signing in and out; invitations are bearer links (the token is the credential).
    ("GET", "/sign-in"): Access(None, own=(200, 303)),
    ("POST", "/sign-in"): Access(None, own=(400,), note="pre-session CSRF cookie; without it 400"),
    ("POST", "/sign-out"): Access(ALL, own=(303,)),
    ("GET", "/invite/{token}"): Access(None, ids=lambda s: {"token": s.invitation}),
    ("POST", "/invite/{token}"): Access(None, ids=lambda s: {"token": s.invitation}, own=(400,)),
    # People and the audit log: admins.
    ("GET", "/admin/users"): Access(ADMINS),
    ("POST", "/admin/users"): Access(
        ADMINS, body=lambda s: {"email": "matrix-new@demo.test", "name": "Matrix New", "role": "officer"}
    ),
    ("GET", "/admin/users/{user_id:num}"): Access(ADMINS, ids=lambda s: {"user_id": s.person_id}),
    ("POST", "/admin/users/{user_id:num}"): Access(
        ADMINS, ids=lambda s: {"user_id": s.person_id},
        body=lambda s: {"name": "Renamed", "role": "officer", "school": "X"}, own=(303,),
    ),
    ("POST", "/admin/users/{user_id:num}/deactivate"): Access(ADMINS, ids=lambda s: {"user_id": s.person_id}, own=(303,)),
    ("POST", "/admin/users/{user_id:num}/reactivate"): Access(ADMINS, ids=lambda s: {"user_id": s.inactive_id}, own=(303,)),
    ("POST", "/admin/users/{user_id:num}/link"): Access(ADMINS, ids=lambda s: {"user_id": s.person_id}),
    # Roster import: the template lists the admin's own agency; a form without a file, or a
    # damaged carried file, is re-shown with its message (400).
    ("GET", "/admin/users/roster-template.csv"): Access(ADMINS),
    ("POST", "/admin/users/roster"): Access(ADMINS, own=(400,), note="multipart upload; without a file 400"),
    ("POST", "/admin/users/roster/apply"): Access(
        ADMINS, body=lambda s: {"roster": "x", "plan": "x"}, own=(400,), note="a damaged carried file is 400"
    ),
    ("GET", "/admin/audit"): Access(ADMINS),
    ("GET", "/admin/attestation"): Access(ADMINS),
    ("POST", "/admin/attestation"): Access(
        ADMINS, body=lambda s: {"attestation": "I have read release {release} and will follow it."}, own=(303,)
    ),
    # Guidance revisions: admins.
    ("GET", "/admin"): Access(ADMINS),
    ("GET", "/admin/releases"): Access(ADMINS),
    ("POST", "/admin/drafts"): Access(ADMINS, own=(303,)),
    ("GET", "/admin/drafts/{draft_id:num}"): Access(ADMINS, ids=_draft),
    ("POST", "/admin/drafts/{draft_id:num}/details"): Access(
        ADMINS, ids=_draft, body=lambda s: {"summary": "Matrix summary", "due_at": ""}, own=(303,)
    ),
    ("GET", "/admin/drafts/{draft_id:num}/new-card"): Access(ADMINS, ids=_draft),
    ("POST", "/admin/drafts/{draft_id:num}/new-card"): Access(ADMINS, ids=_draft, body=_card_fields),
    ("GET", "/admin/drafts/{draft_id:num}/scenarios"): Access(ADMINS, ids=_draft),
    ("POST", "/admin/drafts/{draft_id:num}/scenarios"): Access(ADMINS, ids=_draft, body=_scenario_fields, own=(303,)),
    ("GET", "/admin/drafts/{draft_id:num}/scenarios/{scenario_id}"): Access(ADMINS, ids=_draft_scenario),
    ("POST", "/admin/drafts/{draft_id:num}/scenarios/{scenario_id}"): Access(
        ADMINS, ids=_draft_scenario, body=_scenario_fields, own=(303,)
    ),
    ("POST", "/admin/drafts/{draft_id:num}/scenarios/{scenario_id}/remove"): Access(
        ADMINS, ids=_draft_scenario, own=(303,)
    ),
    ("GET", "/admin/drafts/{draft_id:num}/questions/new"): Access(ADMINS, ids=_draft),
    ("POST", "/admin/drafts/{draft_id:num}/questions/new"): Access(
        ADMINS, ids=_draft, body=_question_fields, own=(400,), note="the world's draft changes no card: refused, form re-shown"
    ),
    ("GET", "/admin/drafts/{draft_id:num}/questions/{question_id:num}"): Access(ADMINS, ids=_draft_question),
    ("POST", "/admin/drafts/{draft_id:num}/questions/{question_id:num}"): Access(
        ADMINS, ids=_draft_question, body=_question_fields, own=(400,), note="about a card the draft does not change"
    ),
    ("POST", "/admin/drafts/{draft_id:num}/questions/{question_id:num}/remove"): Access(
        ADMINS, ids=_draft_question, own=(303,)
    ),
    ("POST", "/admin/drafts/{draft_id:num}/questions/{question_id:num}/move"): Access(
        ADMINS, ids=_draft_question, body=lambda s: {"direction": "down"}, own=(303,)
    ),
    ("POST", "/admin/drafts/{draft_id:num}/{step:str}"): Access(
        ADMINS, ids=lambda s: {"draft_id": s.draft_id, "step": "withdraw"}, own=(303,)
    ),
    ("GET", "/admin/drafts/{draft_id:num}/cards/{card_id}"): Access(ADMINS, ids=_draft_card),
    ("POST", "/admin/drafts/{draft_id:num}/cards/{card_id}"): Access(ADMINS, ids=_draft_card, body=_card_fields),
    ("POST", "/admin/drafts/{draft_id:num}/cards/{card_id}/{action:str}"): Access(
        ADMINS, ids=lambda s: {**_draft_card(s), "action": "move"}, body=lambda s: {"direction": "down"}, own=(303,)
    ),
    ("POST", "/admin/preview"): Access(ADMINS, body=_card_fields),
    ("POST", "/admin/base-updates"): Access(ADMINS, own=(303,)),
    ("GET", "/admin/base-updates/{card_id}"): Access(ADMINS, ids=lambda s: {"card_id": s.base_update}),
    ("POST", "/admin/base-updates/{card_id}"): Access(
        ADMINS, ids=lambda s: {"card_id": s.base_update}, body=lambda s: {"choice": "ours"}, own=(303,)
    ),
    # Read API: every role, own agency only.
    ("GET", "/api/v1/manifest"): Access(ALL),
    ("GET", "/api/v1/bundle"): Access(ALL),
    ("GET", "/api/v1/cards/{hash}"): Access(ALL, ids=lambda s: {"hash": s.card_hash}),
    ("GET", "/api/v1/search"): Access(ALL, query={"q": "zebra"}),
    # have=2: a release number only the other agency has.
    ("GET", "/api/v1/sync"): Access(ALL, query={"have": "2"}),
    ("GET", "/api/v1/openapi.json"): Access(None),
    # Health checks for load balancers and monitoring.
    ("GET", "/healthz"): Access(None),
    ("GET", "/readyz"): Access(None),
    # Push.
    ("GET", "/api/v1/push/key"): Access(ALL),
    ("POST", "/api/v1/push/subscriptions"): Access(
        ALL, json=True, body=lambda s: {"endpoint": s.endpoint, "keys": {"p256dh": P256DH, "auth": AUTH}},
        own=(200, 201), body_isolated=True,
    ),
    ("POST", "/api/v1/push/receipts"): Access(
        ALL, json=True, own=(200, 201), body_isolated=True,
        body=lambda s: {"release": s.release_number, "uuid": str(uuid.uuid4()), "device_id": "matrix-device-1"},
    ),
    ("DELETE", "/api/v1/push/subscriptions"): Access(
        ALL, json=True, body=lambda s: {"endpoint": s.endpoint}, own=(204, 404), body_isolated=True,
        note="own: 404 for a role that has no subscription with that endpoint",
    ),
    ("POST", "/supervisor/releases/{number:num}/remind"): Access(
        SUPERVISORS, ids=lambda s: {"number": s.release_number}, own=(303,)
    ),
    # Files anyone may fetch.
    ("GET", "/manifest.webmanifest"): Access(None),
    ("GET", "/sw.js"): Access(None),
    ("GET", "/sw/assets.json"): Access(None),
    ("GET", "/sw/{name:str}"): Access(None, ids=lambda s: {"name": "none.js"}, own=(200, 404)),
    ("MOUNT", "/static"): Access(None),
}


def leaks(text: str, echoed: dict | None = None) -> bool:
    """Whether a response shows anything of the other agency (its marker, in any case).

    echoed: the ids the request itself named, which a "not found" message may repeat.
    """
    text = text.lower()
    for value in (echoed or {}).values():
        text = text.replace(str(value).lower(), "")
    return SECRET.lower() in text


PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def app_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the app (HEAD goes with GET)."""
    keys = []
    for route in app.routes:
        methods = getattr(route, "methods", None)
        if methods is None:
            keys.append(("MOUNT", route.path))
        else:
            keys += [(m, route.path) for m in sorted(methods - {"HEAD"})]
    return keys


def fill(path: str, params: dict) -> str:
    """A route path with its parameters filled in."""
    return PARAM.sub(lambda m: str(params[m.group(1)]), path)


def is_api(path: str) -> bool:
    return path.startswith("/api/")


async def _people(side: Side, domain: str, prefix: str) -> None:
    for role in ROLES:
        user = await User.get_or_none(email=f"{role}@{domain}")
        if user is None:
            user = await bootstrap.create_user(side.agency, f"{role}@{domain}", f"{prefix} {role}", Role(role), None)
        side.users[role] = user
        token, session = await start_session(user, 30)
        side.cookies[role] = token
        side.csrf[role] = session.csrf_token
    person = await bootstrap.create_user(side.agency, f"person@{domain}", f"{prefix} person", Role.OFFICER, None, "Matrix School")
    inactive = await bootstrap.create_user(side.agency, f"inactive@{domain}", f"{prefix} inactive", Role.OFFICER, None)
    inactive.active = False
    await inactive.save()
    side.person_id, side.inactive_id = person.id, inactive.id
    pending = await bootstrap.create_user(side.agency, f"pending@{domain}", f"{prefix} pending", Role.OFFICER, None)
    side.invitation = await accounts.new_link(side.users["admin"], pending, 7)


async def _secret_release(agency: Agency) -> str:
    """Release 2 of an agency with a local card no other agency has; returns its id."""
    view = await load_release(await Release.filter(agency=agency).order_by("-number").first())
    secret = {
        "like": view.cards[0]["id"],
        "id": "othersecret-zebra",
        "title": f"{SECRET} zebra crossing duty",
        "summary": f"{SECRET} only the other agency has this card.",
        "tags": ["zebra"],
        "related": [],
        "local_policy": [],
    }
    await publish_revision(agency=agency, add=(secret,), summary=f"{SECRET} release")
    return secret["id"]


async def _base_update(card_id: str) -> None:
    """NASRO changes a base card: every agency gets a pending update for it."""
    base = await BaseCard.get(card_id=card_id).prefetch_related("version")
    data = dict(canonical_card(base.version.data))
    data["summary"] = data["summary"] + " Updated."
    version = await store_card(data)
    base.version_id = version.hash
    await base.save()


async def build_world(settings) -> tuple[Side, Side]:
    """Our agency (the demo) and another with its own people, guidance, draft, links and devices."""
    own = Side(agency=await Agency.get(slug="demo"))
    other = Side(agency=await bootstrap.create_agency(settings, "other", f"{SECRET} Police"))
    await _people(own, "demo.test", "Matrix")
    await _people(other, "other.test", SECRET)

    other.card_id = await _secret_release(other.agency)
    other.release_number = 2
    own.card_id = "restraint-devices"
    for side in (own, other):
        release = await Release.filter(agency=side.agency).order_by("-number").first()
        row = await ReleaseCard.get(release=release, card_id=side.card_id)
        side.card_hash = row.version_id
    await _base_update("de-escalation")
    own.base_update = "de-escalation"
    other.base_update = other.card_id
    for side in (own, other):
        side.draft_id = (await start_draft(side.agency, side.users["admin"])).id
        words = "Matrix" if side is own else SECRET
        side.question_id = (await DraftQuestion.create(
            draft_id=side.draft_id, position=0, card_id=side.card_id, text=f"{words} question?",
            choices=[f"{words} yes", f"{words} no"], answer=0, explanation=f"{words}.", passage=f"{words} words",
        )).id
        name = "own" if side is own else SECRET.lower()
        side.endpoint = f"https://fcm.googleapis.com/fcm/send/{name}-device"
        await PushSubscription.create(
            user=side.users["officer"], endpoint=side.endpoint, p256dh=P256DH, auth=AUTH
        )
    await audit.record(other.agency, other.users["admin"], "user.invite", f"{SECRET}@other.test")
    # An acknowledgment in the other agency, its attested words marked.
    other.agency.attestation = f"{SECRET} I have read release {{release}}."
    await other.agency.save()
    latest = await Release.get(agency=other.agency, number=other.release_number)
    await record_ack(other.users["officer"], await load_release(latest), str(uuid.uuid4()), [other.card_hash])
    return own, other


async def snapshot() -> dict:
    """Every row of every table, to prove a refused request changed nothing."""
    state = {}
    for name, model in Tortoise.apps["models"].items():
        rows = await model.all().values()
        state[name] = sorted(repr(sorted(r.items())) for r in rows)
    return state


SESSION_TOKEN = object()


async def request(client, key, access: Access, side, who=None, role=None, body_side=None, csrf=SESSION_TOKEN):
    """Call one route: ids from `side`, body from `body_side`, as `role` of agency `who` (None: signed out).

    csrf: the session's own token by default, or None (none sent), or a given string.
    """
    method, path = key
    if method == "MOUNT":
        method, path = "GET", "/static/app.css"
    url = fill(path, access.ids(side) if access.ids else {})
    headers = {}
    if who is not None:
        headers["cookie"] = f"{SESSION_COOKIE}={who.cookies[role]}"
    extra: dict = {}
    if method in ("POST", "DELETE"):
        token = (who.csrf[role] if who is not None else None) if csrf is SESSION_TOKEN else csrf
        body = access.body(body_side or side) if access.body else {}
        if access.json:
            if token:
                headers["x-csrf-token"] = token
            headers["content-type"] = "application/json"
            extra["content"] = json.dumps(body)
        else:
            extra["data"] = {**({"csrf_token": token} if token else {}), **body}
    return await client.request(method, url, headers=headers, params=access.query, **extra)
