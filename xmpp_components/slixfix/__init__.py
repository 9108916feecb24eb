"""Workarounds for bugs in slixmpp or ejabberd, in one place, each with the bug it answers.

Apply them with :func:`apply` on a freshly built client or component.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

from slixmpp import Iq
from slixmpp.plugins.xep_0198 import stanza as sm_stanza
from slixmpp.xmlstream import StanzaBase


def _iq_results_to_bare_domains(stanza: Any) -> Any:
    """ejabberd 24.12 (#4336, fixed in 25.03): while mod_privilege is loaded, an IQ a component
    sends to a bare JID is dropped silently — including its answers to the server's own disco
    queries. ejabberd matches IQ results by id, so answers to a bare domain go to
    ``domain/switchboard`` instead."""
    if isinstance(stanza, Iq) and stanza["type"] in ("result", "error"):
        to = stanza["to"]
        if to and not to.user and not to.resource:
            stanza["to"] = f"{to.domain}/switchboard"
    return stanza


def _queue_ack_requests(stream: Any) -> None:
    """slixmpp 1.17's XEP-0198 ``request_ack`` writes ``<r/>`` to the socket at once, ahead of
    stanzas still in the send queue — including the one whose outgoing filter asked for it — so
    the server's ``<a/>`` never covers the newest stanza until another one is sent. Queue the
    request behind what is already waiting instead."""
    plugin = stream.plugin["xep_0198"]

    def request_ack(_event: Any = None) -> None:
        stream.send(str(sm_stanza.RequestAck(stream)), use_filters=False)

    plugin.request_ack = request_ack


def _sign_component_stanzas(stream: Any) -> Any:
    """slixmpp leaves ``from`` empty on stanzas a component originates (only replies get one);
    ejabberd's component port silently drops stanzas without ``from``. Set it to the component."""

    def sign(stanza: Any) -> Any:
        if (isinstance(stanza, StanzaBase) and stanza.name in ("message", "presence", "iq")
                and not stanza["from"]):
            stanza["from"] = stream.boundjid
        return stanza

    return sign


def yield_between_stanzas(stream: Any, budget: float = 0.004) -> None:
    """slixmpp 1.17 handles every stanza of a received chunk inside ``data_received``, one after
    the other: a burst of a thousand messages arrives in chunks of a hundred and holds the event
    loop ~100 ms at a time, so a terminal client stops answering keys. Parse as before, but hand
    the stanzas to their handlers from one task, in order, giving the loop back every ``budget``
    seconds. For clients with a user interface; components keep slixmpp's behaviour."""
    handle = stream._spawn_event
    pending: collections.deque[Any] = collections.deque()
    running: list[asyncio.Task[None]] = []

    async def drain() -> None:
        try:
            turn = time.perf_counter()
            while pending:
                handle(pending.popleft())
                if time.perf_counter() - turn > budget:
                    await asyncio.sleep(0)
                    turn = time.perf_counter()
        finally:
            running.clear()

    def spawn_in_order(xml: Any) -> None:
        pending.append(xml)
        if not running:
            running.append(asyncio.get_running_loop().create_task(drain()))

    stream._spawn_event = spawn_in_order


def apply(stream: Any) -> None:
    """Install every workaround that concerns ``stream``."""
    stream.add_filter("out", _iq_results_to_bare_domains)
    if getattr(stream, "is_component", False):
        stream.add_filter("out", _sign_component_stanzas(stream))
    if "xep_0198" in stream.plugin and not getattr(stream, "is_component", False):
        _queue_ack_requests(stream)
