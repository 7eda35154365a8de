"""Emails unique per agency instead of across every agency.

One agency's admin could learn that an address had an account in another agency, or block
another agency's invitation by inviting the address first. An address is now unique within an
agency (it stays lower-cased by the code) and keeps an index of its own for sign-in, which
looks people up by email across agencies.

The schema change is written out per database rather than left to the generated operations:
on SQLite, dropping a column's UNIQUE means rebuilding "user", which most tables reference
(ON DELETE RESTRICT), so the rebuild runs with foreign keys off, in one transaction that
checks them before committing, and keeps every index of the table. That is why this migration
is not atomic as a whole: SQLite ignores turning foreign keys off inside a transaction. The two
operations after it only record the new state.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint
from tortoise.transactions import in_transaction

EMAIL_INDEX = "idx_user_email_1b4f1c"
AGENCY_EMAIL = "uid_user_agency__22cb5d"
# What the generated operations would make: on SQLite a unique index, on PostgreSQL a constraint.
SQLITE_NEW = [
    f'CREATE INDEX "{EMAIL_INDEX}" ON "user" ("email")',
    f'CREATE UNIQUE INDEX "{AGENCY_EMAIL}" ON "user" ("agency_id", "email")',
]
POSTGRES_NEW = [
    f'CREATE INDEX "{EMAIL_INDEX}" ON "user" ("email")',
    f'ALTER TABLE "user" ADD CONSTRAINT "{AGENCY_EMAIL}" UNIQUE ("agency_id", "email")',
]
UNIQUE_EMAIL = '"email" VARCHAR(254) NOT NULL UNIQUE'
PLAIN_EMAIL = '"email" VARCHAR(254) NOT NULL'


class StateOnly:
    """An operation that changes the recorded state only (the RunPython before did the database)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return None


class AlterFieldState(StateOnly, ops.AlterField):
    pass


class AddConstraintState(StateOnly, ops.AddConstraint):
    pass


async def _rows(client, sql: str, values=None) -> list:
    _, rows = await client.execute_query(sql, values or [])
    return list(rows)


async def _sqlite_rebuild(client, table_sql_from: str, table_sql_to: str, drop_indexes: list[str], add: list[str]):
    """Rebuild "user" with another column definition, keeping its other indexes (foreign keys off).

    One statement at a time (executescript would commit the transaction it runs in).
    """
    table = await _rows(client, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'user'")
    definition = table[0][0]
    if definition.count(table_sql_from) != 1:
        raise RuntimeError(f'The "user" table is not as expected: {definition}')
    definition = definition.replace(table_sql_from, table_sql_to).replace('CREATE TABLE "user"', 'CREATE TABLE "new__user"', 1)
    indexes = [
        sql
        for name, sql in await _rows(
            client, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'user' AND sql IS NOT NULL"
        )
        if name not in drop_indexes
    ]
    await client.execute_query("PRAGMA foreign_keys = OFF")
    try:
        await client.execute_query("BEGIN IMMEDIATE")
        try:
            await client.execute_query(definition)
            await client.execute_query('INSERT INTO "new__user" SELECT * FROM "user"')
            await client.execute_query('DROP TABLE "user"')
            await client.execute_query('ALTER TABLE "new__user" RENAME TO "user"')
            for sql in indexes + add:
                await client.execute_query(sql)
            broken = await _rows(client, "PRAGMA foreign_key_check")
            if broken:
                raise RuntimeError(f"Foreign keys would break: {broken[:5]}")
            await client.execute_query("COMMIT")
        except BaseException:
            await client.execute_query("ROLLBACK")
            raise
    finally:
        await client.execute_query("PRAGMA foreign_keys = ON")


async def _postgres_unique_email(conn) -> list[str]:
    rows = await conn.execute_query_dict(
        """
        SELECT c.conname AS name FROM pg_constraint c
          JOIN pg_class t ON t.oid = c.conrelid
         WHERE t.relname = 'user' AND c.contype = 'u'
           AND c.conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = t.oid AND attname = 'email')]::int2[]
        """
    )
    return [row["name"] for row in rows]


async def forward(apps, schema_editor) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "sqlite":
        await _sqlite_rebuild(client, UNIQUE_EMAIL, PLAIN_EMAIL, [], SQLITE_NEW)
        return
    async with in_transaction(client.connection_name) as conn:
        for name in await _postgres_unique_email(conn):
            await conn.execute_script(f'ALTER TABLE "user" DROP CONSTRAINT "{name}"')
        for sql in POSTGRES_NEW:
            await conn.execute_script(sql)


async def backward(apps, schema_editor) -> None:
    # Fails, changing nothing, once one address has accounts in two agencies.
    client = schema_editor.client
    if client.capabilities.dialect == "sqlite":
        await _sqlite_rebuild(client, PLAIN_EMAIL, UNIQUE_EMAIL, [EMAIL_INDEX, AGENCY_EMAIL], [])
        return
    async with in_transaction(client.connection_name) as conn:
        await conn.execute_script(f'DROP INDEX "{EMAIL_INDEX}"')
        await conn.execute_script(f'ALTER TABLE "user" DROP CONSTRAINT "{AGENCY_EMAIL}"')
        await conn.execute_script('ALTER TABLE "user" ADD CONSTRAINT "user_email_key" UNIQUE ("email")')


class Migration(migrations.Migration):
    dependencies = [('models', '0005_ledger_signatures')]

    initial = False
    atomic = False

    operations = [
        ops.RunPython(forward, backward),
        AlterFieldState(
            model_name='User',
            name='email',
            field=fields.CharField(db_index=True, max_length=254),
        ),
        AddConstraintState(
            model_name='User',
            constraint=UniqueConstraint(fields=('agency', 'email'), name=None),
        ),
    ]
