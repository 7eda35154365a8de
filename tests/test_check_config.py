"""`fieldguide check-config` through the real command: each finding, its exit status and what it says to set."""

from __future__ import annotations

import asyncio

import pytest
from tortoise import connections

from server import db
from server.cli import main

from .helpers.processes import (
    ENV_EXAMPLE,
    deployment_layout,
    new_ledger_key,
    new_vapid_key,
    read_env_file,
)

PRODUCTION = {
    "FIELDGUIDE_BASE_URL": "https://guide.example.org",
    "FIELDGUIDE_SECURE_COOKIES": "true",
    "FIELDGUIDE_VAPID_SUBJECT": "mailto:alerts@guide.example.org",
    "FIELDGUIDE_VAPID_PRIVATE_KEY": new_vapid_key(),
    "FIELDGUIDE_LEDGER_SIGNING_KEY": new_ledger_key(),
}


@pytest.fixture
def check(monkeypatch, capsys, tmp_path):
    """Run `fieldguide check-config ARGS` with these settings; (exit status, lines printed)."""

    def run(*args: str, **env: str) -> tuple[int, list[str]]:
        monkeypatch.setenv("FIELDGUIDE_DATA_DIR", str(tmp_path))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        status = main(["check-config", *args])
        return status, capsys.readouterr().out.splitlines()

    return run


def lines_with(lines: list[str], level: str, *words: str) -> list[str]:
    return [line for line in lines if line.startswith(level.upper() + ":") and all(w in line for w in words)]


def point_at(monkeypatch, settings) -> None:
    """Make the command read the test's database."""
    monkeypatch.setenv("FIELDGUIDE_DATA_DIR", str(settings.data_dir))
    if settings.database_url:
        monkeypatch.setenv("FIELDGUIDE_DATABASE_URL", settings.database_url)


def test_a_development_machine_passes_with_warnings_only(check):
    status, lines = check()
    assert status == 0
    assert lines_with(lines, "warning", "FIELDGUIDE_VAPID_SUBJECT", "placeholder")
    assert lines_with(lines, "warning", "No database yet")
    assert lines[-1] == "check-config: no errors, 2 warning(s)."


def test_a_base_url_that_is_not_https_is_an_error(check):
    status, lines = check(FIELDGUIDE_BASE_URL="http://guide.example.org")
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_BASE_URL", "not https", "https://guide.example.org")


def test_a_loopback_base_url_may_be_http(check):
    status, lines = check(FIELDGUIDE_BASE_URL="http://127.0.0.1:8000")
    assert status == 0 and not [line for line in lines if "FIELDGUIDE_BASE_URL" in line]


def test_an_unset_base_url_is_an_error_in_production(check):
    status, lines = check("--production", **{k: v for k, v in PRODUCTION.items() if k != "FIELDGUIDE_BASE_URL"})
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_BASE_URL is unset", "https://")


def test_the_placeholder_vapid_subject_is_an_error_in_production(check):
    status, lines = check(**{**PRODUCTION, "FIELDGUIDE_VAPID_SUBJECT": "mailto:fieldguide-alerts@example.org"})
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_VAPID_SUBJECT", "placeholder")


def test_a_localhost_vapid_subject_is_an_error(check):
    status, lines = check(FIELDGUIDE_VAPID_SUBJECT="mailto:me@localhost")
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_VAPID_SUBJECT", "localhost", "Set FIELDGUIDE_VAPID_SUBJECT=")


def test_an_unreadable_vapid_key_is_an_error(check):
    status, lines = check(FIELDGUIDE_VAPID_PRIVATE_KEY="not-a-key")
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_VAPID_PRIVATE_KEY")


def test_insecure_cookies_behind_https_are_an_error(check):
    status, lines = check(**{**PRODUCTION, "FIELDGUIDE_SECURE_COOKIES": "false"})
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_SECURE_COOKIES", "FIELDGUIDE_SECURE_COOKIES=true")


def test_debug_in_production_is_an_error(check):
    status, lines = check(**PRODUCTION, FIELDGUIDE_DEBUG="true")
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_DEBUG", "FIELDGUIDE_DEBUG=false")


def test_push_sending_off_with_no_worker_is_an_error(check):
    status, lines = check(FIELDGUIDE_PUSH_WORKER="false")
    assert status == 1
    assert lines_with(lines, "error", "FIELDGUIDE_PUSH_WORKER", "push-worker")
    status, lines = check("--push-workers", "1", FIELDGUIDE_PUSH_WORKER="false")
    assert not lines_with(lines, "error", "FIELDGUIDE_PUSH_WORKER")


