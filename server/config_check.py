"""`fieldguide check-config`: settings and database problems found before they bite, one line each."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from tortoise import connections

from server import db
from server.guidance.content import load_content
from server.hosts import is_loopback
from server.ledger_signing import SigningKeyError, parse_private_key
from server.mail.config import MailConfigError, check_from, mail_enabled, parse_smtp_url
from server.push.vapid import VapidError, _parse_key, check_subject
from server.settings import Settings

ERROR, WARNING = "error", "warning"
PLACEHOLDER_SUBJECT = Settings.__dataclass_fields__["vapid_subject"].default
CONNECT_TIMEOUT = 10.0
# Connections left free for `fieldguide migrate`, psql, backups and monitoring.
HEADROOM = 10


@dataclass(frozen=True)
class Layout:
    """The processes the site runs: app servers and push workers (what the settings cannot tell)."""

    app_processes: int = 1
    push_workers: int = 0
    production: bool = False


@dataclass(frozen=True)
class Finding:
    """One problem: how bad, and what to do about it."""

    level: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.message}"


def in_production(settings: Settings, layout: Layout) -> bool:
    """Whether these settings serve real people: said so, a public base URL, or PostgreSQL."""
    host = urlsplit(settings.base_url).hostname if settings.base_url else None
    return layout.production or (host is not None and not is_loopback(host)) or not settings.is_sqlite


def check_base_url(settings: Settings, production: bool) -> list[Finding]:
    """The public address: https, unless the app is only reached on this machine."""
    if not settings.base_url:
        if production and not settings.allowed_hosts.strip():
            return [Finding(ERROR, "FIELDGUIDE_BASE_URL is unset: set it to the public https:// address "
                                   "(links in invitations and password resets are built from it; without it "
                                   "admins get no link unless FIELDGUIDE_ALLOWED_HOSTS lists the host).")]
        return []
    parts = urlsplit(settings.base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [Finding(ERROR, f"FIELDGUIDE_BASE_URL {settings.base_url!r} is not an address: "
                               "set it like https://guide.example.org.")]
    if parts.scheme != "https" and not is_loopback(parts.hostname):
        return [Finding(ERROR, f"FIELDGUIDE_BASE_URL {settings.base_url!r} is not https: service workers, Web Push "
                               "and Secure cookies need HTTPS; set FIELDGUIDE_BASE_URL=https://"
                               f"{parts.netloc} behind an HTTPS proxy.")]
    if production and is_loopback(parts.hostname):
        return [Finding(WARNING, f"FIELDGUIDE_BASE_URL {settings.base_url!r} is this machine: links given to "
                                 "people will not open elsewhere; set it to the public https:// address.")]
    return []


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_allowed_hosts(settings: Settings) -> list[Finding]:
    """FIELDGUIDE_ALLOWED_HOSTS: bare host names, as a request's Host header carries them."""
    found = []
    for entry in (e.strip() for e in settings.allowed_hosts.split(",")):
        bare = entry.strip("[]").lower()
        if entry and not _is_ip(bare) and (urlsplit("//" + entry).hostname != bare or "/" in entry or "@" in entry):
            found.append(Finding(ERROR, f"FIELDGUIDE_ALLOWED_HOSTS entry {entry!r} is not a host name: list names "
                                        "like guide.example.org (no scheme, port or path)."))
    return found


