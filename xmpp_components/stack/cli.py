"""``./switchboard up|down|status|client|config``: run the whole stack on this machine.

``up`` starts ejabberd, migrates the database, starts the components, registers the demo
accounts and opens the terminal client as alice. Quitting the client leaves the servers running;
``down`` stops everything and checks that nothing is left.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from schema.migrate import upgrade

from .ejabberd import EjabberdError, EjabberdServer
from .processes import COMPONENTS, AssistantProcess, ComponentProcess, ProcessError, ServiceProcess
from .settings import StackSettings

DEMO_PASSWORDS = {"alice": "alice", "bob": "bob", "carol": "carol", "assistant": "assistant"}
DEMO_CARDS = {  # the people's business cards, set once: the contact card, the directory and the
    # incoming-call window show them (the assistant publishes its own)
    "alice": {"FN": "Alice Adams", "ORG/ORGNAME": "Sales", "TITLE": "Account manager",
              "TEL/NUMBER": "+49 30 1234 5601"},
    "bob": {"FN": "Bob Brown", "ORG/ORGNAME": "Sales", "TITLE": "Sales engineer",
            "TEL/NUMBER": "+49 30 1234 5602"},
    "carol": {"FN": "Carol Clark", "ORG/ORGNAME": "Support", "TITLE": "Support lead",
              "TEL/NUMBER": "+49 30 1234 5603"},
}
"""Demo accounts and their passwords (documented in the README)."""

DEMO_GROUP = ("switchboard", "Switchboard")
"""The shared-roster group every demo account is in: (name, label)."""


def _say(text: str) -> None:
    print(text, flush=True)


def cmd_up(settings: StackSettings, args: argparse.Namespace) -> int:
    server = EjabberdServer(settings)
    was_running = server.pid() is not None
    pid = server.start()
    _say(f"ejabberd     {'running' if was_running else 'started'} (pid {pid}, "
         f"{settings.domain} on {settings.bind_ip}:{settings.c2s_port})")
    upgrade(settings.effective_database_url)
    _say(f"database     migrated ({_redact_url(settings.effective_database_url)})")
    for name in COMPONENTS:
        process = ComponentProcess(settings, name)
        state = "running" if process.pid() is not None else "started"
        component_pid = process.start()
        _say(f"{name:<12} {state} (pid {component_pid}, {settings.component_domain(name)})")
    for user, password in DEMO_PASSWORDS.items():
        server.register(user, password)
    for user, card in DEMO_CARDS.items():
        server.ensure_card(user, card)
    server.ensure_group(DEMO_GROUP[0], DEMO_GROUP[1], list(DEMO_PASSWORDS))
    _say(f"accounts     {', '.join(f'{u}@{settings.domain}' for u in DEMO_PASSWORDS)} "
         f"(password = user name) in group '{DEMO_GROUP[1]}'")
    assistant = AssistantProcess(settings, DEMO_PASSWORDS["assistant"])
    state = "running" if assistant.pid() is not None else "started"
    _say(f"assistant    {state} (pid {assistant.start()}, assistant@{settings.domain}; "
         f"{_assistant_readiness()})")
    if args.no_client:
        return 0
    if not sys.stdin.isatty() or not sys.stdout.isatty():
        _say("no terminal here: not opening the client. Open it with ./switchboard client alice")
        return 0
    return open_client(settings, "alice")


def _assistant_readiness() -> str:
    """Whether the assistant has a provider key, in words."""
    from bridge_bot.config import AssistantSettings

    problem = AssistantSettings().problem()
    return f"{problem} — see README" if problem else "provider configured"


def _services(settings: StackSettings) -> list[ServiceProcess]:
    return [*(ComponentProcess(settings, name) for name in COMPONENTS),
            AssistantProcess(settings, DEMO_PASSWORDS["assistant"])]


def open_client(settings: StackSettings, user: str, password: str | None = None) -> int:
    """Replace this process with the terminal client logged in as ``user``."""
    password = password or DEMO_PASSWORDS.get(user) or os.environ.get("SWITCHBOARD_CLIENT_PASSWORD")
    if not password:
        _say(f"no password for {user}: set SWITCHBOARD_CLIENT_PASSWORD")
        return 2
    jid = user if "@" in user else f"{user}@{settings.domain}"
    env = dict(os.environ, SWITCHBOARD_CLIENT_PASSWORD=password)
    argv = [sys.executable, "-m", "tui", "--jid", jid, "--host", settings.bind_ip,
            "--port", str(settings.c2s_port), "--ca-file", str(settings.ca_file)]
    os.execve(sys.executable, argv, env)
    return 0  # not reached


def cmd_client(settings: StackSettings, args: argparse.Namespace) -> int:
    if EjabberdServer(settings).pid() is None:
        _say("the stack is not running: start it with ./switchboard up")
        return 1
    return open_client(settings, args.user)


def cmd_down(settings: StackSettings, _args: argparse.Namespace) -> int:
    for process in _services(settings):
        stopped = process.stop()
        _say(f"{process.name:<12} {'stopped' if stopped else 'was not running'}")
    stopped = EjabberdServer(settings).stop()
    _say(f"{'ejabberd':<12} {'stopped' if stopped else 'was not running'}")
    left = [p.name for p in _services(settings) if p.pid() is not None]
    if EjabberdServer(settings).pid() is not None:
        left.append("ejabberd")
    if left:
        _say(f"still running: {', '.join(left)}; see ./switchboard status")
        return 1
    return 0


def cmd_status(settings: StackSettings, _args: argparse.Namespace) -> int:
    server = EjabberdServer(settings)
    pid = server.pid()
    running = pid is not None
    if running:
        _say(f"{'ejabberd':<12} running  pid {pid}  node {settings.node_name}  "
             f"c2s {settings.bind_ip}:{settings.c2s_port}  http {settings.bind_ip}:{settings.http_port}  "
             f"stun/turn {settings.bind_ip}:{settings.stun_port} udp+tcp")
    else:
        _say(f"{'ejabberd':<12} stopped")
    for process in _services(settings):
        service_pid = process.pid()
        running = running and service_pid is not None
        _say(f"{process.name:<12} " + (f"running  pid {service_pid}  log {process.log_file}"
                                       if service_pid else "stopped"))
    _say(f"state        {settings.state_dir}")
    return 0 if running else 3


def cmd_config(settings: StackSettings, _args: argparse.Namespace) -> int:
    fields = type(settings).model_fields
    for name, value in settings.model_dump().items():
        if "secret" in name or "password" in name:
            value = "(set)" if value else "(generated)" if "secret" in name else "(empty)"
        elif name == "database_url" and value:
            value = _redact_url(value)
        _say(f"SWITCHBOARD_{name.upper():<26} {value}")
        description = " ".join((fields[name].description or "").split())
        _say(f"    {description}")
    return 0


def _redact_url(url: str) -> str:
    """A database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``./switchboard``'s stack commands."""
    parser = argparse.ArgumentParser(prog="./switchboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the stack and open the client as alice")
    up.add_argument("--no-client", action="store_true", help="start the servers only")
    commands.add_parser("down", help="stop everything the stack runs")
    commands.add_parser("status", help="say what runs (exit 3 if something is stopped)")
    client = commands.add_parser("client", help="open the terminal client")
    client.add_argument("user", nargs="?", default="alice",
                        help="demo user (alice, bob, carol) or a JID with SWITCHBOARD_CLIENT_PASSWORD set")
    commands.add_parser("config", help="print the settings in force (no secrets)")
    args = parser.parse_args(argv)
    settings = StackSettings()
    handler = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "client": cmd_client,
               "config": cmd_config}[args.command]
    try:
        return handler(settings, args)
    except (EjabberdError, ProcessError) as exc:
        print(f"switchboard {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
