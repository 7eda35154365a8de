"""The migrations in server/migrations/ make exactly the schema server/models.py describes,
and never import the app's code (so editing a model or an enum cannot change an old migration)."""

from __future__ import annotations

import ast

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from server import db
from server.settings import ROOT, Settings

MIGRATIONS = ROOT / "server" / "migrations"


async def test_the_migrations_match_the_models(tmp_path):
    """What `tortoise makemigrations` would write now: nothing, or the models and migrations disagree."""
    config = db.tortoise_config(Settings(data_dir=tmp_path))
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    pending = "\n".join(writer.as_string() for writer in writers)
    assert not writers, (
        "server/models.py and server/migrations/ disagree. Make the migration with\n"
        "  .venv/bin/tortoise -c server.db.TORTOISE_ORM makemigrations\n"
        "and freeze in it any enum it imports from server.models (see 0001_initial.py). "
        f"It would write:\n{pending}"
    )


def _imported_modules(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def test_migrations_import_nothing_of_the_app():
    files = sorted(MIGRATIONS.glob("*.py"))
    assert any(f.name.startswith("0001_") for f in files)
    for path in files:
        for name in _imported_modules(ast.parse(path.read_text(), str(path))):
            assert not name.startswith(("server", ".")), (
                f"{path.name} imports {name}: copy what it needs (e.g. an enum) into the migration"
            )
