"""One parser per kind of value a request sends: release numbers, page numbers, ids, device ids, times.

They know nothing of HTTP (a bad value raises server.errors.Invalid, which the web edge turns
into a 400), so the views and the domain (sync, the ledger) use the very same rules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from server.errors import Invalid

MAX_RELEASE = 10**9 - 1
MAX_PAGE = 10**6 - 1
# A device's id, made on the device (crypto.randomUUID() in pwa/static/db.js: 36 characters).
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
DEVICE_ID_PATTERN = "^[A-Za-z0-9_-]{8,64}$"  # the same rule for OpenAPI and the browser
# An idempotency key made on the device (crypto.randomUUID()), any case; kept lower-case.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A device's clock is believed between these times (UTC); outside them it is surely wrong.
EARLIEST_DEVICE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_DEVICE_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def whole_number(raw) -> int | None:
    """A text of ASCII digits as an int, else None (str.isdigit also accepts '²' or '٣')."""
    if isinstance(raw, str) and 0 < len(raw) <= 18 and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def _echo(raw) -> str:
    return raw[:80] if isinstance(raw, str) else "invalid"


def parse_release_number(raw, field: str = "release") -> int:
    """A release number (1 to MAX_RELEASE) from text, or an int of a JSON body; Invalid otherwise."""
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else whole_number(raw)
    if number is None or not 1 <= number <= MAX_RELEASE:
        raise Invalid(f"{field} must be a release number.", {field: _echo(raw)})
    return number


def parse_page_number(raw: str) -> int:
    """A list's page number (1 to MAX_PAGE); Invalid otherwise."""
    number = whole_number(raw)
    if number is None or not 1 <= number <= MAX_PAGE:
        raise Invalid("page must be a positive whole number.", {"page": _echo(raw)})
    return number


def parse_uuid(raw, field: str = "uuid") -> str:
    """A client-made UUID in lower case; Invalid otherwise (a trailing newline included)."""
    if not isinstance(raw, str) or not UUID.fullmatch(raw.lower()):
        raise Invalid(f"{field} must be a UUID made by the device.", {field: "invalid"})
    return raw.lower()


def parse_device_id(raw, field: str = "device_id") -> str | None:
    """A device id (8 to 64 letters, digits, - or _), None when not sent (None); Invalid otherwise."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not DEVICE_ID.fullmatch(raw):
        raise Invalid(f"The device id ({field}) is 8 to 64 letters, digits, '-' or '_'.", {field: "invalid"})
    return raw


def parse_device_time(raw, field: str = "device_time") -> datetime | None:
    """An ISO 8601 time with a time zone (as toISOString gives) from 2000 to 2099, in UTC; None when not sent."""
    if raw is None or raw == "":
        return None
    wrong = Invalid(f"{field} must be an ISO 8601 time with a time zone.", {field: "invalid"})
    if not isinstance(raw, str) or len(raw) > 40 or not raw.isascii():
        raise wrong
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise wrong from None
    if moment.tzinfo is None:
        raise Invalid(f"{field} needs a time zone (e.g. 2025-01-31T14:05:00Z).", {field: "no time zone"})
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight by its offset
        moment = None
    if moment is None or not EARLIEST_DEVICE_TIME <= moment < LATEST_DEVICE_TIME:
        raise Invalid(f"{field} must be between the years 2000 and 2099.", {field: "out of range"})
    return moment
