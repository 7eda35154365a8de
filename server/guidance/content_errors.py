"""Problems found in content/: each names the file and the field or line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContentError:
    """One problem found in content/, naming the file and the field."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class ContentInvalid(ValueError):
    """content/ failed its checks."""

    def __init__(self, errors: list[ContentError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def line_of(raw: str, text: str) -> str:
    """'line N' of the first line of a file that holds a text, for messages; '' when not found."""
    needle = text.strip()[:60]
    for number, line in enumerate(raw.split("\n"), start=1):
        if needle and needle in line:
            return f"line {number}"
    return ""
