"""The `fieldguide` command: serve, migrate, load and check content, create agencies and users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from dataclasses import fields
from pathlib import Path

from server import bootstrap, db
from server.guidance.content import (
    ContentInvalid,
    load_content,
    longest_flow_path,
    tie_counts,
)
from server.models import Agency, Role, User
from server.people import accounts, audit
from server.settings import ROOT, Settings


def _run(coro):
    async def wrapped():
        try:
            return await coro
        finally:
            await db.close_db()

    return asyncio.run(wrapped())


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from server.app import create_app

    try:
        prepared = _run(bootstrap.prepare(settings, demo=not args.no_demo))
    except db.UNREACHABLE as exc:
        print(f"Not starting: cannot reach the database ({exc}); `fieldguide check-config` checks the settings.",
              file=sys.stderr)
        return 2
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
    from server.web.request_log import logging_config

    # One JSON line per request comes from the app (server/web/request_log.py); uvicorn's access
    # log would print raw paths, which carry invitation and reset tokens.
    uvicorn.run(
        create_app(settings), host=args.host, port=args.port, log_level=args.log_level,
        log_config=logging_config(args.log_level), access_log=False,
    )
    return 0


def cmd_migrate(args, settings: Settings) -> int:
    async def go():
        await db.open_db(settings)
        async with db.preparing(settings):
            return await db.migrate(settings)

    applied = _run(go())
    print(f"Applied {len(applied)} migration(s): {', '.join(applied)}" if applied else "Up to date.")
    return 0


def cmd_load_content(args, settings: Settings) -> int:
    async def go():
        await db.open_db(settings)
        async with db.preparing(settings):
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
    print(
        f"OK: {len(content.cards)} cards, {len(content.categories)} categories, {outcomes} flow outcomes, "
        f"{len(content.scenarios)} practice scenarios; "
        f"longest flow path {longest_flow_path(content.flow)} taps from home."
    )
    counts = tie_counts(content)
    print(
        f"Lines: {counts['passages']} tied to statement passages, {counts['framing']} framing only, "
        f"{counts['local']} pointing to local policy only."
    )
    return 0


def _link_url(args, settings: Settings, token: str) -> str:
    base = args.base_url or settings.base_url or "http://127.0.0.1:8000"
    return base.rstrip("/") + accounts.invitation_path(token)


def _print_link(args, settings: Settings, user: User, token: str) -> None:
    print(
        f"Single-use link for {user.email} to set their password "
        f"(expires in {settings.invitation_days} days; give it only to them):\n"
        f"  {_link_url(args, settings, token)}"
    )
    if _cli_mail(args, settings) is not None:
        print(f"It is also emailed to {user.email} (sent by a running server or `fieldguide push-worker`).")


def _cli_mail(args, settings: Settings):
    """Email for links made here when SMTP is set; links in it only from --base-url or FIELDGUIDE_BASE_URL."""
    from server.mail.config import mail_for

    return mail_for(settings, getattr(args, "base_url", None) or settings.base_url)


async def _create_user(settings: Settings, agency: Agency, email, name, role: Role, password, school=None, mail=None):
    """A user made from the command line, audited; with a set-password token when no password is given."""
    problem = accounts.password_problem(password, password) if password else None
    if problem:
        raise SystemExit(problem)
    try:
        email = accounts.check_email(email)
        name = accounts.check_name(name)
    except accounts.AccountError as exc:
        raise SystemExit(exc.message) from None
    if await User.exists(agency_id=agency.id, email=email):
        raise SystemExit(f"{email} already has an account in agency {agency.slug!r}.")
    user = await bootstrap.create_user(agency, email, name, role, password, school)
    await audit.record(agency, None, "user.create", email, details={"role": role.value, "by": "command line"})
    token = None if password else await accounts.new_link(None, user, settings.invitation_days, mail)
    return user, token


def cmd_create_agency(args, settings: Settings) -> int:
    if args.password and not args.admin_email:
        raise SystemExit("--password needs --admin-email.")

    async def go():
        await db.open_db(settings)
        await db.ensure_current(settings)
        if await Agency.exists(slug=args.slug):
            raise SystemExit(f"An agency with slug {args.slug!r} exists already.")
        async with db.preparing(settings):
            await bootstrap.load_base_content(settings)
        agency = await bootstrap.create_agency(settings, args.slug, args.name)
        await audit.record(agency, None, "agency.create", agency.slug, details={"name": agency.name})
        admin = token = None
        if args.admin_email:
            admin, token = await _create_user(
                settings, agency, args.admin_email, args.admin_name, Role.ADMIN, args.password,
                mail=_cli_mail(args, settings),
            )
        return agency, admin, token

    agency, admin, token = _run(go())
    print(f"Created agency {agency.slug!r} ({agency.name}) with release 1 of the base guidance.")
    if admin:
        print(f"Created its first admin {admin.email}.")
    if token:
        _print_link(args, settings, admin, token)
    return 0


async def _open_agency(settings: Settings, slug: str) -> Agency | None:
    """Open the (current) database and find an agency by slug; None when there is none."""
    await db.open_db(settings)
    await db.ensure_current(settings)
    return await Agency.get_or_none(slug=slug)


def cmd_create_user(args, settings: Settings) -> int:
    password = args.password
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("Password (empty: print a link to set it): ") or None

    async def go():
        agency = await _open_agency(settings, args.agency)
        if agency is None:
            raise SystemExit(f"No agency with slug {args.agency!r}.")
        return await _create_user(
            settings, agency, args.email, args.name, Role(args.role), password, args.school, _cli_mail(args, settings)
        )

    user, token = _run(go())
    print(f"Created {user.role.value} {user.email} in agency {args.agency!r}.")
    if token:
        _print_link(args, settings, user, token)
    return 0


def cmd_password_link(args, settings: Settings) -> int:
    async def go():
        await db.open_db(settings)
        await db.ensure_current(settings)
        query = User.filter(email=args.email.strip().lower()).prefetch_related("agency")
        if args.agency:
            query = query.filter(agency__slug=args.agency)
        users = await query.order_by("id")
        if not users:
            where = f" in agency {args.agency!r}" if args.agency else ""
            raise SystemExit(f"No account has the email {args.email!r}{where}.")
        if len(users) > 1:
            slugs = ", ".join(u.agency.slug for u in users)
            raise SystemExit(f"{args.email!r} has an account in several agencies ({slugs}): add --agency SLUG.")
        user = users[0]
        try:
            return user, await accounts.new_link(None, user, settings.invitation_days, _cli_mail(args, settings))
        except accounts.AccountError as exc:
            raise SystemExit(exc.message) from None

    user, token = _run(go())
    _print_link(args, settings, user, token)
    return 0


def _print_roster_plan(plan) -> None:
    counts = plan.counts()
    print(
        f"{counts['rows']} rows: {counts['created']} to create, {counts['updated']} to update "
        f"({counts['reactivated']} reactivated), {counts['unchanged']} unchanged, "
        + (f"{counts['deactivated']} to deactivate, " if plan.deactivate_missing else "")
        + f"{counts['wrong']} wrong."
    )
    for entry in plan.create:
        print(f"  create      line {entry.line}: {entry.email} {entry.name!r} {entry.role.value} {entry.school or ''}".rstrip())
    for change in plan.update:
        what = [f"{name} {before!r} -> {after!r}" for name, (before, after) in change.changes.items()]
        what = (["reactivate"] if change.reactivate else []) + what
        print(f"  update      line {change.entry.line}: {change.entry.email}: {'; '.join(what)}")
    for person in plan.deactivate:
        print(f"  deactivate  {person.email} {person.name!r}")
    for problem in plan.problems:
        print(f"  WRONG       line {problem.line}: {problem.email + ': ' if problem.email else ''}{problem.message}")


def cmd_import_roster(args, settings: Settings) -> int:
    from server.mail.config import mail_for
    from server.people import roster

    try:
        data = Path(args.file).read_bytes() if args.file != "-" else sys.stdin.buffer.read()
    except OSError as exc:
        print(f"Cannot read {args.file}: {exc.strerror}.", file=sys.stderr)
        return 2

    async def go():
        agency = await _open_agency(settings, args.agency)
        if agency is None:
            print(f"No agency with slug {args.agency!r}.", file=sys.stderr)
            return 2, None
        try:
            plan = await roster.plan(agency.id, data, None, args.deactivate_missing)
            _print_roster_plan(plan)
            if not plan.ok:
                print("Nothing was written: fix the wrong rows and run the command again.", file=sys.stderr)
                return 1, None
            if args.dry_run:
                print("Dry run: nothing was written.")
                return 0, None
            result = await roster.apply(
                agency,
                None,
                data,
                args.deactivate_missing,
                settings.invitation_days,
                plan.digest(),
                "command line",
                mail_for(settings, args.base_url),  # emailed links never point at the development default
            )
        except roster.RosterError as exc:
            print(exc.message, file=sys.stderr)
            return 1, None
        except roster.PlanChanged:
            print("Nothing was written: the agency's people changed while the file was read. Run it again.", file=sys.stderr)
            return 1, None
        return 0, result

    code, result = _run(go())
    if result is not None:
        print("Applied in one transaction; recorded in the audit log.")
        if result.links:
            emailed = " (also emailed to each person)" if settings.smtp_url.strip() else ""
            print(
                f"Single-use links to set a password{emailed}; each expires in {settings.invitation_days} days "
                "and must go only to its person:"
            )
            for email, _name, token in result.links:
                print(f"  {email} {_link_url(args, settings, token)}")
    return code


BASE_URL_HELP = (
    "The app's public address for printed links (default: FIELDGUIDE_BASE_URL, else http://127.0.0.1:8000)."
)


def cmd_push_worker(args, settings: Settings) -> int:
    import logging.config

    from server.push.worker import run_standalone
    from server.web.request_log import logging_config

    logging.config.dictConfig(logging_config("info"))
    counts = asyncio.run(run_standalone(settings, until_empty=args.until_empty))
    print("Push worker stopped: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
    return 0


LEDGER_EXIT_CODES = "exit codes: 0 intact, 1 broken, 2 usage (no such agency, unreadable file), 3 the checkpoint's signature does not verify"


def _read_keys(paths: list[str] | None):
    """Verifiers from --public-key files; ValueError names a file that is not one."""
    from server import ledger_signing as signing

    verifiers = []
    for path in paths or []:
        try:
            verifiers.append(signing.Verifier.from_pem(Path(path).read_text()))
        except (OSError, UnicodeDecodeError, signing.SigningKeyError) as exc:
            raise ValueError(f"--public-key {path}: {exc}") from None
    return verifiers


def cmd_ledger_verify(args, settings: Settings) -> int:
    from server.acknowledgments import checkpoints
    from server.acknowledgments.ledger import site_keys

    try:
        extra = _read_keys(args.public_key)
        body = checkpoints.read_checkpoint(Path(args.checkpoint).read_text()) if args.checkpoint else None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"Cannot read: {exc}", file=sys.stderr)
        return 2

    async def go():
        agency = await _open_agency(settings, args.agency)
        if agency is None:
            return checkpoints.Report(2, f"No agency with slug {args.agency!r}.")
        # Given public keys replace the site's own: check with keys held elsewhere.
        keys = {v.key_id: v for v in extra} if extra else site_keys()
        return await checkpoints.report(agency, body, keys)

    result = _run(go())
    print(result.message, file=sys.stdout if result.status == 0 else sys.stderr)
    return result.status


def cmd_ledger_checkpoint(args, settings: Settings) -> int:
    from server.acknowledgments import checkpoints

    async def go():
        agency = await _open_agency(settings, args.agency)
        if agency is None:
            return None
        return checkpoints.checkpoint_file(await checkpoints.make_checkpoint(agency, "command"))

    text = _run(go())
    if text is None:
        print(f"No agency with slug {args.agency!r}.", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(text)
        print(f"Checkpoint written to {args.out}.")
    else:
        print(text, end="")
    return 0


def cmd_ledger_public_key(args, settings: Settings) -> int:
    from server import ledger_signing as signing

    verifier = signing.site_key(settings).verifier
    print(verifier.pem, end="")
    print(f"key id {verifier.key_id}", file=sys.stderr)
    return 0


def cmd_check_config(args, settings: Settings) -> int:
    from server.config_check import ERROR, Layout, check_all

    layout = Layout(args.app_processes, args.push_workers, args.production)
    findings = check_all(settings, layout)
    for finding in findings:
        print(finding)
    errors = sum(1 for f in findings if f.level == ERROR)
    warnings = len(findings) - errors
    if errors:
        print(f"check-config: {errors} error(s), {warnings} warning(s).")
        return 1
    print(f"check-config: no errors, {warnings} warning(s)." if warnings else "check-config: OK.")
    return 0


def _print_outcome(verb: str, outcome) -> None:
    keys = ", ".join(outcome.keys) if outcome.keys else "no key files"
    print(
        f"{verb} {outcome.database} ({outcome.database_bytes:,} bytes, {outcome.migrations} migrations) "
        f"and {keys}: {outcome.folder} in {outcome.seconds:.2f} s."
    )
    for name in outcome.keys_in_environment:
        print(
            f"Note: {name} is given by the environment, so that key is not in the backup: keep the "
            "environment file (e.g. /etc/fieldguide/fieldguide.env) safe with it; a restored server needs it."
        )


def cmd_backup(args, settings: Settings) -> int:
    from server.backup import BackupError, backup

    try:
        outcome = backup(settings, Path(args.path))
    except BackupError as exc:
        print(f"Backup failed: {exc}", file=sys.stderr)
        return 1
    _print_outcome("Backed up", outcome)
    return 0


def cmd_restore(args, settings: Settings) -> int:
    from server.backup import BackupError, restore

    try:
        outcome = restore(settings, Path(args.path), force=args.force)
    except BackupError as exc:
        print(f"Not restored: {exc}", file=sys.stderr)
        return 1
    _print_outcome("Restored", outcome)
    print("Start the server: it refuses to start if the backup's migrations are behind (then: fieldguide migrate).")
    return 0


SETTINGS_TABLE_START = "<!-- settings-table: made by `fieldguide settings-table --write` from the help texts in server/settings.py -->"
SETTINGS_TABLE_END = "<!-- /settings-table -->"


def _default_cell(f) -> str:
    """A setting's default as README shows it (a help text's "; default: ..." says it in words)."""
    if "; default: " in f.metadata["help"]:
        return f.metadata["help"].split("; default: ", 1)[1].rstrip(".")
    value = f.default
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        return f"`./{value.relative_to(ROOT)}`" if value.is_relative_to(ROOT) else f"`{value}`"
    return f"`{value}`" if value != "" else "none"


def settings_table() -> str:
    """The Markdown table of every setting: variable, default and meaning, from Settings' metadata."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        meaning = f.metadata["help"].split("; default: ", 1)[0].rstrip(".") + "."
        cells = [f"`{f.metadata['env']}`", _default_cell(f), meaning]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def cmd_settings_table(args, settings: Settings) -> int:
    table = settings_table()
    if not args.write:
        print(table, end="")
        return 0
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.find(SETTINGS_TABLE_START), text.find(SETTINGS_TABLE_END)
    if start < 0 or end < start:
        print(f"README.md has no {SETTINGS_TABLE_START} ... {SETTINGS_TABLE_END} markers.", file=sys.stderr)
        return 1
    head = text[: start + len(SETTINGS_TABLE_START)]
    new = head + "\n" + table + text[end:]
    if new != text:
        readme.write_text(new)
    print("README.md settings table " + ("updated." if new != text else "already up to date."))
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
    p.add_argument("--password", help="The first admin's password (omit to print a link to set it).")
    p.add_argument("--base-url", help=BASE_URL_HELP)
    p.set_defaults(func=cmd_create_agency)

    p = sub.add_parser("create-user", help="Create a user in an agency.")
    p.add_argument("agency", help="The agency's slug.")
    p.add_argument("email")
    p.add_argument("name")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.OFFICER.value)
    p.add_argument("--school", help="The officer's school (campus).")
    p.add_argument("--password", help="Password (omit to be asked, or to print a link to set it).")
    p.add_argument("--base-url", help=BASE_URL_HELP)
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser(
        "password-link",
        help="Print a new single-use link for a person to set their password (ends earlier links).",
    )
    p.add_argument("email")
    p.add_argument("--agency", help="The agency's slug, when the email has an account in several.")
    p.add_argument("--base-url", help=BASE_URL_HELP)
    p.set_defaults(func=cmd_password_link)

    p = sub.add_parser(
        "import-roster",
        help="Create, update and optionally deactivate an agency's people from a CSV (email, name, role, school).",
        description="Prints what the file would do and every wrong row, then applies it in one transaction "
        "(unless --dry-run). Exit 0: done (or a clean dry run); 1: wrong rows or an unreadable file, nothing "
        "written; 2: usage (no such agency or file).",
    )
    p.add_argument("agency", help="The agency's slug.")
    p.add_argument("file", help="The CSV file (UTF-8; - reads standard input).")
    p.add_argument("--dry-run", action="store_true", help="Print what would change; write nothing.")
    p.add_argument(
        "--deactivate-missing", action="store_true", help="Also deactivate active officers missing from the file."
    )
    p.add_argument("--base-url", help=BASE_URL_HELP)
    p.set_defaults(func=cmd_import_roster)

    p = sub.add_parser("push-worker", help="Send queued push notices (run beside servers started with FIELDGUIDE_PUSH_WORKER=false).")
    p.add_argument("--until-empty", action="store_true", help="Exit once no notice is left to send.")
    p.set_defaults(func=cmd_push_worker)

    p = sub.add_parser("ledger", help="Work with the hash-chained acknowledgment ledger.")
    ledger_sub = p.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    c = ledger_sub.add_parser(
        "verify", help="Re-check an agency's chain (hashes, signatures, releases); exit 1 at the first broken link.",
        epilog=LEDGER_EXIT_CODES,
    )
    c.add_argument("--agency", required=True, help="The agency's slug.")
    c.add_argument("--checkpoint", metavar="FILE",
                   help="A checkpoint file kept earlier: also prove no row up to it was cut off, rewritten or forged.")
    c.add_argument("--public-key", metavar="PEM", action="append",
                   help="Check signatures with this public key instead of the site's (repeat for earlier keys).")
    c.set_defaults(func=cmd_ledger_verify)
    c = ledger_sub.add_parser("checkpoint", help="Sign and store a checkpoint of an agency's chain; print or write it.")
    c.add_argument("--agency", required=True, help="The agency's slug.")
    c.add_argument("--out", metavar="FILE", help="Write the checkpoint here instead of printing it.")
    c.set_defaults(func=cmd_ledger_checkpoint)
    c = ledger_sub.add_parser("public-key", help="Print the ledger's public key (PEM); its key id goes to stderr.")
    c.set_defaults(func=cmd_ledger_public_key)

    p = sub.add_parser(
        "check-config",
        help="Report settings and database problems (exit 1 on errors, 0 with warnings only).",
    )
    p.add_argument("--app-processes", type=int, default=1, help="`fieldguide serve` processes the site runs (default 1).")
    p.add_argument("--push-workers", type=int, default=0, help="`fieldguide push-worker` processes it runs (default 0).")
    p.add_argument(
        "--production", action="store_true",
        help="Check as for real users (implied by PostgreSQL or a public FIELDGUIDE_BASE_URL).",
    )
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser(
        "backup", help="Back up the database and the data folder's key files into a new folder (while serving)."
    )
    p.add_argument("path", help="A new (or empty) folder for the backup; it holds keys: keep it private.")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="Check a backup made by `fieldguide backup` and restore it.")
    p.add_argument("path", help="The backup's folder.")
    p.add_argument("--force", action="store_true", help="Replace an existing database and key files.")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("settings-table", help="Print README's table of settings, made from their help texts.")
    p.add_argument("--write", action="store_true", help="Replace the table in README.md (between its markers) instead.")
    p.set_defaults(func=cmd_settings_table)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `fieldguide` command."""
    args = build_parser().parse_args(argv)
    return args.func(args, Settings.from_env()) or 0


if __name__ == "__main__":
    sys.exit(main())
