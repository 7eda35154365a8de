"""Checking and storing the push subscriptions that officers' browsers hand us."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from server.errors import Conflict, Invalid
from server.models import PushOutbox, PushSubscription, User
from server.push.vapid import b64url_decode
from server.settings import Settings

# The browsers' own push services (a host or any host under it). Anything else would let a
# signed-in user make the server POST to an address of their choosing.
KNOWN_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "push.services.mozilla.com",
    "push.apple.com",
    "notify.windows.com",
)
MAX_ENDPOINT = 1000


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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_allowed(endpoint: str, settings: Settings) -> bool:
    """Whether the server may send to this endpoint (https to a known push service, or a listed host)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return False
    extra = {h.strip().lower() for h in settings.push_extra_hosts.split(",") if h.strip()}
    if host in extra:
        return parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host))
    if parts.scheme != "https":
        return False
    return any(host == known or host.endswith("." + known) for known in KNOWN_PUSH_HOSTS)


def parse_subscription(body: object, settings: Settings) -> SubscriptionInfo:
    """Check a PushSubscription.toJSON() object; raises BadSubscription naming the bad field."""
    if not isinstance(body, dict):
        raise BadSubscription("Send the subscription as a JSON object.", "body")
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT:
        raise BadSubscription(f"endpoint must be a URL of at most {MAX_ENDPOINT} characters.", "endpoint")
    if not endpoint_allowed(endpoint, settings):
        raise BadSubscription("endpoint is not a push service this server sends to.", "endpoint")
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


async def save_subscription(
    user: User, info: SubscriptionInfo, device_id: str | None, user_agent: str
) -> tuple[PushSubscription, bool]:
    """Store a subscription for this user (taking it over if the browser was someone else's); True when new."""
    existing = await PushSubscription.get_or_none(endpoint=info.endpoint)
    if existing is None:
        row = await PushSubscription.create(
            user=user,
            endpoint=info.endpoint,
            p256dh=info.p256dh,
            auth=info.auth,
            device_id=device_id,
            user_agent=user_agent[:300],
        )
        return row, True
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


async def remove_subscription(user: User, endpoint: str) -> bool:
    """Forget one of this user's subscriptions; False when they had none with that endpoint."""
    row = await PushSubscription.get_or_none(endpoint=endpoint, user_id=user.id)
    if row is None:
        return False
    await PushOutbox.filter(subscription_id=row.id, status="pending").update(
        status="gone", last_error="unsubscribed"
    )
    await row.delete()
    return True
