"""Keep a slixmpp stream connected: reconnect whenever it drops, backing off exponentially."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slixmpp.xmlstream import XMLStream

from xmpp_components import slixfix

log = logging.getLogger(__name__)


class Reconnector:
    """Reconnects ``stream`` to ``address`` after every drop until :meth:`stop` is called.

    The first attempt after a drop is immediate; slixmpp then doubles its wait between failed
    attempts (1, 3, 7, 15 s …), which this caps at ``max_backoff`` seconds so a component or client
    is back within seconds of ejabberd's return. A connection that is accepted and then dropped
    before any session (a proxy or a server still starting) does not count as a success: such
    drops back off too (0.5, 1, 2 … s), instead of reconnecting in a tight loop.
    """

    def __init__(self, stream: XMLStream, address: tuple[str, int], max_backoff: float = 10.0) -> None:
        self.stream = stream
        self.address = address
        self.max_backoff = max_backoff
        self.stopped = False
        self._task: asyncio.Task[None] | None = None
        self.drops_without_session = 0
        """Drops since the last session started; each one waits longer before reconnecting."""
        stream.add_event_handler("reconnect_delay", self._cap_delay)
        stream.add_event_handler("disconnected", self._on_disconnected)
        stream.add_event_handler("session_start", self._on_session)
        stream.add_event_handler("session_resumed", self._on_session)

    def start(self) -> asyncio.Future[Any]:
        """Begin connecting (and keep doing so)."""
        self.stopped = False
        return self.stream.connect(*self.address)

    async def stop(self) -> None:
        """Stop reconnecting, close the stream and end its send loop."""
        self.stopped = True
        if self._task is not None:
            self._task.cancel()
        await slixfix.close(self.stream)

    def _cap_delay(self, delay: float) -> None:
        # runs synchronously just before slixmpp sleeps for `delay`
        if delay > self.max_backoff:
            self.stream._connect_loop_wait = self.max_backoff

    def _on_session(self, _event: Any) -> None:
        self.drops_without_session = 0

    def _on_disconnected(self, reason: Any) -> None:
        if self.stopped:
            return
        wait = 0.0 if self.drops_without_session == 0 else \
            min(self.max_backoff, 0.5 * 2 ** (self.drops_without_session - 1))
        self.drops_without_session += 1
        log.warning("stream to %s:%s lost (%s); reconnecting in %.1f s", *self.address, reason, wait)
        self._task = asyncio.ensure_future(self._reconnect(wait))

    async def _reconnect(self, wait: float) -> None:
        # yield at least once: slixmpp finishes its own disconnect bookkeeping first
        await asyncio.sleep(wait)
        if not self.stopped:
            self.stream.connect(*self.address)
