"""The conversation half of the main screen: history paged in from the server, a chosen message and
what can be done to it, replies and corrections being written, who is typing.

Keys (README, *Chatting*): in the composer ↑ (empty box) corrects my last message, Shift+Tab picks
a message, Tab completes a nickname in a room, Esc drops a reply or correction; on a picked message
**r** replies, **+** reacts, **e** edits, **Del** retracts, **Esc** goes back. Every action is also in
the command palette. The screen asks the session (:class:`~tui.session.message_actions.MessageActions`,
:class:`~tui.session.history.ChatHistory`, :class:`~tui.session.typing.TypingService`) and shows
its answers; errors come back as texts that say what to do next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from rich.text import Text

from tui.session import ChatSession, events
from tui.session.history import HistoryError
from tui.session.message_actions import MessageActionError
from tui.session.model import ChatMessage, Direction
from tui.session.rooms import RoomError
from tui.widgets.chat import Composer, MessageLog
from tui.widgets.chat.compose_bar import ComposeBar
from tui.widgets.chat.message_extras import RETRACTED, display_name
from tui.widgets.chat.selection import SelectableLog

from .commands import Command
from .message_dialogs import ReactionPicker
from .room_dialogs import Question

if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object

log = logging.getLogger(__name__)

PLACEHOLDER = "Message · ↑ edits last · Shift+Tab picks one"
ROOM_PLACEHOLDER = "Message · @nick Tab completes · ↑ edits last"


def _excerpt(message: ChatMessage, width: int = 40) -> str:
    text = RETRACTED if message.retracted else " ".join(message.body.split())
    return text if len(text) <= width else text[:width - 1] + "…"


class ConversationActions(_Base):
    """Message keys, replies, corrections, reactions, history and typing for the main screen."""

    session: ChatSession
    open_jid: str | None
    replying: ChatMessage | None = None
    """The message the composer's text answers."""
    correcting: ChatMessage | None = None
    """My message the composer's text replaces."""

    # --- state ------------------------------------------------------------------------------------

    def _log(self) -> MessageLog:
        return self.query_one(MessageLog)

    def _composer(self) -> Composer:
        return self.query_one(Composer)

    def _display(self, who: str) -> str:
        names = {c.jid: c.display_name for c in self.session.contacts.values()}
        return display_name(who, names, self.session.jid.bare)

    def _author(self, message: ChatMessage) -> str:
        if message.direction is Direction.OUTGOING:
            return "me"
        return message.nick or self._display(message.sender)

    def conversation_opened(self, jid: str) -> None:
        """A conversation was opened: forget what was being written elsewhere, fetch its history."""
        self.replying = self.correcting = None
        log_view = self._log()
        log_view.me = self.session.jid.bare
        log_view.selected = None
        room = self.session.rooms.by_jid.get(jid)
        composer = self._composer()
        composer.nicks = (lambda: [n for n in room.occupants if n != room.nick]) if room else None
        composer.placeholder = ROOM_PLACEHOLDER if room else PLACEHOLDER
        self._show_context()
        self._show_typing()
        if room is None:  # offline: it comes once online
            self._history(self.session.history.open(jid))

    def _history(self, work: Coroutine[Any, Any, int]) -> None:
        async def run() -> None:
            try:
                await work
            except (HistoryError, RoomError) as exc:
                self.notify(str(exc), title="History", severity="warning", timeout=15)

        self.run_worker(run(), group="history")

    def _show_context(self) -> None:
        composer = self._composer()
        bar = self.query_one(ComposeBar)
        if self.correcting is not None:
            composer.context = "correcting"
            bar.show_context(Text.assemble(("✎ Correcting your message", "bold"),
                                           " · Enter sends it · Esc drops it"))
        elif self.replying is not None:
            composer.context = "replying"
            bar.show_context(Text.assemble(("↱ Replying to ", "dim"), (self._author(self.replying), "bold"),
                                           (f": {_excerpt(self.replying)}", "italic"), " · Esc drops it"))
        else:
            composer.context = ""
            bar.show_context("")

    def _show_typing(self) -> None:
        jid = self.open_jid
        typing = self.session.typing.typing_in(jid) if jid else {}
        composing = [w for w, state in typing.items() if state == "composing"]
        paused = [w for w, state in typing.items() if state == "paused"]
        room = jid is not None and jid in self.session.rooms
        names = (lambda who: who) if room else self._display
        text = ""
        if composing:
            verb = "is" if len(composing) == 1 else "are"
            text = f"{', '.join(names(w) for w in composing)} {verb} typing…"
        elif paused:
            text = f"{', '.join(names(w) for w in paused)} stopped typing"
        self.query_one(ComposeBar).show_typing(text)

    # --- choosing a message ---------------------------------------------------------------------------

    def on_composer_pick_message(self, _event: Composer.PickMessage) -> None:
        if self.open_jid is not None:
            self._log().focus()

    def on_selectable_log_left(self, _event: SelectableLog.Left) -> None:
        if self.open_jid is not None:
            self._composer().focus()

    def on_selectable_log_reached_top(self, _event: SelectableLog.ReachedTop) -> None:
        self.load_older()

    def load_older(self) -> None:
        """Ask the server for the page of history before the oldest message here: from my
        archive for a 1:1 chat, from the room's archive for a room."""
        jid = self.open_jid
        if jid is None or self.session.state != "online" or not self._has_older(jid):
            return
        rooms = self.session.rooms
        self._history(rooms.older(jid) if jid in rooms else self.session.history.older(jid))

    def _has_older(self, jid: str) -> bool:
        rooms = self.session.rooms
        return rooms.has_older(jid) if jid in rooms else self.session.history.has_older(jid)

    def on_selectable_log_chosen(self, event: SelectableLog.Chosen) -> None:
        {"reply": self.reply_to, "react": self.react_to, "edit": self.edit,
         "retract": self.retract}[event.action](event.message)

    # --- the actions --------------------------------------------------------------------------------

    def _try(self, action: Callable[[], object]) -> bool:
        """Do ``action``; a refusal becomes a notification. True when it was done."""
        try:
            action()
        except MessageActionError as exc:
            self.notify(str(exc), severity="warning")
            return False
        return True

    def reply_to(self, message: ChatMessage) -> None:
        """Write an answer to ``message``; it goes out with a quote of it."""
        if message.retracted:
            self.notify("That message was retracted; there is nothing to answer.", severity="warning")
            return
        self.replying, self.correcting = message, None
        self._show_context()
        self._log().selected = None
        self._composer().focus()

    def react_to(self, message: ChatMessage) -> None:
        """Choose an emoji for ``message``; the same one again takes mine back."""
        jid = self.open_jid
        if jid is None:
            return
        if message.retracted:
            self.notify("That message was retracted; there is nothing to react to.", severity="warning")
            return

        def react(emoji: str | None) -> None:
            if emoji is not None:
                self._try(lambda: self.session.actions.react(jid, message, emoji))

        self.app.push_screen(ReactionPicker(message.reactions.get(self.session.jid.bare, ())), react)

    def edit(self, message: ChatMessage) -> None:
        """Put my last message into the composer; Enter sends the correction (XEP-0308)."""
        conversation = self.session.conversation(self.open_jid) if self.open_jid else None
        if message.direction is not Direction.OUTGOING:
            self.notify("Only your own messages can be corrected; r answers this one.", severity="warning")
            return
        if conversation is None or message is not self.session.actions.last_own(conversation):
            self.notify("Only your last message can be corrected: others see corrections of the "
                        "newest one only. Retract this one (Del) and write it again.", severity="warning")
            return
        self.correcting, self.replying = message, None
        composer = self._composer()
        composer.text = message.body
        composer.move_cursor(composer.document.end)
        self._show_context()
        self._log().selected = None
        composer.focus()

    def on_composer_edit_last(self, _event: Composer.EditLast) -> None:
        if self.open_jid is None:
            return
        last = self.session.actions.last_own(self.session.conversation(self.open_jid))
        if last is None:
            self.notify("You have not written anything here yet to correct.", severity="warning")
            return
        self.edit(last)

    def on_composer_dismissed(self, _event: Composer.Dismissed) -> None:
        if self.correcting is not None:
            self._composer().clear()
        self.replying = self.correcting = None
        self._show_context()

    def retract(self, message: ChatMessage) -> None:
        """Take my ``message`` back, after asking (XEP-0424)."""
        jid = self.open_jid
        if jid is None:
            return
        if message.direction is not Direction.OUTGOING:
            self.notify("Only your own messages can be retracted.", severity="warning")
            return

        def answered(answer: str | None) -> None:
            if answer == "yes":
                self._try(lambda: self.session.actions.retract(jid, message))

        self.app.push_screen(Question(Text.assemble(
            "Retract ", (f"“{_excerpt(message)}”", "italic"), "? Everyone's client shows ",
            ("message retracted", "italic"), " instead; clients without retraction keep the text."),
            "retract"), answered)

    def send_from_composer(self, text: str) -> None:
        """Enter in the composer: send a new message, the reply or the correction being written.
        A :class:`~tui.session.rooms.RoomError` goes to the caller."""
        jid = self.open_jid
        if jid is None:
            return
        correcting = self.correcting
        if correcting is not None:
            if not self._try(lambda: self.session.actions.correct(jid, correcting, text)):
                self._composer().text = text
                return
        else:
            self.session.send_chat(jid, text, self.replying)
        self.replying = self.correcting = None
        self._show_context()

    def on_text_area_changed(self, event: Composer.Changed) -> None:
        """Typing in the composer tells the other side (XEP-0085), once per state."""
        jid = self.open_jid
        if jid is None or event.text_area is not self._composer() or self.session.state != "online":
            return
        if event.text_area.text.strip():
            self.session.typing.typed(jid)
        else:
            self.session.typing.cleared(jid)

    # --- session events -----------------------------------------------------------------------------

    def on_conversation_event(self, event: events.SessionEvent) -> None:
        """Older history in front of the open conversation; someone typing there."""
        if isinstance(event, events.HistoryPrepended) and event.jid == self.open_jid:
            self._log().messages_prepended(event.count)
        elif isinstance(event, events.ChatStateChanged) and event.jid == self.open_jid:
            self._show_typing()

    # --- the command palette --------------------------------------------------------------------------

    def message_commands(self) -> list[Command]:
        """The message actions that apply now: (title, help, callback); they act on the picked
        message, else on the newest one (or my newest)."""
        if self.open_jid is None:
            return []
        conversation = self.session.conversation(self.open_jid)
        if not conversation.messages:
            return []
        log_view = self._log()
        chosen = log_view.selected or conversation.messages[-1]
        mine = self.session.actions.last_own(conversation)
        commands: list[Command] = [
            ("Pick a message", "Choose a message with the arrows to act on it (Shift+Tab)",
             log_view.focus),
            ("Reply to message", f"Answer “{_excerpt(chosen, 30)}” with a quote (r on a message)",
             lambda: self.reply_to(chosen)),
            ("React to message", f"An emoji under “{_excerpt(chosen, 30)}” (+ on a message)",
             lambda: self.react_to(chosen))]
        if mine is not None:
            commands += [
                ("Correct my last message", "Edit and send it again (↑ in the empty composer)",
                 lambda: self.edit(mine)),
                ("Retract my last message", "Everyone sees “message retracted” (Del on a message)",
                 lambda: self.retract(mine))]
        if self._has_older(self.open_jid):
            commands.append(("Load older messages", "The page of history before the oldest here "
                             "(scrolling to the top does it too)", self.load_older))
        return commands
