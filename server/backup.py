"""`fieldguide backup` and `fieldguide restore`: the database plus the data folder's key files, checked.

A backup is a folder (mode 0700) holding the database — SQLite: a consistent copy made with
SQLite's online backup API while the server runs; PostgreSQL: a `pg_dump -Fc` archive — every
key file of the data folder (KEY_FILES), and `manifest.json`: each file's size and SHA-256, the
migrations the database has applied, the time and the app version. Every file is mode 0600:
the keys sign push notices and ledger rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from server.settings import Settings

MANIFEST = "manifest.json"
FORMAT = 1
SQLITE_FILE = "fieldguide.sqlite3"
PG_DUMP_FILE = "database.dump"
MIGRATIONS_TABLE = "tortoise_migrations"
APP_LABEL = "models"
# The key files of the data folder, each with the setting that replaces it when given. A backup
# without them restores a server that makes new keys: every push subscription silently dies,
# and new ledger rows are signed with a key the published one does not match.
# (The names are server/push/vapid.py's and server/ledger_signing.py's KEY_FILE; tests/test_backup.py
# checks they agree.)
KEY_FILES = {
    "vapid_private_key.pem": "vapid_private_key",
    "ledger_signing_key.pem": "ledger_signing_key",
}


class BackupError(RuntimeError):
    """A backup or restore that cannot be made safely; the message says why and what to do."""


@dataclass
class Outcome:
    """What a backup or restore did, for the command line to report."""

    folder: Path
    database: str
    database_bytes: int
    migrations: int
    keys: list[str] = field(default_factory=list)
    keys_in_environment: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def app_version() -> str:
    """The installed app's version."""
    try:
        return metadata.version("sro-field-guide")
    except metadata.PackageNotFoundError:
        return "unknown"


def sqlite_path(settings: Settings) -> Path:
    """The SQLite database file these settings use."""
    return Path(settings.db_url[len("sqlite://"):].split("?", 1)[0])


def env_name(setting: str) -> str:
    """The environment variable of a Settings field."""
    return Settings.__dataclass_fields__[setting].metadata["env"]


def _keys_in_environment(settings: Settings) -> list[str]:
    return [
        env_name(setting)
        for setting in KEY_FILES.values()
        if getattr(settings, setting)
    ]


def _private_folder(folder: Path) -> None:
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} exists and is not empty; give a new folder for the backup.")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _private_copy(source: Path, target: Path) -> None:
    """Copy a file so that it is mode 0600 from its first byte."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(target, 0o600)


def _sqlite_migrations(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            f"SELECT name FROM {MIGRATIONS_TABLE} WHERE app = ? ORDER BY name", (APP_LABEL,)
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} is not a database of this app ({exc}).") from None
    finally:
        conn.close()
    return [name for (name,) in rows]


def sqlite_integrity(path: Path) -> str:
    """SQLite's integrity check of a database file: "ok" or the first problems it found."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return "; ".join(row[0] for row in rows[:5])


def _backup_sqlite(settings: Settings, folder: Path) -> tuple[str, list[str]]:
    source = sqlite_path(settings)
    if not source.exists():
        raise BackupError(f"There is no database at {source}.")
    target = folder / SQLITE_FILE
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        # One step (pages=-1) copies the whole database under one read transaction: a consistent
        # snapshot, which in WAL mode never blocks the server's writes.
        src.backup(dst, pages=-1)
        # A self-contained file (no -wal beside it); the server turns WAL on again when it opens it.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()
    integrity = sqlite_integrity(target)
    if integrity != "ok":
        raise BackupError(f"The copy of the database failed SQLite's integrity check: {integrity}")
    return SQLITE_FILE, _sqlite_migrations(target)


async def _pg_migrations(settings: Settings) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", MIGRATIONS_TABLE)
        if not exists:
            return []
        rows = await conn.fetch(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE app = $1 ORDER BY name", APP_LABEL)
    finally:
        await conn.close()
    return [row["name"] for row in rows]


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools, or back up with {name} "
            "yourself as docs/deployment.md describes (the database, then the key files)."
        )
    return found


