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
class SessionUpdates(Message, bubble=False):  # each observing screen is posted its own
    """Several session events at once: what arrived in one turn of the event loop.

    A burst of stanzas (a thousand messages, a roster push) becomes one Textual message per
    screen instead of one per event, so the screen's own refresh is never queued behind them."""

    events: list[SessionEvent]


class SessionView:
    """For screens that observe the session: a batch is handled as its events one by one, then
    :meth:`after_session_batch` runs once (for work worth doing once per batch, not per event)."""

    in_session_batch = False
    """True while the events of a batch are being handled."""

    def on_session_update(self, update: SessionUpdate) -> None:
        """React to one session event (screens override this)."""

    def after_session_batch(self) -> None:
        """Runs once after every event of a batch was handled (screens may override this)."""

    def on_session_updates(self, batch: SessionUpdates) -> None:
        self.in_session_batch = True
        try:
            for event in batch.events:
                self.on_session_update(SessionUpdate(event))
        finally:
            self.in_session_batch = False
        self.after_session_batch()
