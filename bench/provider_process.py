"""Run the local OpenAI-wire server in a process of its own, as a real provider would be.

``python -m bench.provider_process TTFT [CHUNK_DELAY]`` prints the base URL on its first line,
then serves;
each line read on stdin is answered with the number of TCP connections that carried requests so
far; it stops when stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

from tests.fake_openai import FakeOpenAI


async def main(first_token_delay: float, chunk_delay: float) -> None:
    async with FakeOpenAI(api_key="sk-bench", first_token_delay=first_token_delay,
                          chunk_delay=chunk_delay) as server:
        print(server.base_url, flush=True)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):
            print(server.connections, flush=True)


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0))