def check_vapid(settings: Settings, layout: Layout, production: bool) -> list[Finding]:
    """The push contact and key that push services check."""
    found = []
    try:
        check_subject(settings.vapid_subject)
        if settings.vapid_subject == PLACEHOLDER_SUBJECT:
            found.append(Finding(ERROR if production else WARNING,
                                 f"FIELDGUIDE_VAPID_SUBJECT is the placeholder {PLACEHOLDER_SUBJECT}: set it to a "
                                 "mailto: address where push services can reach you."))
    except VapidError as exc:
        found.append(Finding(ERROR, f"{exc} Set FIELDGUIDE_VAPID_SUBJECT=mailto:alerts@your.domain."))
    if settings.vapid_private_key:
        try:
            _parse_key(settings.vapid_private_key)
        except VapidError as exc:
            found.append(Finding(ERROR, f"{exc} Set it to the site's PEM key (docs/push.md)."))
    elif not settings.is_sqlite or layout.app_processes + layout.push_workers > 1:
        found.append(Finding(WARNING, "FIELDGUIDE_VAPID_PRIVATE_KEY is unset: each machine's data folder makes its "
                                      "own key and pushes signed with another key are refused; set the same key "
                                      "for every process."))
    return found


def check_ledger_key(settings: Settings, layout: Layout) -> list[Finding]:
    """The key that signs acknowledgment ledger rows: readable, and the same for every process."""
    if settings.ledger_signing_key:
        try:
            parse_private_key(settings.ledger_signing_key)
        except SigningKeyError as exc:
            return [Finding(ERROR, f"{exc} Set it to the site's key (docs/ledger.md).")]
        return []
    if not settings.is_sqlite or layout.app_processes + layout.push_workers > 1:
        return [Finding(WARNING, "FIELDGUIDE_LEDGER_SIGNING_KEY is unset: each machine's data folder makes its own "
                                 "ledger key and rows signed with another machine's key fail `fieldguide ledger "
                                 "verify`; set the same key for every process.")]
    return []


def check_mail(settings: Settings, production: bool) -> list[Finding]:
    """Email: a readable SMTP URL, a From address, and a base URL for the links in messages."""
    if not mail_enabled(settings):
        if settings.mail_from.strip():
            return [Finding(WARNING, "FIELDGUIDE_MAIL_FROM is set but FIELDGUIDE_SMTP_URL is not: no email is sent.")]
        return []
    found = []
    try:
        parse_smtp_url(settings.smtp_url)
    except MailConfigError as exc:
        found.append(Finding(ERROR, f"{exc} The servers would not start (docs/email.md)."))
    if not settings.mail_from.strip():
        found.append(Finding(ERROR, "FIELDGUIDE_MAIL_FROM is unset: with FIELDGUIDE_SMTP_URL set, emails need a From "
                                    "address; set it like Field Guide <guide@agency.example.org>."))
    else:
        try:
            check_from(settings.mail_from)
        except MailConfigError as exc:
            found.append(Finding(ERROR, str(exc)))
    if not settings.base_url:
        found.append(Finding(ERROR if production else WARNING,
                             "FIELDGUIDE_BASE_URL is unset: emails about releases and reminders would carry no link "
                             "(they are sent without a request to take an address from); set it to the public "
                             "https:// address."))
    return found


def check_processes(settings: Settings, layout: Layout, production: bool) -> list[Finding]:
    """Cookies, debug, who sends push notices, and SQLite's one process."""
    found = []
    https = settings.base_url.startswith("https://")
    if not settings.secure_cookies and (https or production):
        found.append(Finding(ERROR, "FIELDGUIDE_SECURE_COOKIES is off: sign-in cookies would also travel over "
                                    "plain http; set FIELDGUIDE_SECURE_COOKIES=true behind HTTPS."))
    if settings.debug and production:
        found.append(Finding(ERROR, "FIELDGUIDE_DEBUG is on: tracebacks would be shown to anyone; "
                                    "set FIELDGUIDE_DEBUG=false."))
    if not settings.push_worker and layout.push_workers == 0:
        found.append(Finding(ERROR, "FIELDGUIDE_PUSH_WORKER is off and no `fieldguide push-worker` runs: no push "
                                    "notice would be sent; set FIELDGUIDE_PUSH_WORKER=true or run a worker."))
    if settings.is_sqlite and layout.app_processes > 1:
        found.append(Finding(ERROR, f"{layout.app_processes} app processes on SQLite: SQLite serves one; "
                                    "set FIELDGUIDE_DATABASE_URL=postgres://... for several."))
    return found


