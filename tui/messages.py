"""Textual messages the client's parts exchange."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.session.events import SessionEvent


@dataclass
class SessionUpdate(Message):
    """Something changed in the client session (wraps a :class:`SessionEvent`)."""

    event: SessionEvent


@dataclass
class SessionUpdates(Message):
    """Several session events at once: what arrived in one turn of the event loop.

    A burst of stanzas (a thousand messages, a roster push) becomes one Textual message per
    screen instead of one per event, so the screen's own refresh is never queued behind them."""

    events: list[SessionEvent]


class SessionView:
    """For screens that observe the session: handles a batch as its events one by one."""

    def on_session_updates(self, batch: SessionUpdates) -> None:
        handle = getattr(self, "on_session_update", None)
        if handle is None:
            return
        for event in batch.events:
            handle(SessionUpdate(event))
