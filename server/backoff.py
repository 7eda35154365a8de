"""Retry delays shared by the outboxes (push notices, emails): exponential in tries made, with jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

MAX_BACKOFF = 3600.0


def backoff(attempts: int, base: float, retry_after: float | None, rng=random.random) -> float:
    """Seconds before the next try: exponential in tries made, with jitter, never under Retry-After."""
    ceiling = min(MAX_BACKOFF, base * 2 ** max(0, attempts - 1))
    # Jitter spreads the retries of a whole fan-out that failed at once.
    delay = ceiling * (0.5 + 0.5 * rng())
    if retry_after is not None:
        delay = max(delay, min(retry_after, 86400.0))
    return delay


def retry_time(attempts: int, base_seconds: float, retry_after: float | None) -> datetime:
    """When a message that failed after `attempts` tries is due again."""
    return datetime.now(timezone.utc) + timedelta(seconds=backoff(attempts, base_seconds, retry_after))