def test_several_app_processes_on_sqlite_are_an_error(check):
    status, lines = check("--app-processes", "2")
    assert status == 1
    assert lines_with(lines, "error", "2 app processes on SQLite", "FIELDGUIDE_DATABASE_URL=postgres://")
    assert lines_with(lines, "warning", "FIELDGUIDE_VAPID_PRIVATE_KEY is unset")
    assert lines_with(lines, "warning", "FIELDGUIDE_LEDGER_SIGNING_KEY is unset", "same key for every process")


@pytest.mark.parametrize(
    "url",
    ["postgres://postgres@127.0.0.1:1/fieldguide", "postgres://postgres@127.0.0.1:5432/fieldguide_no_such_database"],
    ids=["nothing-listens", "no-such-database"],
)
def test_an_unreachable_database_is_an_error(check, url):
    status, lines = check(**PRODUCTION, FIELDGUIDE_DATABASE_URL=url)
    assert status == 1
    assert lines_with(lines, "error", "The database is unreachable", "FIELDGUIDE_DATABASE_URL")


def test_a_current_database_passes(check, monkeypatch, settings):
    point_at(monkeypatch, settings)
    status, lines = check("--push-workers", "1", **PRODUCTION)
    assert status == 0, lines
    assert lines[-1] == "check-config: OK."


def test_migrations_behind_are_an_error(check, monkeypatch, settings):
    async def forget_the_last_migration():
        await db.open_db(settings)
        try:
            conn = connections.get("default")
            rows = await conn.execute_query_dict("SELECT id, name FROM tortoise_migrations ORDER BY id DESC LIMIT 1")
            await conn.execute_query(f"DELETE FROM tortoise_migrations WHERE id = {int(rows[0]['id'])}")
            return rows[0]["name"]
        finally:
            await db.close_db()

    name = asyncio.run(forget_the_last_migration())
    point_at(monkeypatch, settings)
    status, lines = check("--push-workers", "1", **PRODUCTION)
    assert status == 1
    assert lines_with(lines, "error", "1 migration(s) behind", name, "fieldguide migrate")


def test_more_connections_than_postgresql_allows_are_an_error(check, monkeypatch, pg_settings):
    async def usable() -> int:
        import asyncpg

        conn = await asyncpg.connect(pg_settings.postgres_dsn)
        try:
            return await conn.fetchval(
                "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
            )
        finally:
            await conn.close()

    limit = asyncio.run(usable())
    point_at(monkeypatch, pg_settings)
    # One process with a pool of the whole budget: within the headroom, a warning.
    status, lines = check(**PRODUCTION, FIELDGUIDE_PUSH_WORKER="true", FIELDGUIDE_DB_POOL_SIZE=str(limit))
    assert status == 0, lines
    assert lines_with(lines, "warning", f"FIELDGUIDE_DB_POOL_SIZE={limit}", f"up to {limit} connections")
    # Two app processes and a worker with that pool: 3 pools and a LISTEN, above the limit.
    status, lines = check("--app-processes", "2", "--push-workers", "1", **PRODUCTION,
                          FIELDGUIDE_DB_POOL_SIZE=str(limit))
    assert status == 1
    assert lines_with(lines, "error", f"up to {3 * limit + 1} connections", "lower FIELDGUIDE_DB_POOL_SIZE")


def test_the_deployment_environment_file_passes_once_its_key_is_set(check, monkeypatch, pg_settings):
    example = read_env_file(ENV_EXAMPLE)
    apps, pushes = deployment_layout()
    layout = ("--app-processes", str(len(apps)), "--push-workers", str(len(pushes)))
    site = {**example, "FIELDGUIDE_DATABASE_URL": pg_settings.database_url, "FIELDGUIDE_DATA_DIR": str(pg_settings.data_dir)}
    status, lines = check(*layout, **site)
    assert status == 1, "the example's placeholder key must not pass"
    assert lines_with(lines, "error", "FIELDGUIDE_VAPID_PRIVATE_KEY")
    assert lines_with(lines, "error", "FIELDGUIDE_LEDGER_SIGNING_KEY")
    status, lines = check(*layout, **{**site, "FIELDGUIDE_VAPID_PRIVATE_KEY": new_vapid_key(),
                                      "FIELDGUIDE_LEDGER_SIGNING_KEY": new_ledger_key()})
    assert status == 0, lines
    assert not [line for line in lines if line.startswith("ERROR")]
