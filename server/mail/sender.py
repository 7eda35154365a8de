"""Sending emails over one SMTP connection with aiosmtplib, and reading what the server answered."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from server.mail.config import SmtpServer
from server.mail.outbox import Claimed


@dataclass
class Answer:
    """What the SMTP server said of one email: sent, retry (4xx, no connection) or failed (5xx refusal)."""

    outcome: str
    reason: str = ""


def build_message(row: Claimed, sender: str) -> EmailMessage:
    """The MIME message: plain text with an HTML alternative."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(f"fieldguide.{row.id}", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office answers to an address nobody reads
    message.set_content(row.text)
    message.add_alternative(row.html, subtype="html")
    return message


def classify(exc: Exception) -> Answer:
    """Map a send's failure to what the outbox does next.

    A 5xx refusal of the recipient or the message itself is permanent: the address is marked
    failed. Everything else — 4xx, a refused sign-in or sender (the site's settings, not the
    address), timeouts, a dropped or refused connection — is retried with backoff.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]  # one recipient per email: its own refusal says it best
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", "") or str(exc) or type(exc).__name__
    reason = f"{code} {message}" if code else f"{type(exc).__name__}: {message}"
    reason = " ".join(reason.split())
    permanent = isinstance(exc, (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused,
                                 aiosmtplib.SMTPDataError))
    if permanent and code is not None and 500 <= code < 600:
        return Answer("failed", reason)
    return Answer("retry", reason)


class Connection:
    """One SMTP connection that sends emails in turn, reconnecting after it drops."""

    def __init__(self, server: SmtpServer, sender: str, timeout: float):
        self.server = server
        self.sender = sender
        self.timeout = timeout
        domain = parseaddr(sender)[1].rpartition("@")[2]
        self._smtp = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.implicit_tls,
            start_tls=server.start_tls,
            timeout=timeout,
            # EHLO names the sender's domain: looking up this machine's own name can stall.
            local_hostname=domain or "localhost",
        )

    @property
    def connected(self) -> bool:
        return self._smtp.is_connected

    async def send(self, row: Claimed) -> Answer:
        """Send one email; a failure is classified, never raised."""
        reused = self._smtp.is_connected
        try:
            try:
                if not reused:
                    await self._smtp.connect()
                await self._smtp.send_message(build_message(row, self.sender), sender=parseaddr(self.sender)[1],
                                              recipients=[row.to_address])
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                if not reused:
                    raise
                # A kept connection the server closed while it sat idle: one fresh try, not a failed one.
                self.close()
                await self._smtp.connect()
                await self._smtp.send_message(build_message(row, self.sender), sender=parseaddr(self.sender)[1],
                                              recipients=[row.to_address])
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if not isinstance(exc, (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPDataError)):
                self.close()  # the next email starts on a fresh connection
            else:
                await self._reset()
            return classify(exc)
        return Answer("sent")

    async def _reset(self) -> None:
        """After a refused recipient the transaction is over; RSET makes sure the next starts clean."""
        try:
            await self._smtp.rset()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            self.close()

    def close(self) -> None:
        """Drop the connection without waiting (a QUIT is a courtesy, not needed)."""
        if self._smtp.is_connected:
            self._smtp.close()

    async def quit(self) -> None:
        """Say goodbye to the server, or drop the connection if it does not answer."""
        if self._smtp.is_connected:
            try:
                await self._smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                self.close()
