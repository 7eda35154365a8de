"""Sending one notice over a worker's kept-alive HTTP connections, and reading the answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from server.push.connections import Connections, ProtocolError, target_of
from server.push.vapid import VapidSigner
from server.push.wire import Wire

REASON_CHARS = 300


@dataclass
class Answer:
    """What a push service said: delivered, gone (404/410), retry (429/5xx/network) or failed."""

    outcome: str
    status: int | None
    reason: str
    retry_after: float | None = None


def parse_retry_after(value: str | None, moment: datetime | None = None) -> float | None:
    """Retry-After in seconds (delay-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    moment = moment or datetime.now(timezone.utc)
    return max(0.0, (when - moment).total_seconds())


def classify(status: int, reason: str, retry_after: str | None) -> Answer:
    """Map a push service's status to what the outbox does next."""
    if status in (200, 201, 202):
        return Answer("sent", status, "")
    if status in (404, 410):
        return Answer("gone", status, f"{status}: the push service no longer knows this subscription")
    if status == 429 or status >= 500:
        return Answer("retry", status, f"{status} {reason}".strip(), parse_retry_after(retry_after))
    if status == 413:
        return Answer("failed", status, "413: the push service refused the payload as too large")
    if status in (401, 403):
        return Answer("failed", status, f"{status}: the push service refused our VAPID key (see docs/push.md, rotating keys)")
    return Answer("failed", status, f"{status} {reason}".strip())


class Sender:
    """Encrypts (RFC 8291) and sends notices over a worker's kept-alive connections (connections.py).

    Connections to a push service are kept alive and reused (at most `concurrency` open), so a
    fan-out opens a handful of connections per push-service origin, not one per notice.
    """

    def __init__(self, signer: VapidSigner, concurrency: int, timeout: float):
        self.wire = Wire(signer)
        self.concurrency = concurrency
        self.timeout = timeout
        self.connections: Connections | None = None

    async def __aenter__(self) -> "Sender":
        self.connections = Connections(self.concurrency, connect_timeout=min(self.timeout, 10.0))
        return self

    async def __aexit__(self, *exc) -> None:
        if self.connections is not None:
            await self.connections.close()
            self.connections = None

    async def send(
        self, endpoint: str, p256dh: str, auth: str, data: bytes, *, ttl: int, urgency: str, topic: str
    ) -> Answer:
        """Send one encrypted notice and classify the answer (never raises for push-service trouble)."""
        # Keys that do not encrypt raise here: the worker counts that as a failed try, as any error.
        body = self.wire.encrypt(data, p256dh, auth)
        head = self.wire.head(endpoint, ttl, urgency, topic)
        try:
            response = await self.connections.post(target_of(endpoint), head, body, self.timeout)
        except TimeoutError:
            return Answer("retry", None, "timed out waiting for the push service")
        except (OSError, ProtocolError) as exc:
            return Answer("retry", None, f"could not reach the push service ({type(exc).__name__})")
        return classify(response.status, response.reason, response.retry_after)