def check_content(settings: Settings) -> list[Finding]:
    """The base guidance the servers load on start."""
    content = load_content(settings.content_dir, strict=False)
    if content.errors:
        return [Finding(ERROR, f"content/ at {settings.content_dir} has {len(content.errors)} problem(s) and the "
                               "servers would not start: run `fieldguide content check`.")]
    return []


def pool_need(settings: Settings, layout: Layout) -> int:
    """PostgreSQL connections the layout may open: a pool per process, and a LISTEN per worker."""
    pool = max(1, settings.db_pool_size)
    return layout.app_processes * pool + layout.push_workers * (pool + 1)


async def _database_findings(settings: Settings, layout: Layout) -> list[Finding]:
    if settings.is_sqlite:
        path = Path(settings.db_url[len("sqlite://") :].split("?", 1)[0])
        if not path.exists():
            return [Finding(WARNING, f"No database yet at {path}: the first `fieldguide serve` makes it.")]
    try:
        await asyncio.wait_for(db.open_db(settings), CONNECT_TIMEOUT)
        conn = connections.get("default")
        await asyncio.wait_for(conn.execute_query("SELECT 1"), CONNECT_TIMEOUT)
    except db.UNREACHABLE as exc:
        reason = str(exc).strip() or type(exc).__name__
        return [Finding(ERROR, f"The database is unreachable ({reason}): check FIELDGUIDE_DATABASE_URL "
                               "and that the server is up.")]
    found = []
    if await db.applied_count(settings) == 0:
        found.append(Finding(WARNING, "The database is empty: `fieldguide migrate` (or the first "
                                      "`fieldguide serve`) sets it up."))
    else:
        pending = await db.pending_migrations(settings)
        if pending:
            found.append(Finding(ERROR, f"The database is {len(pending)} migration(s) behind ({', '.join(pending)}) "
                                        "and the app will not start: back it up, then run `fieldguide migrate`."))
    if not settings.is_sqlite:
        rows = await conn.execute_query_dict(
            "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int "
            "AS usable"
        )
        usable, need = rows[0]["usable"], pool_need(settings, layout)
        layout_text = (f"{layout.app_processes} app process(es) and {layout.push_workers} push worker(s) with "
                       f"FIELDGUIDE_DB_POOL_SIZE={settings.db_pool_size} open up to {need} connections")
        if need > usable:
            found.append(Finding(ERROR, f"{layout_text}, more than the {usable} PostgreSQL allows: lower "
                                        "FIELDGUIDE_DB_POOL_SIZE or raise max_connections."))
        elif need > usable - HEADROOM:
            found.append(Finding(WARNING, f"{layout_text}, leaving under {HEADROOM} of {usable} for migrations "
                                          "and maintenance: lower FIELDGUIDE_DB_POOL_SIZE or raise max_connections."))
    return found


async def check_database(settings: Settings, layout: Layout) -> list[Finding]:
    """Reachability, migrations and connection budget of the configured database."""
    try:
        return await _database_findings(settings, layout)
    finally:
        await db.close_db()


def check_settings(settings: Settings, layout: Layout) -> list[Finding]:
    """Every finding that needs no database, errors first."""
    production = in_production(settings, layout)
    found = (
        check_base_url(settings, production)
        + check_allowed_hosts(settings)
        + check_vapid(settings, layout, production)
        + check_ledger_key(settings, layout)
        + check_mail(settings, production)
        + check_processes(settings, layout, production)
        + check_content(settings)
    )
    return found


def check_all(settings: Settings, layout: Layout) -> list[Finding]:
    """Every finding, errors first."""
    found = check_settings(settings, layout) + asyncio.run(check_database(settings, layout))
    return sorted(found, key=lambda f: f.level != ERROR)
