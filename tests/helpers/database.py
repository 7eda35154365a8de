"""Where test databases come from."""

from __future__ import annotations

# The SQLite file of the template database (migrations, base content, demo), copied per test.
TEMPLATE_DB = "fieldguide.sqlite3"
# The PostgreSQL server (trust auth) the PostgreSQL tests make and drop their databases on.
PG = "postgres://postgres@127.0.0.1:5432"
