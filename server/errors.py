"""What the domain raises when a request cannot be done: errors that know nothing of HTTP.

Each kind says why; the web edge (server/web/errors.py) turns a kind into a status code and
the API's errno, in one place. `message` is for the person asking; `details` names the
fields at fault for programs.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses, with a message for people and details for programs."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class Invalid(DomainError):
    """A value sent is malformed or out of range."""


class Refused(DomainError):
    """This person may not do this."""


class NotFound(DomainError):
    """The thing named does not exist (for this person's agency)."""


class Conflict(DomainError):
    """The current state does not allow this (someone else acted first, or it is already done)."""
