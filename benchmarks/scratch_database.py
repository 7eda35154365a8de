"""A PostgreSQL database made for one benchmark run and dropped after it, whatever happens."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from typing import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg


@asynccontextmanager
async def scratch_postgres(server_url: str, prefix: str = "fieldguide_bench") -> AsyncIterator[str]:
    """Yield the URL of a new, uniquely named database on the server at server_url (any database path)."""
    parts = urlsplit(server_url)
    admin = await asyncpg.connect(urlunsplit(parts._replace(path=parts.path if parts.path.strip("/") else "/postgres")))
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
