"""The `fieldguide` command: serve, migrate, load and check content, create agencies and users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from . import bootstrap, db
from .content import ContentInvalid, load_content
from .models import Agency, Role
from .settings import Settings


def _run(coro):
    async def wrapped():
        try:
            return await coro
        finally:
            await db.close_db()

    return asyncio.run(wrapped())


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from .app import create_app

    try:
        prepared = _run(bootstrap.prepare(settings, demo=not args.no_demo))
    except db.MigrationsBehind as exc:
        print(f"Not starting: {exc}", file=sys.stderr)
        return 2
    except ContentInvalid as exc:
        print(f"Not starting: content/ has errors:\n{exc}", file=sys.stderr)
        return 2
    where = settings.database_url or str(settings.data_dir / "fieldguide.sqlite3")
    if prepared.new_database:
        print(f"Created a new database at {where} ({len(prepared.migrations_applied)} migrations).")
    else:
        print(f"Using the database at {where}.")
    if prepared.base_cards_changed:
        print(f"Base guidance loaded: {len(prepared.base_cards_changed)} card(s) new or changed.")
    url = f"http://{args.host}:{args.port}"
    if not args.no_demo:
        print(
            f"\nSRO Field Guide is at {url}\n"
            f"Sign in with one of the demo accounts (password: {bootstrap.DEMO_PASSWORD}):\n"
            + "".join(f"  {role.value:<10} {email}\n" for email, _, role, _ in bootstrap.DEMO_USERS)
        )
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level=args.log_level)
    return 0


def cmd_migrate(args, settings: Settings) -> int:
    async def go():
        await db.open_db(settings)
        return await db.migrate(settings)

    applied = _run(go())
    print(f"Applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "Up to date.")
    return 0


def cmd_load_content(args, settings: Settings) -> int:
    async def go():
        await db.open_db(settings)
        await db.ensure_current(settings)
        return await bootstrap.load_base_content(settings)

    try:
        changed = _run(go())
    except (ContentInvalid, db.MigrationsBehind) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"{len(changed)} base card(s) new or changed." if changed else "Base guidance unchanged.")
    return 0


def cmd_content_check(args, settings: Settings) -> int:
    content = load_content(settings.content_dir, strict=False)
    if content.errors:
        for error in content.errors:
            print(error, file=sys.stderr)
        print(f"{len(content.errors)} problem(s) in {settings.content_dir}", file=sys.stderr)
        return 1
    outcomes = sum(1 for n in content.flow["nodes"].values() if "outcome" in n)
    print(f"OK: {len(content.cards)} cards, {len(content.categories)} categories, {outcomes} flow outcomes.")
    return 0


def cmd_create_agency(args, settings: Settings) -> int:
    async def go():
        await db.open_db(settings)
        await db.ensure_current(settings)
        if await Agency.exists(slug=args.slug):
            raise SystemExit(f"An agency with slug {args.slug!r} exists already.")
        await bootstrap.load_base_content(settings)
        agency = await bootstrap.create_agency(settings, args.slug, args.name)
        if args.admin_email:
            await bootstrap.create_user(agency, args.admin_email, args.admin_name, Role.ADMIN, args.password)
        return agency

    agency = _run(go())
    print(f"Created agency {agency.slug!r} ({agency.name}) with release 1 of the base guidance.")
    return 0


def cmd_create_user(args, settings: Settings) -> int:
    password = args.password
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("Password (empty: set it later by invitation): ") or None

    async def go():
        await db.open_db(settings)
        await db.ensure_current(settings)
        agency = await Agency.get_or_none(slug=args.agency)
        if agency is None:
            raise SystemExit(f"No agency with slug {args.agency!r}.")
        return await bootstrap.create_user(agency, args.email, args.name, Role(args.role), password, args.school)

    user = _run(go())
    print(f"Created {user.role.value} {user.email} in agency {args.agency!r}.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="fieldguide", description="SRO Field Guide server and tools.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="Start the app (creating and migrating a new database first).")
    p.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
    p.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
    p.add_argument("--no-demo", action="store_true", help="Do not create the demo agency and accounts.")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="Apply pending database migrations.")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("load-content", help="Check content/ and store it as the base guidance.")
    p.set_defaults(func=cmd_load_content)

    p = sub.add_parser("content", help="Work with the guidance in content/.")
    content_sub = p.add_subparsers(dest="content_command", required=True, metavar="ACTION")
    c = content_sub.add_parser("check", help="Validate cards, sources and the decision flow.")
    c.set_defaults(func=cmd_content_check)

    p = sub.add_parser("create-agency", help="Create an agency (with release 1 of the base guidance).")
    p.add_argument("slug", help="Short lower-case id, e.g. springfield-pd.")
    p.add_argument("name", help="The agency's full name.")
    p.add_argument("--admin-email", help="Also create its first admin with this email.")
    p.add_argument("--admin-name", default="Administrator", help="The first admin's name.")
    p.add_argument("--password", help="The first admin's password (omit to set it by invitation).")
    p.set_defaults(func=cmd_create_agency)

    p = sub.add_parser("create-user", help="Create a user in an agency.")
    p.add_argument("agency", help="The agency's slug.")
    p.add_argument("email")
    p.add_argument("name")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.OFFICER.value)
    p.add_argument("--school", help="The officer's school (campus).")
    p.add_argument("--password", help="Password (omit to be asked, or to set it by invitation).")
    p.set_defaults(func=cmd_create_user)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fieldguide` command."""
    args = build_parser().parse_args(argv)
    return args.func(args, Settings.from_env()) or 0


if __name__ == "__main__":
    sys.exit(main())
