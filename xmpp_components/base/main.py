"""The command line every component shares: ``python -m xmpp_components.<name> [--log-level]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from xmpp_components.stack.settings import StackSettings

from .commands import Command, Result
from .component import SwitchboardComponent, run
from .logging import setup_logging


def status_command(component: SwitchboardComponent) -> Command:
    """The ``status`` command every component offers: version, uptime, connection."""

    async def status(_requester: object, _values: dict[str, object]) -> Result:
        now = time.time()
        connected = component.connected_since
        return Result(
            note=f"{component.description} is running.",
            values={
                "version": (f"{component.plugin['xep_0092'].software_name} "
                            f"{component.plugin['xep_0092'].version}"),
                "uptime": f"{int(now - component.started_at)} s",
                "connected": f"{int(now - connected)} s" if connected else "no",
                "reconnects": str(max(0, component.sessions_started - 1)),
            },
        )

    return Command(node="status", name="Component status", fields=(), handler=status)


def component_main(cls: type[SwitchboardComponent], argv: Sequence[str] | None = None) -> None:
    """Parse the shared options, set up redacted logging and run ``cls`` until SIGTERM."""
    parser = argparse.ArgumentParser(
        prog=f"python -m xmpp_components.{cls.name}",
        description=f"{cls.description}: the {cls.name}.<domain> XEP-0114 component. "
                    "Settings come from SWITCHBOARD_* environment variables (see README).")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log verbosity (stanza dumps at DEBUG are redacted)")
    parser.add_argument("--log-file", default=None, help="write the log here instead of stderr")
    args = parser.parse_args(argv)
    settings = StackSettings()
    setup_logging(args.log_level, None if args.log_file is None else Path(args.log_file))

    async def main() -> None:
        component = cls(settings)  # slixmpp binds to the running loop when built
        component.commands.publish(status_command(component))
        await run(component)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    logging.shutdown()
