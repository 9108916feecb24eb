"""``python -m xmpp_components.journal admin …``: who may read whose journal.

Grants are stored in Switchboard's database; the running component sees them at once.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from sqlalchemy.exc import SQLAlchemyError

from schema import create_engine
from schema.migrate import upgrade
from xmpp_components.stack.settings import StackSettings

from .store import JournalStore


def _subject(value: str) -> str:
    if value.startswith("group:") or "@" in value:
        return value
    raise argparse.ArgumentTypeError(f"{value!r} is neither user@domain nor group:<name>")


async def _run(args: argparse.Namespace, settings: StackSettings) -> int:
    engine = create_engine(settings.effective_database_url)
    store = JournalStore(engine, settings.domain)
    try:
        if args.action == "grant":
            await store.grant(args.grantee, args.subject, can_read=True, can_write_notes=args.write)
            print(f"{args.grantee} may read{' and annotate' if args.write else ''} "
                  f"the journal of {args.subject}")
        elif args.action == "revoke":
            if not await store.revoke(args.grantee, args.subject):
                print(f"{args.grantee} had no grant on {args.subject}")
                return 1
            print(f"{args.grantee} may no longer read the journal of {args.subject}")
        else:
            grants = await store.grants()
            for grant in grants:
                rights = "read, notes" if grant.can_write_notes else "read"
                print(f"{grant.grantee:<32} {grant.subject:<32} {rights}")
            if not grants:
                print("no grants: everyone sees their own journal only")
    finally:
        await engine.dispose()
    return 0


def admin_main(argv: Sequence[str]) -> int:
    """Entry point of the admin CLI."""
    parser = argparse.ArgumentParser(
        prog="python -m xmpp_components.journal admin",
        description="Grant or revoke reading (and annotating) other users' and groups' journals. "
                    "Subjects and grantees are user@domain or group:<shared-roster group>.")
    actions = parser.add_subparsers(dest="action", required=True)
    grant = actions.add_parser("grant", help="let GRANTEE read SUBJECT's journal")
    grant.add_argument("grantee", type=_subject)
    grant.add_argument("subject", type=_subject)
    grant.add_argument("--write", action="store_true", help="also let them add notes there")
    revoke = actions.add_parser("revoke", help="take a grant back")
    revoke.add_argument("grantee", type=_subject)
    revoke.add_argument("subject", type=_subject)
    actions.add_parser("list", help="show every grant")
    args = parser.parse_args(argv)
    settings = StackSettings()
    try:
        upgrade(settings.effective_database_url)
        return asyncio.run(_run(args, settings))
    except (SQLAlchemyError, OSError) as exc:
        reason = getattr(exc, "orig", None) or exc
        print(f"cannot use the database {settings.effective_database_url}: {reason}; "
              "check SWITCHBOARD_DATABASE_URL / SWITCHBOARD_STATE_DIR")
        return 2
