"""Typing indicators (XEP-0085 chat states), both ways.

Mine: the first key typed into a conversation sends *composing*; no key for :attr:`TypingService.pause_after`
seconds sends *paused*; sending the message says *active* (the message carries it), and so does
emptying the box. Each state is sent once, not per key. Theirs: who in a conversation is composing
or paused right now, cleared by their next message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slixmpp import JID, Message

from . import events

if TYPE_CHECKING:
    from .client import ChatSession

TYPING_STATES = ("composing", "paused")


class TypingService:
    """Chat states of one session: what I send while typing, and who is typing to me."""

    pause_after = 5.0
    """Seconds without a key after which *composing* becomes *paused*."""

    def __init__(self, session: ChatSession, emit: Callable[[events.SessionEvent], None]) -> None:
        self.session = session
        self._emit = emit
        self._theirs: dict[str, dict[str, str]] = {}  # conversation -> who -> composing/paused
        self._mine: dict[str, str] = {}  # conversation -> the state I sent last
        self._pause: dict[str, asyncio.TimerHandle] = {}

    def attach(self, stream: Any) -> None:
        """Listen to a freshly built stream (before it connects)."""
        stream.add_event_handler("chatstate", self._on_chat_state)
        stream.add_event_handler("message", self._on_message)

    # --- theirs ---------------------------------------------------------------------------------

    def typing_in(self, jid: str) -> dict[str, str]:
        """Who is composing or paused in the conversation ``jid``: bare JID (or nickname in a room)
        -> ``composing`` / ``paused``."""
        return dict(self._theirs.get(jid, {}))

    def _who(self, stanza: Message) -> tuple[str, str] | None:
        """(conversation, who) of a chat state from someone else; None for my own."""
        sender = stanza["from"]
        if stanza["type"] == "groupchat":
            room = self.session.rooms.by_jid.get(sender.bare)
            if room is None or not sender.resource or sender.resource == room.nick:
                return None
            return room.jid, sender.resource
        if sender.bare == self.session.jid.bare or sender.bare in self.session.rooms:
            return None
        return sender.bare, sender.bare

    def _set(self, jid: str, who: str, state: str) -> None:
        current = self._theirs.setdefault(jid, {})
        if current.get(who, "") == state:
            return
        if state:
            current[who] = state
        else:
            current.pop(who, None)
        self._emit(events.ChatStateChanged(jid))

    def _on_chat_state(self, stanza: Message) -> None:
        found = self._who(stanza)
        if found is not None:
            state = stanza["chat_state"]
            self._set(*found, state if state in TYPING_STATES else "")

    def _on_message(self, stanza: Message) -> None:
        """A message said: its sender is no longer typing it."""
        found = self._who(stanza)
        state = stanza.get_plugin("chat_state", check=True)  # without building one when absent
        if found is not None and (state is None or state["chat_state"] not in TYPING_STATES):
            self._set(*found, "")

    # --- mine -------------------------------------------------------------------------------------

    def typed(self, jid: str) -> None:
        """The user typed into the conversation ``jid``: *composing*, *paused* after a while."""
        self._send(jid, "composing")
        if (timer := self._pause.pop(jid, None)) is not None:
            timer.cancel()
        self._pause[jid] = asyncio.get_running_loop().call_later(
            self.pause_after, self._send, jid, "paused")

    def cleared(self, jid: str) -> None:
        """The box is empty again without sending: back to *active* if I said I was typing."""
        self._stop_timer(jid)
        if self._mine.get(jid) in TYPING_STATES:
            self._send(jid, "active")

    def sent(self, jid: str) -> None:
        """A message went out; it said *active* itself."""
        self._stop_timer(jid)
        self._mine[jid] = "active"

    def _stop_timer(self, jid: str) -> None:
        if (timer := self._pause.pop(jid, None)) is not None:
            timer.cancel()

    def _send(self, jid: str, state: str) -> None:
        if self._mine.get(jid) == state or self.session.state != "online":
            return
        room = self.session.rooms.by_jid.get(jid)
        if room is not None and not room.joined:
            return
        self._mine[jid] = state
        stanza = self.session.stream.make_message(mto=JID(jid), mtype="groupchat" if room else "chat")
        stanza["chat_state"] = state
        stanza.enable("no-store")  # XEP-0334: a state is not history
        stanza.send()
