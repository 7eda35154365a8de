"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives and refuses on request."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from .browser import free_port

# Characters a URL must percent-encode, so the app's decoding is tested.
USERNAME = "mailer@fieldguide.test"
PASSWORD = "p@ss:w/rd%20 ok"


@dataclass
class Received:
    """One email as the server got it."""

    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, kind: str = "plain") -> str:
        """The text/plain or text/html part, decoded."""
        part = self.message.get_body(preferencelist=(kind,))
        return part.get_content() if part is not None else ""


@dataclass
class SmtpServer:
    """The server: `received` in arrival order; `refuse[address] = [reply, ...]` answers that address's
    next RCPTs with those replies in turn (e.g. "451 4.3.0 try later", "550 5.1.1 no such user");
    `refuse_always` refuses every try."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, list[str]] = field(default_factory=dict)
    refuse_always: dict[str, str] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)
    logins: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        """FIELDGUIDE_SMTP_URL for this server, credentials percent-encoded."""
        return f"smtp://{quote(USERNAME, safe='')}:{quote(PASSWORD, safe='')}@127.0.0.1:{self.port}"

    def start(self) -> "SmtpServer":
        self.port = self.port or free_port()
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="fieldguide-test-smtp",  # not getfqdn(), which can stall
            authenticator=self._authenticate,
            # Offered and checked (the app signs in with the URL's credentials; `logins` counts them),
            # over plain text on loopback only: no certificate to make.
            auth_require_tls=False,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USERNAME and \
            auth_data.password.decode() == PASSWORD
        if ok:
            with self._lock:
                self.logins += 1
        return AuthResult(success=ok)

    def to(self, address: str) -> list[Received]:
        """What arrived for one address."""
        with self._lock:
            return [r for r in self.received if address in r.recipients]


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        s = self.server
        with s._lock:
            s.tries[address] = s.tries.get(address, 0) + 1
            queued = s.refuse.get(address)
            reply = queued.pop(0) if queued else s.refuse_always.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server._lock:
            self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"
