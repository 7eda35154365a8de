"""The one clock: every module calls clock.now() through this module, so a test fakes time by
patching server.clock.now once."""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """The current UTC time (timezone-aware)."""
    return datetime.now(timezone.utc)
