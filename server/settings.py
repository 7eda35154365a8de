"""Settings read from the environment, each with a safe default and its own help text."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    """Everything the app can be configured with; see README's settings table."""

    data_dir: Path = field(
        default=ROOT / "data",
        metadata={"env": "FIELDGUIDE_DATA_DIR", "help": "Folder for the SQLite file and keys."},
    )
    database_url: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_DATABASE_URL",
            "help": "sqlite://PATH or postgres://user@host:port/db (several server processes need PostgreSQL); "
            "default: SQLite in the data folder.",
        },
    )
    db_pool_size: int = field(
        default=5,
        metadata={
            "env": "FIELDGUIDE_DB_POOL_SIZE",
            "help": "Most PostgreSQL connections one process opens (server or push worker; a worker's LISTEN "
            "takes one more); keep processes x pool within the server's max_connections (docs/deployment.md).",
        },
    )
    content_dir: Path = field(
        default=ROOT / "content",
        metadata={"env": "FIELDGUIDE_CONTENT_DIR", "help": "Folder of the base guidance cards."},
    )
    secure_cookies: bool = field(
        default=False,
        metadata={
            "env": "FIELDGUIDE_SECURE_COOKIES",
            "help": "Mark cookies Secure; turn on behind HTTPS.",
        },
    )
    session_days: int = field(
        default=30,
        metadata={"env": "FIELDGUIDE_SESSION_DAYS", "help": "Sliding sign-in lifetime in days."},
    )
    base_url: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_BASE_URL",
            "help": "Public address of the app (https://guide.example.org) for invitation and password-reset "
            "links; set it behind a proxy; "
            "default: the address a request came to, only when its host is in FIELDGUIDE_ALLOWED_HOSTS, is "
            "this machine, or cookies are not Secure (development); the command line uses http://127.0.0.1:8000.",
        },
    )
    allowed_hosts: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_ALLOWED_HOSTS",
            "help": "Comma-separated host names (guide.example.org) whose requests may give their own address to "
            "links when FIELDGUIDE_BASE_URL is unset; any other host gets no link, so a forged Host header "
            "cannot point one at another site.",
        },
    )
    invitation_days: int = field(
        default=7,
        metadata={
            "env": "FIELDGUIDE_INVITATION_DAYS",
            "help": "Days an invitation or password-reset link stays valid.",
        },
    )
    debug: bool = field(
        default=False,
        metadata={"env": "FIELDGUIDE_DEBUG", "help": "Show tracebacks (never in production)."},
    )
    check_migrations: bool = field(
        default=True,
        metadata={
            "env": "FIELDGUIDE_CHECK_MIGRATIONS",
            "help": "Refuse to start when the database's migrations are behind.",
        },
    )
    vapid_private_key: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_VAPID_PRIVATE_KEY",
            "help": "Web Push (VAPID) private key: PEM, or the raw 32-byte P-256 key in base64url; every server "
            "and push worker of one site needs the same key (rotating it: docs/push.md); "
            "default: made on first run and kept in the data folder (vapid_private_key.pem, mode 0600).",
        },
    )
    vapid_subject: str = field(
        default="mailto:fieldguide-alerts@example.org",
        metadata={
            "env": "FIELDGUIDE_VAPID_SUBJECT",
            "help": "Contact that push services may write to about your notices: a mailto: address on a real "
            "domain (push services refuse localhost).",
        },
    )
    ledger_signing_key: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_LEDGER_SIGNING_KEY",
            "help": "Ed25519 private key (PEM, or the raw 32 bytes in base64url) that signs each acknowledgment ledger row and checkpoint; every "
            "server and push worker of one site needs the same key, kept for good (docs/ledger.md); "
            "default: made on first run and kept in the data folder (ledger_signing_key.pem, mode 0600).",
        },
    )
    push_worker: bool = field(
        default=True,
        metadata={
            "env": "FIELDGUIDE_PUSH_WORKER",
            "help": "Send push notices from the server process; turn off when `fieldguide push-worker` runs on its own.",
        },
    )
    push_concurrency: int = field(
        default=32,
        metadata={"env": "FIELDGUIDE_PUSH_CONCURRENCY", "help": "Push notices one worker sends at once."},
    )
    push_max_attempts: int = field(
        default=8,
        metadata={
            "env": "FIELDGUIDE_PUSH_MAX_ATTEMPTS",
            "help": "Tries per notice before it is marked failed; every failed send counts (429, 5xx, timeouts, no connection).",
        },
    )
    push_retry_base_ms: int = field(
        default=10_000,
        metadata={
            "env": "FIELDGUIDE_PUSH_RETRY_BASE_MS",
            "help": "First retry delay in milliseconds; it doubles per try (with jitter, at most an hour) "
            "and is never shorter than a push service's Retry-After.",
        },
    )
    push_lease_seconds: int = field(
        default=120,
        metadata={
            "env": "FIELDGUIDE_PUSH_LEASE_SECONDS",
            "help": "How long a worker holds a notice it took; a notice of a worker that died is sent after this.",
        },
    )
    push_poll_ms: int = field(
        default=2000,
        metadata={
            "env": "FIELDGUIDE_PUSH_POLL_MS",
            "help": "How often an idle push worker looks for new notices, in milliseconds; on PostgreSQL a NOTIFY "
            "wakes workers at once and this is only a safety net (10000–30000 is fine).",
        },
    )
    push_extra_hosts: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_PUSH_EXTRA_HOSTS",
            "help": "Comma-separated push-service hosts accepted besides the browsers' own "
            "(Google, Mozilla, Apple, Microsoft); plain http is allowed only for loopback hosts listed here.",
        },
    )
    max_devices_per_user: int = field(
        default=10,
        metadata={
            "env": "FIELDGUIDE_MAX_DEVICES_PER_USER",
            "help": "Most devices one person may sync and most with alerts on; a new one beyond it drops "
            "that person's least recently used (the answer to turning alerts on says which).",
        },
    )
    smtp_url: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_SMTP_URL",
            "help": "Send email (invitations, password resets, releases needing acknowledgment, reminders) through "
            "this server: smtp://user:password@host:port (STARTTLS when offered, required when signing in to a "
            "host not on this machine; port 587 by default) or smtps://... (TLS from the start; port 465); "
            "percent-encode special characters in the user and password (docs/email.md); "
            "default: no email, admins copy links by hand.",
        },
    )
    mail_from: str = field(
        default="",
        metadata={
            "env": "FIELDGUIDE_MAIL_FROM",
            "help": "The From address of every email (Field Guide <guide@agency.example.org>); needed with "
            "FIELDGUIDE_SMTP_URL.",
        },
    )
    mail_concurrency: int = field(
        default=4,
        metadata={
            "env": "FIELDGUIDE_MAIL_CONCURRENCY",
            "help": "SMTP connections one worker sends over at once (each sends several emails in turn).",
        },
    )
    mail_max_attempts: int = field(
        default=6,
        metadata={
            "env": "FIELDGUIDE_MAIL_MAX_ATTEMPTS",
            "help": "Tries per email before it is marked failed (a refused address fails at once).",
        },
    )
    mail_retry_base_ms: int = field(
        default=60_000,
        metadata={
            "env": "FIELDGUIDE_MAIL_RETRY_BASE_MS",
            "help": "First retry delay of an email in milliseconds; it doubles per try (with jitter, at most an hour).",
        },
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        """Build settings from environment variables, then apply keyword overrides."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            if f.type in ("bool", bool):
                values[f.name] = _env_bool(raw)
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("Path", Path):
                values[f.name] = Path(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed."""
        return replace(self, **changes)

    @property
    def db_url(self) -> str:
        """The database URL in effect (SQLite in the data folder unless set)."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "asyncpg://" + url[len("postgresql://") :]
            elif url.startswith("postgres://"):
                url = "asyncpg://" + url[len("postgres://") :]
            if url.startswith("asyncpg://") and "maxsize=" not in url:
                url += ("&" if "?" in url else "?") + f"minsize=1&maxsize={max(1, self.db_pool_size)}"
            return url
        return f"sqlite://{self.data_dir / 'fieldguide.sqlite3'}?busy_timeout=5000&synchronous=NORMAL"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite://")

    @property
    def postgres_dsn(self) -> str:
        """The PostgreSQL URL as asyncpg.connect takes it (no pool parameters), for a connection of its own."""
        url = "postgresql://" + self.db_url[len("asyncpg://") :]
        base, _, query = url.partition("?")
        kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in {"minsize", "maxsize"}]
        return base + ("?" + "&".join(kept) if kept else "")

    @property
    def pwa_dir(self) -> Path:
        return ROOT / "pwa"

    @property
    def service_worker_dir(self) -> Path:
        return ROOT / "service_worker"
