"""Workarounds for bugs in slixmpp or ejabberd, in one place, each with the bug it answers.

Apply them with :func:`apply` on a freshly built client or component.
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
from collections.abc import Callable
from typing import Any

from slixmpp import Iq
from slixmpp.plugins.xep_0198 import stanza as sm_stanza
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.matcher import MatchXMLMask, MatchXPath, StanzaPath
from slixmpp.xmlstream.stanzabase import fix_ns


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


async def close(stream: Any, wait: float = 1.0) -> None:
    """Disconnect ``stream`` (what is still queued goes out first, for up to ``wait`` seconds) and
    end its send loop. slixmpp 1.17 starts that loop (``run_filters``) at ``connect`` and leaves it
    waiting for stanzas after the disconnect until the stream is garbage-collected, which destroys
    it pending ("Task was destroyed but it is pending! … run_filters"); outgoing filters that take
    over a second go on in tasks of their own, which it drops the same way. ``connect`` starts a
    new loop, so the stream can be connected again."""
    stream.cancel_connection_attempt()
    if stream.transport is not None:
        await stream.disconnect(wait=wait)
    # an attempt that was under way can have failed meanwhile and rescheduled itself (slixmpp
    # then sleeps its back-off in a new _connect_loop): that one goes too
    attempt = stream._current_connection_attempt
    stream.cancel_connection_attempt()
    tasks = [task for task in (stream._run_out_filters, *stream._XMLStream__slow_tasks, attempt)
             if task is not None and not task.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


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


_XPATH_STEP = re.compile(r"\{[^}]*\}[\w.-]+")


class _Facts:
    """What the gates ask about one received stanza, worked out once for all its handlers."""

    __slots__ = ("children", "plugins", "roots", "seen")

    def __init__(self, stanza: Any) -> None:
        self.children = {child.tag for child in stanza.xml}
        self.seen = len(stanza.plugins)
        self.plugins = {name for name, _lang in stanza.plugins}
        self.roots: dict[str, bool] = {}


def _facts(stanza: Any) -> _Facts:
    facts: _Facts | None = stanza.__dict__.get("_sb_facts")
    if facts is None or facts.seen != len(stanza.plugins):  # a plugin was loaded since
        facts = stanza.__dict__["_sb_facts"] = _Facts(stanza)
    return facts


def _stanza_path_gate(criteria: list[str]) -> Callable[[Any], bool]:
    """The checks ``ElementBase.match`` starts with, answered from :class:`_Facts`: the first step
    must name the stanza (or one of its plugins), the second a plugin it carries (unless it is a
    sub-interface or the stanza has iterables, which the gate leaves to the matcher)."""
    root = criteria[0].split("@")[0]
    second = criteria[1] if len(criteria) > 1 else None
    plugin = second.split("@")[0].split("}")[-1] if second else ""

    def gate(stanza: Any) -> bool:
        facts = _facts(stanza)
        named = facts.roots.get(root)
        if named is None:
            named = facts.roots[root] = (
                root in (stanza.name, f"{{{stanza.namespace}}}{stanza.name}")
                or root in stanza.loaded_plugins or root in stanza.plugin_attrib)
        return named and (second is None or plugin in facts.plugins or bool(stanza.iterables)
                          or second in stanza.sub_interfaces)

    return gate


def _xpath_gate(criteria: str) -> Callable[[Any], bool] | None:
    """For a path of plain ``{ns}name`` steps: the stanza's element is the first, and a child of
    it the second."""
    steps = _XPATH_STEP.findall(criteria)
    if not steps or "/".join(steps) != criteria:
        return None  # wildcards, predicates, attributes: leave it to the matcher
    root, child = steps[0], steps[1] if len(steps) > 1 else None
    return lambda stanza: stanza.xml.tag == root and (child is None or child in _facts(stanza).children)


def _mask_gate(matcher: Any) -> Callable[[Any], bool]:
    """The mask's element and attributes, compared as ``MatchXMLMask`` starts to."""
    mask = matcher._criteria
    tags = (mask.tag, f"{{{matcher.default_ns}}}{mask.tag}")
    attributes = tuple(mask.attrib.items())
    return lambda stanza: stanza.xml.tag in tags and all(
        stanza.xml.get(name, "__None__") == value for name, value in attributes)


def _gate(handler: Any) -> None:
    """Put a gate in front of ``handler``'s matcher where the matcher's kind allows one."""
    matcher = handler._matcher
    ask: Callable[[Any], bool] = handler.match
    gate: Callable[[Any], bool] | None = None
    if type(matcher) is StanzaPath:
        criteria = matcher._criteria
        gate = _stanza_path_gate(criteria)
        if fix_ns(matcher._raw_criteria, split=True, propagate_ns=False) == criteria:
            def ask(stanza: Any) -> bool:  # slixmpp would compare the very same path twice
                return bool(stanza.match(criteria))
    elif type(matcher) is MatchXPath:
        gate = _xpath_gate(matcher._criteria)
    elif type(matcher) is MatchXMLMask:
        gate = _mask_gate(matcher)
    if gate is not None:
        passes = gate

        def match(stanza: Any) -> bool:
            return passes(stanza) and ask(stanza)

        handler.match = match


def route_handlers(stream: Any) -> None:
    """slixmpp 1.17 asks every registered handler, one after the other, whether it wants each
    received stanza — 53 handlers in the terminal client, and a stanza-path handler compares the
    path twice — so a chat message costs ~150 µs before any handler runs. Put a gate in front of
    each handler whose matcher says what it needs (the element and its first child for paths,
    the element and attributes for XML masks): the gate says no from facts worked out once per
    stanza, and the handler's own matcher still decides every yes. Handlers registered later
    get their gate when first asked (slixmpp may register a handler before its matcher is set)."""
    for handler in stream._XMLStream__handlers:
        _gate(handler)
    register = stream.register_handler

    def register_gated(handler: Any, *args: Any, **kwargs: Any) -> None:
        register(handler, *args, **kwargs)

        def first_match(stanza: Any) -> bool:
            del handler.match  # back to the class's, then gated once the matcher is known
            _gate(handler)
            return bool(handler.match(stanza))

        handler.match = first_match

    stream.register_handler = register_gated


def apply(stream: Any) -> None:
    """Install every workaround that concerns ``stream``."""
    stream.add_filter("out", _iq_results_to_bare_domains)
    if getattr(stream, "is_component", False):
        stream.add_filter("out", _sign_component_stanzas(stream))
    if "xep_0198" in stream.plugin and not getattr(stream, "is_component", False):
        _queue_ack_requests(stream)
