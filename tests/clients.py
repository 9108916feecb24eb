"""A bare slixmpp client for tests: the 'other party' that is not our client code."""

from __future__ import annotations

import asyncio
from typing import Any

from slixmpp import ClientXMPP

from xmpp_components import slixfix
from xmpp_components.stack.settings import StackSettings


class RawClient(ClientXMPP):  # type: ignore[misc]
    """A plain slixmpp session with receipts and chat markers, as any XMPP client has them.

    ``auto_receipts`` and ``auto_displayed`` make it answer like a person's client would.
    Received messages are queued on :attr:`inbox`.
    """

    def __init__(self, jid: str, password: str, settings: StackSettings, *,
                 auto_receipts: bool = True, presence: bool = True,
                 plugins: tuple[str, ...] = (),
                 plugin_config: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__(jid, password)
        self.settings = settings
        self.ca_certs = settings.ca_file
        self.enable_direct_tls = False
        self.send_presence_on_start = presence
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        for plugin in ("xep_0030", "xep_0004", "xep_0050", "xep_0085", "xep_0184", "xep_0333",
                       "xep_0199", "xep_0359", *plugins):
            self.register_plugin(plugin, pconfig=(plugin_config or {}).get(plugin))
        # a person's client: slixmpp would answer disco as client/bot without an identity
        self.plugin["xep_0030"].add_identity(category="client", itype="pc", name="test client")
        self.plugin["xep_0184"].auto_ack = auto_receipts
        self.plugin["xep_0184"].auto_request = True
        self.add_event_handler("message", self.inbox.put_nowait)
        self.add_event_handler("session_start", self._session_start)

    async def _session_start(self, _event: Any) -> None:
        await self.get_roster()
        if self.send_presence_on_start:
            self.send_presence()
        if not self._started.done():
            self._started.set_result(True)

    async def start(self) -> None:
        """Connect over STARTTLS (trusting the stack's certificate); return once the roster is
        in and presence is sent."""
        self._started = started = asyncio.get_running_loop().create_future()
        self.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(
            RuntimeError(f"authentication failed for {self.boundjid}")))
        self.connect(self.settings.bind_ip, self.settings.c2s_port)
        await asyncio.wait_for(started, 20)

    async def stop(self) -> None:
        """Disconnect, wait for the stream to close and end its send loop."""
        await slixfix.close(self)
