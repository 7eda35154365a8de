"""The one CSV writer: every CSV the app writes goes through here, with spreadsheet formulas made inert.

Spreadsheets run a cell that starts with = + - @ (or a tab or carriage return before one) as a
formula. Such a cell is written with a ' in front, which spreadsheets show as text. So that this
can be undone exactly, a cell that itself starts with ' gets one more. The reverse rule, for a
program reading the file back: a cell that starts with ' loses that first character.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def safe_cell(value) -> str:
    """A value as a CSV cell that no spreadsheet runs: None is empty, a risky start gets a leading '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def original_cell(text: str) -> str:
    """The value a safe cell was made from (the reverse of safe_cell for text)."""
    return text.removeprefix("'")


def write_csv(columns: Iterable[str], rows: Iterable[Iterable]) -> str:
    """A CSV document (CRLF line ends): the header, then each row, every cell through safe_cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()
