"""The one check of a push endpoint: a URL the server will POST to, so it must name a push service.

A subscription's endpoint is chosen by the browser, and so by whoever sends the request: the
check is strict, and the same for storing a subscription and for sending to one stored earlier.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from server.errors import Invalid
from server.hosts import is_loopback
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
# Printable ASCII but the backslash: no spaces, CR/LF or other controls, no look-alike letters.
_CHARACTERS = re.compile(r"[!-\[\]-~]+")
_NETLOC = re.compile(r"(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@lru_cache(maxsize=8)
def _extra_hosts(setting: str) -> frozenset[str]:
    """FIELDGUIDE_PUSH_EXTRA_HOSTS as a set of lower-case hosts."""
    return frozenset(h.strip().lower().strip("[]") for h in setting.split(",") if h.strip())


class _Host:
    """What the rules say of one host, worked out once per host (a fan-out sends to a few)."""

    __slots__ = ("valid", "listed", "local", "known")

    def __init__(self, host: str, extra: str):
        self.valid = _valid_hostname(host)
        self.listed = host in _extra_hosts(extra)
        self.local = self.listed and is_loopback(host)
        self.known = any(host == known or host.endswith("." + known) for known in KNOWN_PUSH_HOSTS)


_host = lru_cache(maxsize=1024)(_Host)


def _valid_hostname(host: str) -> bool:
    if is_loopback(host):
        return True
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return False
    try:
        host.encode("ascii").decode("idna")  # an xn-- label must be real Punycode
    except UnicodeError:
        return False
    return True


def parse_endpoint(raw: object, settings: Settings, field: str = "endpoint") -> str:
    """A push endpoint the server may send to, returned as given; Invalid naming `field` otherwise.

    https on the default port to a known push service (or a FIELDGUIDE_PUSH_EXTRA_HOSTS host);
    plain http and another port only for a loopback host on that list. No user-info, fragment,
    spaces, backslashes or control characters anywhere, and at most MAX_ENDPOINT characters.
    """

    def refuse(why: str) -> Invalid:
        return Invalid(f"{field} {why}", {field: "invalid"})

    if not isinstance(raw, str) or not raw:
        raise refuse("must be the push service's URL, as text.")
    if len(raw) > MAX_ENDPOINT:
        raise refuse(f"must be a URL of at most {MAX_ENDPOINT} characters.")
    if not _CHARACTERS.fullmatch(raw):
        raise refuse("must not contain spaces, backslashes, control or non-ASCII characters.")
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise refuse("is not a URL.") from None
    netloc = _NETLOC.fullmatch(parts.netloc)
    if netloc is None:
        raise refuse("must name a host, with no user name or password.")
    if parts.fragment or "#" in raw:
        raise refuse("must not have a fragment (#).")
    rules = _host(netloc["host"].lower().strip("[]"), settings.push_extra_hosts)
    if not rules.valid:
        raise refuse("must name a valid host.")
    local = rules.local
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise refuse("must be an https URL.")
    port = netloc["port"]
    if port is not None and not (local and 1 <= int(port) <= 65535):
        raise refuse("must use the push service's default port.")
    if not rules.listed and not rules.known:
        raise refuse("is not a push service this server sends to.")
    return raw
