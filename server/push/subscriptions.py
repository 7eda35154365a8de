"""Checking and storing the push subscriptions that officers' browsers hand us."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from tortoise.exceptions import IntegrityError

from server.errors import Conflict, Invalid
from server.models import PushOutbox, PushSubscription, User
from server.push.endpoints import MAX_ENDPOINT, parse_endpoint
from server.push.status import device_label
from server.push.vapid import b64url_decode
from server.settings import Settings


class BadSubscription(Invalid):
    """A subscription the server will not store; .field names the part at fault."""

    def __init__(self, message: str, field: str):
        super().__init__(message, {field: "invalid"})
        self.field = field


class SubscriptionTaken(Conflict):
    """The endpoint is another user's subscription, and this request cannot show it is the same browser."""

    def __init__(self):
        super().__init__("This browser's alerts belong to another account. Turn alerts off there first.")


@dataclass(frozen=True)
class SubscriptionInfo:
    """A checked subscription: endpoint plus the browser's P-256 key and auth secret."""

    endpoint: str
    p256dh: str
    auth: str


def parse_subscription(body: object, settings: Settings) -> SubscriptionInfo:
    """Check a PushSubscription.toJSON() object; raises BadSubscription naming the bad field."""
    if not isinstance(body, dict):
        raise BadSubscription("Send the subscription as a JSON object.", "body")
    endpoint = parse_endpoint(body.get("endpoint"), settings)
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise BadSubscription("keys (p256dh and auth) are missing.", "keys")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    try:
        raw = b64url_decode(p256dh) if isinstance(p256dh, str) else b""
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        if len(raw) != 65:
            raise ValueError
    except ValueError:
        raise BadSubscription("keys.p256dh must be a P-256 public key in base64url.", "keys.p256dh") from None
    try:
        secret = b64url_decode(auth) if isinstance(auth, str) else b""
    except ValueError:
        secret = b""
    if len(secret) != 16:
        raise BadSubscription("keys.auth must be 16 bytes in base64url.", "keys.auth")
    return SubscriptionInfo(endpoint, p256dh.strip(), auth.strip())


@dataclass(frozen=True)
class Dropped:
    """A subscription dropped to keep its user within the cap: its endpoint and the device's label."""

    endpoint: str
    device: str


async def save_subscription(
    user: User, info: SubscriptionInfo, device_id: str | None, user_agent: str, limit: int
) -> tuple[PushSubscription, bool, list[Dropped]]:
    """Store a subscription for this user (taking it over if the browser was someone else's).

    Returns the row, True when it is new, and the user's subscriptions dropped to keep them
    within `limit` (FIELDGUIDE_MAX_DEVICES_PER_USER).
    """
    row, created = await _store(user, info, device_id, user_agent)
    return row, created, await drop_beyond_cap(user, limit)


async def _store(user: User, info: SubscriptionInfo, device_id: str | None, user_agent: str) -> tuple[PushSubscription, bool]:
    existing = await PushSubscription.get_or_none(endpoint=info.endpoint)
    if existing is None:
        try:
            row = await PushSubscription.create(
                user=user,
                endpoint=info.endpoint,
                p256dh=info.p256dh,
                auth=info.auth,
                device_id=device_id,
                user_agent=user_agent[:300],
            )
            return row, True
        except IntegrityError:
            # The same browser sent its subscription twice at once: the other request stored it.
            existing = await PushSubscription.get(endpoint=info.endpoint)
    if existing.user_id != user.id:
        owner = await User.get(id=existing.user_id)
        # Only the browser itself holds its keys: matching keys show this is the same browser,
        # now signed in as a colleague. Anything else would let one user redirect another's alerts.
        if owner.agency_id != user.agency_id or (existing.p256dh, existing.auth) != (info.p256dh, info.auth):
            raise SubscriptionTaken()
        # The same browser signed in as someone else: its notices must follow the new user only.
        await PushOutbox.filter(subscription_id=existing.id, status="pending").update(
            status="gone", subscription_id=None, last_error="subscription moved to another user"
        )
    existing.user_id = user.id
    existing.p256dh, existing.auth = info.p256dh, info.auth
    existing.device_id = device_id or existing.device_id
    existing.user_agent = user_agent[:300]
    await existing.save()
    return existing, False


async def _forget(ids: list[int], reason: str) -> None:
    """Delete subscriptions; their unsent notices are marked gone with the reason (history kept)."""
    await PushOutbox.filter(subscription_id__in=ids, status="pending").update(status="gone", last_error=reason)
    await PushSubscription.filter(id__in=ids).delete()


async def remove_subscription(user: User, endpoint: str) -> bool:
    """Forget one of this user's subscriptions; False when they had none with that endpoint."""
    if len(endpoint) > MAX_ENDPOINT:  # never stored, and PostgreSQL would refuse the comparison
        return False
    row = await PushSubscription.get_or_none(endpoint=endpoint, user_id=user.id)
    if row is None:
        return False
    await _forget([row.id], "unsubscribed")
    return True


async def drop_beyond_cap(user: User, limit: int) -> list[Dropped]:
    """Drop this user's least recently used subscriptions beyond `limit`; what was dropped.

    Used means delivered to, else made, so a new subscription is the last to go. Run after each
    save: under concurrent saves each one deletes, by id, what its own read shows beyond the cap,
    so the count may pass the cap for a moment, but the last save to finish reads every row
    written before it and settles it back within the cap.
    """
    rows = await PushSubscription.filter(user_id=user.id).values(
        "id", "endpoint", "user_agent", "created_at", "last_delivered_at"
    )
    if len(rows) <= limit:
        return []
    rows.sort(key=lambda r: (r["last_delivered_at"] or r["created_at"], r["id"]), reverse=True)
    victims = rows[max(1, limit) :]
    await _forget([r["id"] for r in victims], f"dropped: more than {limit} devices with alerts on")
    return [Dropped(r["endpoint"], device_label(r["user_agent"])) for r in victims]


def dropped_message(dropped: list[Dropped], limit: int) -> str:
    """What to tell the person whose least recently used devices stopped getting alerts."""
    which = "the device" if len(dropped) == 1 else f"the {len(dropped)} devices"
    names = ", ".join(d.device for d in dropped)
    return f"Alerts stay on for at most {limit} devices per person: turned off on {which} you used least recently ({names})."
