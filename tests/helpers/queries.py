"""Counting the SQL statements the app sends, on SQLite or PostgreSQL alike."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from tortoise import connections

EXECUTE = ("execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script")


@contextmanager
def recorded_queries():
    """Yields the list of SQL statements sent through the default connection while inside.

    Wraps the execute methods of the connection's client class and of its subclasses (the
    transaction wrappers), so statements in transactions count too.
    """
    statements: list[str] = []
    client = type(connections.get("default"))
    with pytest.MonkeyPatch.context() as patch:
        for cls in (client, *client.__subclasses__()):
            for name in EXECUTE:
                original = getattr(cls, name, None)
                if original is None:
                    continue

                async def counted(self, query, *args, _original=original, **kwargs):
                    statements.append(query)
                    return await _original(self, query, *args, **kwargs)

                patch.setattr(cls, name, counted)
        yield statements
