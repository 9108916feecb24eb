"""``./switchboard bench [name …]``: run every benchmark (or the named ones) and print ours beside
its peer."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from . import (
    assistant_latency,
    call_concurrency,
    call_cpu,
    call_latency,
    call_setup,
    chat_roundtrip,
    history_render,
    journal_live,
    journal_speed,
    search_index,
    tui_burst,
    tui_start,
)
from .common import private_stack

Benchmark = Callable[..., Awaitable[list[Any]]]

WITH_SERVER: dict[str, Benchmark] = {
    "chat_roundtrip": chat_roundtrip.run,
    "assistant_latency": assistant_latency.run,
    "journal_live": journal_live.run,
    "call_latency": call_latency.run,
    "call_setup": call_setup.run,
    "call_cpu": call_cpu.run,
    "call_concurrency": call_concurrency.run,
    "tui_burst": tui_burst.run,
}
"""Benchmarks that need the private ejabberd; they get it as their argument."""
ALONE: dict[str, Benchmark] = {
    "history_render": history_render.run,
    "journal_speed": journal_speed.run,
    "search_index": search_index.run,
    "tui_start": tui_start.run,
}


async def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in WITH_SERVER and n not in ALONE]
    if unknown:
        print(f"no benchmark {', '.join(unknown)}; there are: {', '.join([*WITH_SERVER, *ALONE])}",
              file=sys.stderr)
        return 2
    wanted = set(names or [*WITH_SERVER, *ALONE])
    print(f"{'benchmark':<44} figures (ours, peer, ratio ours/peer)", flush=True)

    def show(figures: list[Any]) -> None:
        for figure in figures:
            print(figure.line(), flush=True)

    if wanted & WITH_SERVER.keys():
        with private_stack() as server:
            for name, run in WITH_SERVER.items():
                if name in wanted:
                    show(await run(server))
    for name, run in ALONE.items():
        if name in wanted:
            show(await run())
    return 0


async def until_terminated(names: list[str]) -> int:
    """:func:`main`, ended by SIGTERM (``timeout``, a closed terminal) as by Ctrl+C: cancelled, so
    the private ejabberd and the benchmarks' processes stop instead of outliving the run."""
    task = asyncio.create_task(main(names))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        print("bench: terminated", file=sys.stderr)
        return 143


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(until_terminated(sys.argv[1:])))
    except KeyboardInterrupt:
        sys.exit(130)
