"""Work started on the side and awaited by nobody, ended with its owner."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Background:
    """Coroutines an object starts and does not await (a read after login, a preview, an answer).

    Each runs as a task held here until it ends — asyncio itself keeps only weak references to
    tasks — and :meth:`cancel` ends those still running and waits for them, so that none is left
    waiting for a reply that will not come, or destroyed pending when its owner goes away
    ("Task was destroyed but it is pending!").
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``work`` in a task of its own."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def wait(self) -> None:
        """Wait until what runs (also what it starts meanwhile) has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def cancel(self) -> None:
        """Cancel what still runs (also what it starts meanwhile) and wait until it has ended."""
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
