"""The one CSV writer: formula-like cells made inert, reversibly, and every CSV of the app written through it."""

from __future__ import annotations

import csv
import io

from server.csv_export import original_cell, safe_cell, write_csv
from server.settings import ROOT

RISKY = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "'quoted", "''two"]
PLAIN = ["", "plain", "a=b", " =spaced", "1", "é=", "[\"a\"]"]


def test_risky_cells_get_a_leading_quote_and_plain_cells_are_kept():
    for text in RISKY:
        assert safe_cell(text) == "'" + text
    for text in PLAIN:
        assert safe_cell(text) == text
    assert safe_cell(None) == "" and safe_cell(-3) == "'-3" and safe_cell(7) == "7"


def test_the_reverse_rule_gives_back_every_value():
    for text in RISKY + PLAIN:
        assert original_cell(safe_cell(text)) == text


def test_a_document_reads_back_to_the_values_written():
    rows = [[text, i] for i, text in enumerate(RISKY + PLAIN)]
    document = write_csv(["=header", "n"], rows)
    assert document.endswith("\r\n")
    read = list(csv.reader(io.StringIO(document, newline="")))
    assert read[0] == ["'=header", "n"]
    assert [[original_cell(c) for c in row] for row in read[1:]] == [[t, str(i)] for t, i in rows]
    assert not [c for row in read for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_the_app_writes_csv_only_through_the_writer():
    users = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "server").rglob("*.py")
        if "csv.writer" in path.read_text() or "csv.DictWriter" in path.read_text()
    ]
    assert users == ["server/csv_export.py"]