def _backup_postgres(settings: Settings, folder: Path) -> tuple[str, list[str]]:
    pg_dump = _pg_tool("pg_dump")
    target = folder / PG_DUMP_FILE
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    # The migration level first: the dump (one snapshot) has at least these.
    migrations = asyncio.run(_pg_migrations(settings))
    done = subprocess.run(
        [pg_dump, "--format=custom", "--no-owner", f"--file={target}", f"--dbname={settings.postgres_dsn}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    return PG_DUMP_FILE, migrations


def backup(settings: Settings, folder: Path) -> Outcome:
    """Write a backup of the database and the data folder's key files into a new folder."""
    started = time.monotonic()
    _private_folder(folder)
    if settings.is_sqlite:
        database, migrations = _backup_sqlite(settings, folder)
    else:
        database, migrations = _backup_postgres(settings, folder)
    keys = []
    for name in KEY_FILES:
        source = settings.data_dir / name
        if source.exists():
            _private_copy(source, folder / name)
            keys.append(name)
    in_environment = _keys_in_environment(settings)
    files = [database, *keys]
    manifest = {
        "format": FORMAT,
        "app_version": app_version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": {"kind": "sqlite" if settings.is_sqlite else "postgresql", "file": database},
        "migrations": migrations,
        "files": {name: {"bytes": (folder / name).stat().st_size, "sha256": sha256_of(folder / name)} for name in files},
        "keys_in_environment": in_environment,
    }
    fd = os.open(folder / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(manifest, out, indent=2)
        out.write("\n")
    return Outcome(
        folder, database, (folder / database).stat().st_size, len(migrations), keys, in_environment,
        time.monotonic() - started,
    )


def read_manifest(folder: Path) -> dict:
    """The backup's manifest, after checking every file it lists against its SHA-256."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{folder} has no {MANIFEST}: it is not a backup made by `fieldguide backup`.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"{folder / MANIFEST} is not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
        raise BackupError(f"{folder / MANIFEST} is not a backup manifest this version reads (format {FORMAT}).")
    for name, expected in manifest["files"].items():
        if Path(name).name != name or not (name == manifest["database"]["file"] or name in KEY_FILES):
            raise BackupError(f"The manifest lists an unexpected file {name!r}.")
        path = folder / name
        if not path.is_file():
            raise BackupError(f"{name} is missing from the backup.")
        if sha256_of(path) != expected.get("sha256"):
            raise BackupError(f"{name} does not match its SHA-256 in the manifest: the backup is damaged.")
    return manifest


def known_migrations() -> set[str]:
    """The names of the migrations this version of the app ships."""
    from server import migrations

    return {path.stem for path in Path(migrations.__file__).parent.glob("[0-9]*.py")}


def _check_migrations(manifest: dict) -> None:
    newer = sorted(set(manifest.get("migrations", [])) - known_migrations())
    if newer:
        raise BackupError(
            f"The backup was made by a newer version of the app (migrations {', '.join(newer)} are unknown "
            f"here; it says {manifest.get('app_version')}): install that version, then restore."
        )


def _check_keys(settings: Settings, folder: Path, manifest: dict, force: bool) -> list[str]:
    keys = [name for name in manifest["files"] if name in KEY_FILES]
    for name in keys:
        existing = settings.data_dir / name
        if existing.exists() and sha256_of(existing) != sha256_of(folder / name) and not force:
            raise BackupError(
                f"{existing} exists with another key; restoring over it needs --force "
                "(push subscriptions made with the current key would stop working)."
            )
    return keys


def _restore_sqlite(settings: Settings, folder: Path, manifest: dict, force: bool) -> Path:
    target = sqlite_path(settings)
    if target.exists() and not force:
        raise BackupError(f"A database exists at {target}; stop the server and add --force to replace it.")
    source = folder / manifest["database"]["file"]
    integrity = sqlite_integrity(source)
    if integrity != "ok":
        raise BackupError(f"The backup's database fails SQLite's integrity check: {integrity}")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.restoring")
    _private_copy(source, temp)
    # A replaced database must not meet the old one's write-ahead log.
    for suffix in ("-wal", "-shm"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(temp, target)
    return target


async def _pg_is_empty(settings: Settings) -> bool:
    import asyncpg

    conn = await asyncpg.connect(settings.postgres_dsn)
    try:
        return not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", MIGRATIONS_TABLE)
    finally:
        await conn.close()


def _restore_postgres(settings: Settings, folder: Path, manifest: dict, force: bool) -> None:
    pg_restore = _pg_tool("pg_restore")
    if not asyncio.run(_pg_is_empty(settings)) and not force:
        raise BackupError(
            "The configured PostgreSQL database has the app's tables; stop every process and add --force "
            "to replace them (or restore into a new, empty database)."
        )
    argv = [pg_restore, "--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={settings.postgres_dsn}"]
    if force:
        argv[1:1] = ["--clean", "--if-exists"]
    done = subprocess.run([*argv, str(folder / manifest["database"]["file"])], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def restore(settings: Settings, folder: Path, *, force: bool = False) -> Outcome:
    """Restore a backup made by backup() into the configured database and data folder."""
    started = time.monotonic()
    manifest = read_manifest(folder)
    kind = manifest["database"]["kind"]
    if kind != ("sqlite" if settings.is_sqlite else "postgresql"):
        raise BackupError(
            f"The backup holds a {kind} database but the settings name "
            f"{'SQLite' if settings.is_sqlite else 'PostgreSQL'}; set FIELDGUIDE_DATABASE_URL to match."
        )
    _check_migrations(manifest)
    keys = _check_keys(settings, folder, manifest, force)
    if settings.is_sqlite:
        _restore_sqlite(settings, folder, manifest, force)
    else:
        _restore_postgres(settings, folder, manifest, force)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for name in keys:
        temp = settings.data_dir / f".{name}.restoring"
        _private_copy(folder / name, temp)
        os.replace(temp, settings.data_dir / name)
    database = manifest["database"]["file"]
    return Outcome(
        folder, database, manifest["files"][database]["bytes"], len(manifest.get("migrations", [])), keys,
        list(manifest.get("keys_in_environment", [])), time.monotonic() - started,
    )
