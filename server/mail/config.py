"""Whether email is set up, how to reach the SMTP server, and where links in messages point."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from server.hosts import is_loopback
from server.settings import Settings

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


class MailConfigError(ValueError):
    """FIELDGUIDE_SMTP_URL or FIELDGUIDE_MAIL_FROM cannot be used; the message says why (never the password)."""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: implicit TLS (smtps) or STARTTLS (smtp), and the sign-in if any."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None = None

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def start_tls(self) -> bool | None:
        """aiosmtplib's start_tls: required before sending a password off this machine, else when offered."""
        if self.implicit_tls:
            return False
        return True if self.username and not self.loopback else None

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"SmtpServer({'smtps' if self.implicit_tls else 'smtp'}://{self.username or ''}@{self.host}:{self.port})"


def parse_smtp_url(url: str) -> SmtpServer:
    """An SmtpServer from smtp://user:pass@host:port or smtps://...; user and password percent-decoded."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise MailConfigError("FIELDGUIDE_SMTP_URL is not a URL: write smtp://user:password@host:587.") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise MailConfigError("FIELDGUIDE_SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (TLS).")
    if not parts.hostname:
        raise MailConfigError("FIELDGUIDE_SMTP_URL names no host: write smtp://user:password@host:587.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise MailConfigError("FIELDGUIDE_SMTP_URL has a path or query; only smtp[s]://user:password@host:port is read.")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username and password is None:
        raise MailConfigError("FIELDGUIDE_SMTP_URL names a user but no password: smtp://user:password@host.")
    return SmtpServer(
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        implicit_tls=parts.scheme == "smtps",
        username=username,
        password=password,
    )


def check_from(value: str) -> str:
    """The From header as given, when it holds one plain address; MailConfigError otherwise."""
    _, address = parseaddr(value)
    if not value.strip() or "@" not in address or any(c in value for c in "\r\n"):
        raise MailConfigError("FIELDGUIDE_MAIL_FROM must be an address, like Field Guide <guide@agency.example.org>.")
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        raise MailConfigError(f"FIELDGUIDE_MAIL_FROM {address!r} is not an email address.") from None
    return value.strip()


@dataclass(frozen=True)
class Mail:
    """Email is set up: messages are written to the outbox; links in them start with base_url."""

    base_url: str | None

    def link(self, path: str) -> str | None:
        """The full address of a path of the app, or None when no base address is known."""
        return self.base_url + path if self.base_url else None


def mail_enabled(settings: Settings) -> bool:
    """Whether the site sends email (FIELDGUIDE_SMTP_URL is set)."""
    return bool(settings.smtp_url.strip())


def mail_for(settings: Settings, base_url: str | None = None) -> Mail | None:
    """What the domain needs to write emails, or None when email is not set up.

    base_url: the link base a request may use (the admin pages' link_base); without it, links
    come from FIELDGUIDE_BASE_URL only, never from a request's Host header.
    """
    if not mail_enabled(settings):
        return None
    base = base_url or settings.base_url
    return Mail(base.rstrip("/") if base else None)
