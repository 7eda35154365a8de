"""One notice as it goes on the wire: the `webpush` package's encryption and VAPID header, and
what that package leaves to the sender.

`webpush` (1.0.6) encrypts a message for a subscription (RFC 8291, aes128gcm) and signs the
VAPID header (RFC 8292), and sends nothing. What it does not do is done here, in one place:

- **One VAPID header per push-service origin.** Its `get()` signs a new JWT for every message;
  here `VAPID.get_authorization_header` is called once per origin and the header reused until
  RESIGN_BEFORE its expiry (TOKEN_LIFETIME ahead; push services refuse more than 24 hours).
- **A port in the audience.** The package writes `aud` as `scheme://host`: right for every real
  push service, all on the default port. An endpoint with an explicit port (only a loopback host
  listed in FIELDGUIDE_PUSH_EXTRA_HOSTS, e.g. the tests' push-service stand-in) gets its port in
  `aud`, which is the origin RFC 8292 asks for.
- **TTL, Urgency and Topic headers.** The package has no Urgency or Topic and defaults TTL to 0
  (a notice dropped for any phone not online that moment): each notice carries its own, always
  at least 1 second.
- **The subject.** The package always writes `sub` as `mailto:` + an address, so
  FIELDGUIDE_VAPID_SUBJECT is a mailto: address (server/push/vapid.py checks it).

Headers are built once per (origin, TTL, urgency, topic), as a dict and as the bytes of the
request's header block (server/push/connections.py writes those), and the same objects are handed
to every request with those values: callers must not change them.
"""

from __future__ import annotations

import time
from typing import NamedTuple
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from webpush import WebPush

from server.push.vapid import VapidSigner

# A signed header stays valid for TOKEN_LIFETIME; push services refuse an exp over 24 h ahead.
TOKEN_LIFETIME = 12 * 3600
# Re-sign well before expiry so a request in flight never carries a token about to lapse.
RESIGN_BEFORE = 3600


class _Keys(NamedTuple):
    p256dh: str
    auth: str


class _Subscription(NamedTuple):
    """The part of a `WebPushSubscription` the package's encryption reads (its `keys`)."""

    keys: _Keys


class Origin(NamedTuple):
    """What `VAPID.get_authorization_header` reads of an endpoint to write `aud`: scheme and host."""

    scheme: str
    host: str  # with ":port" when the endpoint names one


def origin_of(endpoint: str) -> Origin:
    """The push service's origin: the JWT's audience (`scheme://host[:port]`)."""
    parts = urlsplit(endpoint)
    return Origin(parts.scheme, parts.netloc)


class Wire:
    """Encrypts notices and gives the headers to send them with, for one VAPID identity."""

    def __init__(self, signer: VapidSigner):
        private = signer.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = signer.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.address = signer.subject.removeprefix("mailto:")
        self._push = WebPush(private_key=private, public_key=public, subscriber=self.address, expiration=TOKEN_LIFETIME)
        self._authorization: dict[Origin, tuple[float, str]] = {}
        self._headers: dict[tuple, tuple[float, dict[str, str], bytes]] = {}

    def authorization(self, origin: Origin, moment: float | None = None) -> tuple[float, str]:
        """(expiry, `vapid t=…, k=…`) for pushes to this origin, signed once per origin and lifetime."""
        moment = time.time() if moment is None else moment
        cached = self._authorization.get(origin)
        if cached is None or cached[0] - RESIGN_BEFORE <= moment:
            expires = int(moment) + TOKEN_LIFETIME
            header = self._push.vapid.get_authorization_header(origin, self.address, TOKEN_LIFETIME)
            cached = self._authorization[origin] = (expires, header)
        return cached

    def headers(self, endpoint: str, ttl: int, urgency: str, topic: str) -> dict[str, str]:
        """The request headers for a notice to this endpoint (shared: do not change the dict)."""
        return self._cached(endpoint, ttl, urgency, topic)[1]

    def head(self, endpoint: str, ttl: int, urgency: str, topic: str) -> bytes:
        """The same headers as the lines of an HTTP/1.1 request (`Name: value` CRLF each)."""
        return self._cached(endpoint, ttl, urgency, topic)[2]

    def _cached(self, endpoint: str, ttl: int, urgency: str, topic: str) -> tuple[float, dict[str, str], bytes]:
        origin = origin_of(endpoint)
        key = (origin, ttl, urgency, topic)
        moment = time.time()
        cached = self._headers.get(key)
        if cached is None or cached[0] - RESIGN_BEFORE <= moment:
            expires, authorization = self.authorization(origin, moment)
            headers = {
                "Authorization": authorization,
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                # Always explicit: the package's default of 0 drops a notice for any phone not online.
                "TTL": str(max(1, int(ttl))),
                "Urgency": urgency,
                "Topic": topic,
            }
            block = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")
            cached = self._headers[key] = (expires, headers, block)
        return cached

    def encrypt(self, data: bytes, p256dh: str, auth: str) -> bytes:
        """The body for one subscription: `data` encrypted by the package (RFC 8291, aes128gcm).

        The keys go in as a plain tuple, not a validated model: they were checked when the
        subscription was stored, and keys that still do not make a P-256 point raise ValueError.
        """
        return self._push._encrypt(data, _Subscription(_Keys(p256dh, auth)))
