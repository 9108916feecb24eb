"""What every Switchboard component shares: connection, reconnection, disco, privileges, shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any, ClassVar

from slixmpp import ComponentXMPP, Iq

from xmpp_components import slixfix
from xmpp_components.stack.settings import StackSettings

from .commands import CommandRegistry
from .reconnect import Reconnector

log = logging.getLogger(__name__)

SOFTWARE_NAME = "Switchboard"
SOFTWARE_VERSION = "0.1.0"


class SwitchboardComponent(ComponentXMPP):  # type: ignore[misc]
    """An XEP-0114 component of the stack: subclasses name themselves and add their features.

    It connects with the component's secret from the stack settings, reconnects with capped
    exponential backoff whenever the stream drops (ejabberd restart, network), answers
    disco#info/items, ping and version, publishes XEP-0050 commands through :attr:`commands`,
    learns its XEP-0356 privileges, and stops cleanly on SIGTERM.
    """

    name: ClassVar[str] = ""
    """Short name; the component's address is ``<name>.<domain>``."""

    description: ClassVar[str] = ""
    """Human-readable name in disco identities."""

    features: ClassVar[tuple[str, ...]] = ()
    """Extra disco#info features the component announces."""

    def __init__(self, settings: StackSettings) -> None:
        if not self.name:
            raise TypeError("a component class must set `name`")
        self.settings = settings
        super().__init__(
            settings.component_domain(self.name),
            settings.component_secret(self.name),
            settings.bind_ip,
            settings.component_port(self.name),
        )
        self.reconnector = Reconnector(
            self, (settings.bind_ip, settings.component_port(self.name)))
        self.privileged = asyncio.Event()
        """Set once ejabberd advertised this component's XEP-0356 privileges."""
        self.sessions_started = 0
        self.connected_since: float | None = None
        self.started_at = time.time()
        for plugin in ("xep_0030", "xep_0004", "xep_0050", "xep_0092", "xep_0199", "xep_0356"):
            self.register_plugin(plugin)
        self.plugin["xep_0092"].software_name = SOFTWARE_NAME
        self.plugin["xep_0092"].version = SOFTWARE_VERSION
        self.plugin["xep_0030"].add_identity(category="component", itype="generic",
                                      name=self.description or self.name)
        for feature in self.features:
            self.plugin["xep_0030"].add_feature(feature)
        self.commands = CommandRegistry(self)
        self.add_filter("in", self._reject_malformed_iq)
        self.add_event_handler("session_start", self._on_session_start)
        self.add_event_handler("disconnected", self._on_disconnected)
        self.add_event_handler("privileges_advertised", self._on_privileges)
        slixfix.apply(self)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> asyncio.Future[Any]:
        """Begin connecting; retries with backoff until ejabberd accepts the handshake."""
        return self.reconnector.start()

    async def stop(self) -> None:
        """Close the stream and stop reconnecting."""
        await self.reconnector.stop()

    async def _on_session_start(self, _event: Any) -> None:
        self.sessions_started += 1
        self.connected_since = time.time()
        log.info("%s connected to %s:%s", self.boundjid, self.settings.bind_ip,
                 self.settings.component_port(self.name))

    def _on_disconnected(self, _reason: Any) -> None:
        self.connected_since = None
        self.privileged.clear()

    def _on_privileges(self, _event: Any) -> None:
        self.privileged.set()
        granted = self.plugin["xep_0356"].granted_privileges
        for host, perms in granted.items():
            log.info("%s privileges on %s: roster=%s message=%s presence=%s", self.boundjid, host,
                     perms.roster, perms.message, perms.presence)

    # --- bad input --------------------------------------------------------------------------------

    def _reject_malformed_iq(self, stanza: Any) -> Any:
        """Incoming filter, RFC 6120 §8.2.3: an IQ get or set carries exactly one payload.

        Answers ``bad-request`` with a text saying what is wrong and drops the stanza before any
        handler sees it (so no second, default answer is sent).
        """
        if not isinstance(stanza, Iq) or stanza["type"] not in ("get", "set"):
            return stanza
        payloads = [child for child in stanza.xml if not child.tag.endswith("}error")]
        if len(payloads) == 1:
            return stanza
        error = stanza.reply(clear=True)
        error["error"]["type"] = "modify"
        error["error"]["condition"] = "bad-request"
        error["error"]["text"] = (
            f"an IQ {stanza['type']} must carry exactly one payload element; this one has "
            f"{len(payloads)} (RFC 6120 §8.2.3)")
        error.send()
        return None


async def run(component: SwitchboardComponent) -> None:
    """Run ``component`` until SIGTERM or SIGINT, then disconnect cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    component.start()
    await stop.wait()
    log.info("%s stopping", component.boundjid)
    await component.stop()
