"""The one clock: every module calls clock.now() through this module, so a test fakes time by
patching server.clock.now once."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """The current UTC time (timezone-aware)."""
    return datetime.now(timezone.utc)


def stored_time(value: datetime | str) -> datetime:
    """A time read back from the database as UTC (SQLite's raw queries give ISO text, and may drop the zone)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
