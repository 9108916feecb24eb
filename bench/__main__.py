"""``./switchboard bench``: run every benchmark and print ours beside its peer."""

from __future__ import annotations

import asyncio
import sys

from . import assistant_latency, chat_roundtrip, history_render, journal_live, journal_speed
from .common import private_stack


async def main() -> int:
    figures = []
    with private_stack() as server:
        figures += await chat_roundtrip.run(server)
        figures += await assistant_latency.run(server)
        figures += await journal_live.run(server)
    figures += await history_render.run()
    figures += await journal_speed.run()
    print(f"{'benchmark':<44} {'':>22}")
    for figure in figures:
        print(figure.line())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
