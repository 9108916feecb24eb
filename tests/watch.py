"""Wait for conditions on a ChatSession by its events — no polling, no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tui.session import ChatSession


class SessionWatcher:
    """Re-checks conditions whenever the session emits an event."""

    def __init__(self, session: ChatSession) -> None:
        self.session = session
        self.events: list[object] = []
        self._changed = asyncio.Event()
        session.subscribe(self._on_event)

    def _on_event(self, event: object) -> None:
        self.events.append(event)
        self._changed.set()

    async def until(self, condition: Callable[[], object], timeout: float = 10.0,
                    what: str = "condition") -> object:
        """Return ``condition()`` once it is truthy; fail after ``timeout`` seconds."""

        async def wait() -> object:
            while not (result := condition()):
                self._changed.clear()
                await self._changed.wait()
            return result

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; events: {self.events[-10:]}") from None
