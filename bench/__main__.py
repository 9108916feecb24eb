"""``./switchboard bench``: run every benchmark and print ours beside its peer."""

from __future__ import annotations

import asyncio
import sys

from . import assistant_latency, chat_roundtrip, history_render, journal_live, journal_speed
from .common import private_stack


async def main() -> int:
    print(f"{'benchmark':<44} figures (ours, peer, ratio ours/peer)", flush=True)

    def show(figures: list) -> None:
        for figure in figures:
            print(figure.line(), flush=True)

    with private_stack() as server:
        show(await chat_roundtrip.run(server))
        show(await assistant_latency.run(server))
        show(await journal_live.run(server))
    show(await history_render.run())
    show(await journal_speed.run())
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
