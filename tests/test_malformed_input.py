"""A corpus of malformed input against every route of the app, as every role that may use it.

Each value of the corpus goes into every path parameter, every query parameter the pages read
and every form field, with the session's valid CSRF token; JSON routes also get malformed JSON
bodies and forms get the wrong content types. No answer may be a server error: each is a 2xx,
3xx or 4xx and carries the security headers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from server.web.middleware import SECURITY_HEADERS
from server.web.sessions import SESSION_COOKIE

from .helpers.route_matrix import PARAM, ROLES, ROUTES, fill

# Values as they travel in a URL or form (already percent-encoded where it matters).
VALUES = [
    "%C2%B2",  # ² : a Unicode digit str.isdigit() accepts
    "%D9%A3",  # ٣ : an Arabic-Indic digit
    "%EF%BC%91",  # １: a full-width digit
    "9" * 30,
    "9" * 5000,
    "-1",
    "0",
    "1.5",
    "1e3",
    "+1",
    "%20%201",
    "a" * 10_000,
    "%00",
    "a%00b",
    "%01%1B%7F",
    "%0D%0ASet-Cookie:%20x=1",
    "%FF%FE",  # invalid UTF-8
    "%C0%AF",  # overlong UTF-8
    "%ED%A0%80",  # a UTF-8-encoded surrogate
    "%E2%80%AE",  # right-to-left override
    "%",  # a broken percent-encoding
    "%ZZ",
    "",
    "..%2F..%2Fetc%2Fpasswd",
    "%3Cscript%3E",
    "null",
    "true",
    "NaN",
    "[]",
    "{}",
    "2099-13-45",
    "0001-01-01T00:00:00%2B14:00",
]
# Every query parameter a page or the API reads.
QUERY_NAMES = [
    "release", "to", "from", "page", "q", "have", "published", "saved", "done", "status", "school",
    "reminded", "unreachable", "pushed", "emailed", "category", "action", "next",
]
# Malformed JSON bodies (bytes as sent).
JSON_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"\xff\xfe{}",
    b"{",
    b"[" * 100_000,
    b'{"a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
    b'{"release": ' + b"9" * 5_000 + b"}",
    b'{"release": NaN, "uuid": Infinity}',
    b'{"release": 1e999}',
    b'{"endpoint": "a\\u0000b", "uuid": "\\ud800"}',
    b'{"release": "\xc2\xb2", "device_time": "0001-01-01T00:00:00+14:00", "endpoint": ["x"], "keys": 7}',
    b'{"release": [1], "uuid": {"a": 1}, "card_hashes": "x", "device_id": 12345678, "endpoint": null}',
]
WRONG_TYPES = [
    ("application/json", b'{"csrf_token": "TOKEN"}'),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--"),
    ("multipart/form-data", b"garbage"),
    ("text/plain", b"csrf_token=TOKEN"),
    ("application/x-www-form-urlencoded; charset=latin-1", b"csrf_token=TOKEN&name=%FF"),
    ("application/x-www-form-urlencoded", b"\xff\xfe=\xff"),
]
WANTED = {name.decode() for name, _ in SECURITY_HEADERS}
# The values sent in each query parameter alone (every value goes in all of them at once).
SINGLE = ["%C2%B2", "9" * 5000, "-1", "a" * 10_000, "%FF%FE"]


@dataclass(frozen=True)
class Target:
    """One malformed request, and what it tries (for the failure report)."""

    method: str
    url: str
    role: str | None
    where: str  # e.g. "path user_id", "query page", "form name", "json body"
    body: bytes | None = None
    kind: str | None = None


def _roles(access) -> list[str | None]:
    # Public routes: signed out and as an officer; the rest: every role allowed.
    return [None, "officer"] if access.roles is None else [r for r in ROLES if r in access.roles]


def _form(fields: dict, name: str, value: str) -> bytes:
    others = "".join(f"&{k}={quote(str(v))}" for k, v in fields.items() if k != name)
    return f"csrf_token=TOKEN{others}&{name}={value}".encode()


def _route_targets(method: str, path: str, access, side, role) -> list[Target]:
    ids = access.ids(side) if access.ids else {}
    url = fill(path, ids)
    targets = []
    for name in PARAM.findall(path):
        for value in VALUES:
            bad = fill(path, {**{k: quote(str(v), safe="") for k, v in ids.items()}, name: value or "x"})
            targets.append(Target(method, bad, role, f"path {name}"))
    if method == "GET":
        for value in VALUES:
            names = QUERY_NAMES if len(value) < 3000 else QUERY_NAMES[:4]  # a URL is at most 64 KiB
            query = "&".join(f"{n}={value}" for n in names)
            targets.append(Target(method, f"{url}?{query}", role, "query all"))
        query = "&".join(f"{n}=1&{n}=%C2%B2&{n}[]=2" for n in QUERY_NAMES)
        targets.append(Target(method, f"{url}?{query}", role, "query duplicated"))
    elif access.json:
        good = json.dumps(access.body(side) if access.body else {}).encode()
        targets += [Target(method, url, role, "json body", body, "application/json") for body in JSON_BODIES]
        targets += [Target(method, url, role, f"type {kind}", good, kind) for kind, _ in WRONG_TYPES]
    else:
        form = "application/x-www-form-urlencoded"
        fields = dict(access.body(side)) if access.body else {}
        for name in list(fields) or ["name"]:
            targets += [Target(method, url, role, f"form {name}", _form(fields, name, value), form) for value in VALUES]
            duplicated = f"csrf_token=TOKEN&{name}=1&{name}=2&{name}[]=3&{name}[a]=4".encode()
            targets.append(Target(method, url, role, f"form {name} duplicated", duplicated, form))
        targets.append(Target(method, url, role, "form missing fields", b"csrf_token=TOKEN", form))
        targets += [Target(method, url, role, f"type {kind}", body, kind) for kind, body in WRONG_TYPES]
    return targets


def _targets(side) -> list[Target]:
    """Every malformed request: each route as each role that may use it, then each query parameter alone."""
    targets = []
    # POST /sign-out ends the session every later request uses: it goes last.
    routes = sorted((key for key in ROUTES if key[0] != "MOUNT"), key=lambda key: key[1] == "/sign-out")
    for method, path in routes:
        for role in _roles(ROUTES[(method, path)]):
            targets += _route_targets(method, path, ROUTES[(method, path)], side, role)
    for method, path in routes:
        access = ROUTES[(method, path)]
        if method == "GET":
            url, role = fill(path, access.ids(side) if access.ids else {}), _roles(access)[-1]
            targets += [Target(method, f"{url}?{n}={v}", role, f"query {n}") for n in QUERY_NAMES for v in SINGLE]
    return targets


async def test_no_input_makes_a_server_error(world):
    app, _, own, _ = world
    targets = _targets(own)
    failures: dict[str, str] = {}  # one example per route, place and status
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for t in targets:
            headers, body = {}, t.body
            if t.role is not None:
                headers["cookie"] = f"{SESSION_COOKIE}={own.cookies[t.role]}"
                headers["x-csrf-token"] = own.csrf[t.role]
                body = body.replace(b"TOKEN", own.csrf[t.role].encode()) if body else body
            if t.kind:
                headers["content-type"] = t.kind
            response = await client.request(t.method, t.url, content=body, headers=headers)
            missing = WANTED - set(response.headers)
            if not 200 <= response.status_code < 500 or missing:
                key = f"{t.method} {t.url.split('?')[0][:60]} {t.where}: {response.status_code} {sorted(missing)}"
                failures.setdefault(key, f"{t.role} {t.url[:150]} {(body or b'')[:150]!r}")
    print(f"malformed input: {len(targets)} requests ({len(VALUES)} values, {len(JSON_BODIES)} JSON bodies)")
    assert not failures, f"{len(failures)} kinds in {len(targets)} requests:\n" + "\n".join(
        f"{key}\n    {example}" for key, example in failures.items()
    )
