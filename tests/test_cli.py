"""The `fieldguide` command's own behaviour around the database (check-config: tests/test_check_config.py)."""

from __future__ import annotations

import pytest

from server.cli import main


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgres://postgres@127.0.0.1:1/fieldguide", "Connect call failed"),
        ("postgres://postgres@127.0.0.1:5432/fieldguide_no_such_database", "does not exist"),
    ],
    ids=["nothing-listens", "no-such-database"],
)
def test_serve_says_why_it_cannot_reach_the_database(monkeypatch, capsys, tmp_path, url, reason):
    monkeypatch.setenv("FIELDGUIDE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FIELDGUIDE_DATABASE_URL", url)
    assert main(["serve", "--no-demo"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("Not starting: cannot reach the database (") and reason in error
    assert "fieldguide check-config" in error
