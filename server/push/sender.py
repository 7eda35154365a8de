"""Sending one notice with pywebpush over a shared aiohttp session, and reading the answer."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import aiohttp
from pywebpush import WebPushException, webpush_async

from server.push.vapid import VapidSigner

MAX_BACKOFF = 3600.0
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


def backoff(attempts: int, base: float, retry_after: float | None, rng=random.random) -> float:
    """Seconds before the next try: exponential in tries made, with jitter, never under Retry-After."""
    ceiling = min(MAX_BACKOFF, base * 2 ** max(0, attempts - 1))
    # Jitter spreads the retries of a whole fan-out that failed at once.
    delay = ceiling * (0.5 + 0.5 * rng())
    if retry_after is not None:
        delay = max(delay, min(retry_after, 86400.0))
    return delay


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
    """Encrypts (RFC 8291) and sends notices; one pooled HTTP session for a worker's life."""

    def __init__(self, signer: VapidSigner, concurrency: int, timeout: float):
        self.signer = signer
        self.concurrency = concurrency
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Sender":
        connector = aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(connector=connector, timeout=self.timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def send(
        self, endpoint: str, p256dh: str, auth: str, data: bytes, *, ttl: int, urgency: str, topic: str
    ) -> Answer:
        """Send one encrypted notice and classify the answer (never raises for push-service trouble)."""
        headers = self.signer.headers(endpoint)
        headers["Urgency"] = urgency
        headers["Topic"] = topic
        try:
            response = await webpush_async(
                {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
                data=data,
                headers=headers,
                # Always explicit: the library's default of 0 drops a notice for any phone not online.
                ttl=max(1, int(ttl)),
                timeout=self.timeout,
                aiohttp_session=self.session,
            )
        except WebPushException as exc:
            if exc.status_code is None:
                return Answer("failed", None, str(exc.message)[:REASON_CHARS])
            reason = getattr(exc.response, "reason", "") or ""
            return classify(exc.status_code, reason, exc.retry_after)
        except (asyncio.TimeoutError, TimeoutError):
            return Answer("retry", None, "timed out waiting for the push service")
        except aiohttp.ClientError as exc:
            return Answer("retry", None, f"could not reach the push service ({type(exc).__name__})")
        return classify(response.status, response.reason or "", response.headers.get("Retry-After"))


def retry_time(attempts: int, base_seconds: float, retry_after: float | None) -> datetime:
    """When a notice that failed after `attempts` tries is due again."""
    return datetime.now(timezone.utc) + timedelta(seconds=backoff(attempts, base_seconds, retry_after))
