"""``python -m tui``: open the terminal client for one account: the one given with ``--jid``
(password in an environment variable), else the one saved by the login screen, else the login
screen."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tui.app import SwitchboardApp
from tui.session import Account
from tui.settings import ClientSettings


def saved_login(settings: ClientSettings,
                media_addresses: tuple[str, ...] | None = ("127.0.0.1",)) -> Account | None:
    """The account saved by the login screen, with its password from the system keyring; None
    when there is none, or its password is not kept there (then the login screen asks)."""
    saved = settings.account
    if saved is None or not saved.password_in_keyring:
        return None
    from tui.passwords import stored_password

    password = stored_password(saved.jid)
    if not password:
        return None
    return Account(saved.jid, password, saved.server, saved.port, saved.ca_file,
                   media_addresses=media_addresses)


def main(argv: list[str] | None = None) -> int:
    """Parse the account options and run the client until the user quits."""
    parser = argparse.ArgumentParser(
        prog="python -m tui", description="Switchboard terminal client.")
    parser.add_argument("--jid", default=os.environ.get("SWITCHBOARD_CLIENT_JID"), required=False,
                        help="account, e.g. alice@localhost (env SWITCHBOARD_CLIENT_JID)")
    parser.add_argument("--password-env", default="SWITCHBOARD_CLIENT_PASSWORD",
                        help="name of the environment variable holding the password "
                             "(default SWITCHBOARD_CLIENT_PASSWORD); never pass it as an argument")
    parser.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5222, help="client port (default 5222)")
    parser.add_argument("--ca-file", type=Path, default=None,
                        help="certificate to trust for the server (the stack's .state/tls/ca.pem)")
    parser.add_argument("--media-address", action="append", default=None, metavar="ADDRESS",
                        help="local address for call media, repeatable; 'all' for every interface "
                             "(default 127.0.0.1: calls between clients on this machine, like every "
                             "listener of the suite)")
    args = parser.parse_args(argv)
    addresses = args.media_address or ["127.0.0.1"]
    media = None if "all" in addresses else tuple(addresses)
    if not args.jid:  # the saved account, or the login screen
        SwitchboardApp(saved_login(ClientSettings.load(), media)).run()
        return 0
    password = os.environ.get(args.password_env)
    if not password:
        parser.error(f"give the password of {args.jid} in ${args.password_env}; or start without "
                     "--jid to log in on the login screen, or start the demo with ./switchboard up")
    if args.ca_file is not None and not args.ca_file.is_file():
        parser.error(f"--ca-file {args.ca_file} does not exist; run ./switchboard up once to create it")
    SwitchboardApp(Account(args.jid, password, args.host, args.port, args.ca_file,
                           media_addresses=media)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
