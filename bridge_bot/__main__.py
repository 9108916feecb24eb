"""``python -m bridge_bot [--check]``: run the assistant account, or check its configuration."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from schema import create_engine
from schema.migrate import upgrade
from xmpp_components.base.logging import setup_logging

from .bot import AssistantBot
from .config import AssistantSettings
from .memory import Memory
from .provider import Provider, ProviderError


def database_url(settings: AssistantSettings) -> str:
    """The assistant's database: its own setting, else the stack's."""
    if settings.database_url:
        return settings.database_url
    from xmpp_components.stack.settings import StackSettings

    return StackSettings().effective_database_url


async def check(settings: AssistantSettings) -> int:
    """Validate the configuration and reach the provider; print what is wrong."""
    problem = settings.problem()
    print(f"provider   {settings.provider}  model/deployment {settings.model}")
    if problem:
        print(f"config     {problem}: set SWITCHBOARD_ASSISTANT_API_KEY or OPENAI_API_KEY "
              "(AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT for Azure)")
        return 1
    provider = Provider(settings)
    try:
        await provider.check()
    except ProviderError as exc:
        print(f"provider   {exc.text}")
        return 1
    finally:
        await provider.close()
    print("provider   reachable, the model answers")
    return 0


async def run(settings: AssistantSettings) -> None:
    """Run until SIGTERM or SIGINT."""
    url = database_url(settings)
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    bot = AssistantBot(settings, Memory(engine, settings.max_context_tokens,
                                        settings.daily_token_budget))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bot.reconnector.start()
    await stop.wait()
    logging.getLogger(__name__).info("assistant stopping")
    await bot.stop()
    await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge_bot",
        description="The Switchboard assistant: an XMPP account that answers with ChatGPT/DALL-E. "
                    "Settings: SWITCHBOARD_ASSISTANT_* and the providers' OPENAI_* / AZURE_OPENAI_* "
                    "environment variables (see README).")
    parser.add_argument("--check", action="store_true",
                        help="validate the configuration, reach the provider, and exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-file", default=None, help="write the log here instead of stderr")
    args = parser.parse_args(argv)
    try:
        settings = AssistantSettings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        return asyncio.run(check(settings))
    setup_logging(args.log_level, Path(args.log_file) if args.log_file else None)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
