"""The emails the app sends: plain text plus simple HTML, with the agency's name, a summary and a link.

Never the guidance itself: a release email carries its number, the summary its admins wrote and a
link to "what changed", so an old email is never read as current guidance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

SUMMARY_CHARS = 500
# Where a set-password link sat in an invitation or reset once it was sent (the token is single-use:
# the server's copy of the message must not be a second way in).
LINK_REMOVED = "(link removed from the server's copy after sending)"
_INVITE_LINK = re.compile(r"https?://[^\s\"<>]+/invite/[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Message:
    """One email's subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _subject(text: str) -> str:
    return _clip(text, 300)


def _date(moment: datetime) -> str:
    return f"{moment:%B} {moment.day}, {moment.year}"


def _build(subject: str, greeting: str, paragraphs: list[str], link: str | None, action: str, fallback: str) -> Message:
    """Assemble both bodies from the same parts; every value is escaped in the HTML."""
    text = [greeting, ""]
    html = [Markup("<p>{}</p>").format(greeting)]
    for para in paragraphs:
        text += [para, ""]
        html.append(Markup("<p>{}</p>").format(para))
    if link:
        text += [f"{action}: {link}", ""]
        html.append(Markup('<p><a href="{}">{}</a></p>').format(link, action))
        html.append(Markup('<p style="font-size:small">Or paste this address into your browser: {}</p>').format(link))
    else:
        text += [fallback, ""]
        html.append(Markup("<p>{}</p>").format(fallback))
    footer = "SRO Field Guide — this email was sent by your agency's field guide; replies are not read."
    text.append(footer)
    html.append(Markup('<p style="color:#555;font-size:small">{}</p>').format(footer))
    body = Markup("\n").join(html)
    page = Markup(
        '<!doctype html><html><head><meta charset="utf-8"><title>{}</title></head>'
        '<body style="font-family:sans-serif;line-height:1.5;max-width:40em">\n{}\n</body></html>'
    ).format(subject, body)
    return Message(_subject(subject), "\n".join(text), str(page))


def invite(agency: str, person: str, link: str | None, days: int) -> Message:
    """An invitation to set a password and start using the guide."""
    return _build(
        f"{agency}: your SRO Field Guide account",
        f"Hello {person},",
        [
            f"{agency} has given you an account on the SRO Field Guide, its field reference for school "
            "resource officers.",
            f"Choose your password with the link below. It works once and for {days} day{'s' if days != 1 else ''}; "
            "if it has expired, ask your agency's admin for a new one.",
        ],
        link,
        "Set your password",
        "Ask your agency's admin for the link to set your password.",
    )


def reset(agency: str, person: str, link: str | None, days: int) -> Message:
    """A link to set a new password (asked for by an admin)."""
    return _build(
        f"{agency}: set a new SRO Field Guide password",
        f"Hello {person},",
        [
            f"An admin at {agency} made you a link to set a new password for the SRO Field Guide.",
            f"It works once and for {days} day{'s' if days != 1 else ''}. Once you use it, you are signed out "
            "everywhere else. If you did not expect this, tell your agency's admin.",
        ],
        link,
        "Set a new password",
        "Ask your agency's admin for the link to set your password.",
    )


def release(agency: str, person: str, number: int, summary: str, requires_ack: bool, due_at: datetime | None,
            link: str | None) -> Message:
    """A new release: "needs your acknowledgment" (with its due date) or, for minor changes, for information."""
    what = f"Release {number}: {_clip(summary, SUMMARY_CHARS)}"
    if requires_ack:
        due = f" by {_date(due_at)}" if due_at else ""
        subject = f"{agency}: release {number} needs your acknowledgment"
        paragraphs = [
            f"{agency} has published new guidance in the SRO Field Guide.",
            what,
            f"Please read what changed and acknowledge it{due}.",
        ]
    else:
        subject = f"{agency}: guidance updated (release {number})"
        paragraphs = [
            f"{agency} has published new guidance in the SRO Field Guide. It asks for no acknowledgment.",
            what,
            "You can turn off emails like this one on the Alerts page of the guide.",
        ]
    return _build(subject, f"Hello {person},", paragraphs, link, "Read what changed",
                  "Open the SRO Field Guide and read what changed.")


def reminder(agency: str, person: str, number: int, summary: str, due_at: datetime | None, link: str | None) -> Message:
    """A supervisor's reminder to acknowledge a release."""
    due = f" It is due {_date(due_at)}." if due_at else ""
    return _build(
        f"{agency}: please acknowledge release {number}",
        f"Hello {person},",
        [
            f"A supervisor at {agency} reminds you that release {number} of your guidance is not yet "
            f"acknowledged.{due}",
            f"Release {number}: {_clip(summary, SUMMARY_CHARS)}",
        ],
        link,
        "Read what changed and acknowledge it",
        "Open the SRO Field Guide, read what changed and acknowledge it.",
    )


def without_links(text: str) -> str:
    """A sent invitation or reset with its single-use link taken out."""
    return _INVITE_LINK.sub(LINK_REMOVED, text)
