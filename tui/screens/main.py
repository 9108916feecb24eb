"""The main screen: my presence on top, contacts on the left, the open conversation on the right."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import OptionList, Static

from tui.messages import SessionUpdate, SessionView
from tui.session import ChatSession, Contact, Show, events
from tui.session.callinfo import CallChanged
from tui.session.outbox import OutboxUnusable
from tui.session.rooms import RoomError
from tui.widgets.call import CallPanel, VideoView
from tui.widgets.chat import Composer, MessageLog
from tui.widgets.chat.compose_bar import ComposeBar
from tui.widgets.chat.transfer_bar import TransferBar
from tui.widgets.key_footer import KeyFooter
from tui.widgets.presence_bar import PresenceBar
from tui.widgets.rooms import ParticipantList
from tui.widgets.roster import RosterList, presence_dot
from tui.widgets.roster.roster_filter import RosterFilter

from .commands import ActionCommands, Command
from .conversation import ConversationActions
from .conversation_tools import TOOL_BINDINGS, ConversationTools
from .files import FILE_BINDINGS, FileActions
from .rooms import NO_CONVERSATION, ROOM_BINDINGS, RoomActions, room_title


class MainCommands(ActionCommands):
    """The main screen's actions that apply now, in the command palette: rooms, files, messages
    and the conversation tools."""

    def commands(self) -> list[Command]:
        screen = self.screen
        if not isinstance(screen, MainScreen):
            return []
        return [*screen.room_commands(), *screen.file_commands(), *screen.message_commands(),
                *screen.tool_commands()]


class MainScreen(SessionView, ConversationTools, FileActions, RoomActions, ConversationActions,
                 Screen[None]):
    """Rooms and roster side by side with the open conversation."""

    COMMANDS = {MainCommands}

    BINDINGS = [  # the footer shows what fits, in this order: keys of the moment first
        Binding("escape", "focus_roster", "Contacts", show=False),  # 80 columns: Esc is known
        Binding("ctrl+o", "focus_roster", "Contacts", show=False),
        *ROOM_BINDINGS,
        *FILE_BINDINGS,
        Binding("f2", "presence", "Presence"),
        Binding("i", "inform", "Inform me", show=False),
        Binding("d", "card", "Details", show=False),
        Binding("h", "hide_offline", "Hide offline", show=False),
        Binding("f3", "journal", "Journal"),
        *TOOL_BINDINGS,
    ]

    def __init__(self, session: ChatSession) -> None:
        super().__init__()
        self.session = session
        self.open_jid: str | None = None
        self.watched: dict[str, bool] = {}
        """Contacts to tell me about (PR5): bare JID -> whether they were online last time."""
        self._batch_due: set[str] = set()

    def compose(self) -> ComposeResult:
        yield PresenceBar(self.session.jid.bare, id="presence")
        with Horizontal():
            with Vertical(id="sidebar"):
                yield RosterFilter(id="roster-filter")
                yield RosterList(id="roster")
                yield ParticipantList(id="participants")
            with Vertical(id="conversation"):
                yield CallPanel(id="call")
                yield VideoView(id="video")
                yield Static(NO_CONVERSATION, id="conversation-title")
                yield MessageLog(id="messages")
                yield TransferBar(self.session, id="transfers")
                yield ComposeBar(id="compose-bar")
                yield Composer(id="composer", placeholder="Message (Enter sends, Alt+Enter new line)")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(Composer).disabled = True
        self.hide_room_panel()
        self.query_one(RosterList).focus()

    # --- actions ----------------------------------------------------------------------------------

    def action_focus_roster(self) -> None:
        self.hide_room_panel()
        self.query_one(RosterList).focus()

    def action_hide_offline(self) -> None:
        """Show or leave out offline contacts."""
        roster = self.query_one(RosterList)
        roster.hide_offline = not roster.hide_offline
        roster.set_contacts(self.session.contacts.values())

    def action_card(self) -> None:
        """The highlighted contact's details card."""
        from .card import ContactCard

        option = self.query_one(RosterList).highlighted_option
        contact = self.session.contacts.get(option.id) if option and option.id else None
        if contact is not None and self.session.state == "online":
            self.app.push_screen(ContactCard(self.session, contact))

    def action_inform(self) -> None:
        """Toggle "inform me about status change" for the highlighted contact."""
        roster = self.query_one(RosterList)
        option = roster.highlighted_option
        if option is None or not option.id:
            return
        contact = self.session.contacts.get(option.id)
        if contact is None:
            return
        if self.watched.pop(contact.jid, None) is not None:
            self.notify(f"No longer telling you about {contact.display_name}.")
        else:
            self.watched[contact.jid] = contact.show is not Show.OFFLINE
            self.notify(f"You will be told when {contact.display_name} comes online or leaves.")

    def _inform(self, contact: Contact) -> None:
        if contact.jid not in self.watched:
            return
        online = contact.show is not Show.OFFLINE
        if online != self.watched[contact.jid]:
            self.watched[contact.jid] = online
            self.notify(f"{contact.display_name} is now {contact.show.label}"
                        + (f" — {contact.status}" if contact.status else ""),
                        title="Status change", timeout=10)
            self.app.bell()

    def action_presence(self) -> None:
        from .presence import PresenceDialog

        def apply(choice: tuple[Show, str] | None) -> None:
            if choice is None:
                return
            self.session.set_presence(*choice)  # sent now, or when the session is back
            if self.session.state != "online":
                self.notify("Not connected: your presence is sent when you are online again.",
                            severity="warning")

        self.app.push_screen(PresenceDialog(self.session.me.show, self.session.me.status), apply)

    def action_journal(self) -> None:
        from .journal import JournalScreen

        self.app.push_screen(JournalScreen(self.session))

    # --- calls ------------------------------------------------------------------------------------

    def call_target(self) -> str | None:
        """Whom F8 calls: the open 1:1 conversation, else the highlighted contact."""
        if self.open_jid is not None and self.open_jid in self.session.contacts:
            return self.open_jid
        option = self.query_one(RosterList).highlighted_option
        if option is not None and option.id and option.id in self.session.contacts:
            return option.id
        return None

    def _show_call(self, event: CallChanged) -> None:
        call = event.call
        current = self.session.calls.current if self.session.calls_loaded else \
            (call if not call.ended else None)
        shown = current if current is not None else (call if call.ended else None)
        contact = self.session.contacts.get(shown.peer) if shown else None
        self.query_one(CallPanel).show_call(shown, contact.display_name if contact else "")
        video = self.query_one(VideoView)
        video.set_class(current is not None and (current.video or current.viewing)
                        and current.state == "active", "-active")
        if current is None:
            video.set_frame(None)

    def show_video(self) -> None:
        """Put the newest received frame of the running call into the video view: the other
        side's shared screen while there is one (labelled), else its camera."""
        views = self.query(VideoView)
        if not views:  # not composed yet, or being taken down (quitting during a call)
            return
        view = views.first()
        current = self.session.calls.current if self.session.calls_loaded else None
        if current is None or not view.has_class("-active"):
            return
        if current.viewing:
            contact = self.session.contacts.get(current.peer)
            view.label = f"🖥 {contact.display_name if contact else current.peer}'s screen"
            width, height = view.pixel_size
            view.set_frame(self.session.calls.screen_frame(current.sid, width, height))
        elif current.video:
            view.label = ""
            width, height = view.pixel_size
            view.set_frame(self.session.calls.video_frame(current.sid, width, height))

    def open_conversation(self, jid: str) -> None:
        """Show the conversation with ``jid`` and put the cursor in the composer."""
        self.open_jid = jid
        conversation = self.session.conversation(jid)
        names = {c.jid: c.display_name for c in self.session.contacts.values()}
        self.query_one(MessageLog).show(conversation, names)
        self._update_title()
        composer = self.query_one(Composer)
        composer.disabled = False
        composer.focus()
        self._mark_read()
        self.conversation_opened(jid)
        self.refresh_bindings()

    def _mark_read(self) -> None:
        if self.open_jid is not None and self.session.state == "online":
            self.session.mark_read(self.open_jid)

    def _update_title(self) -> None:
        if self.open_jid is None:
            return
        if self.open_room is not None:
            self.query_one("#conversation-title", Static).update(room_title(self.open_room))
            return
        contact = self.session.contacts.get(self.open_jid)
        title = Text("Chat with ", style="dim")
        if contact is None:
            title.append(self.open_jid, style="bold")
        else:
            title.append_text(Text.assemble(presence_dot(contact.show), " ",
                                            (contact.display_name, "bold"), " ",
                                            (f"<{contact.jid}>", "dim"), "  ", contact.show.label))
            if contact.status:
                title.append(f" — {contact.status}", style="italic")
        self.query_one("#conversation-title", Static).update(title)

    # --- input ------------------------------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "roster" and event.option.id and not self.select_room(event.option.id):
            self.open_conversation(event.option.id)

    def on_composer_submitted(self, event: Composer.Submitted) -> None:
        if self.open_jid is None:
            return
        if self.session.state != "online" and self.open_jid in self.session.rooms:
            self.notify("Not connected: room messages are not queued. It stays in the box; "
                        "press Enter again once the top line says online.", severity="warning")
            event.composer.text = event.text
            return
        try:  # offline, a 1:1 message is queued and shown so; it goes out once online
            self.send_from_composer(event.text)
        except RoomError as exc:
            self.notify(str(exc), severity="warning")
            event.composer.text = event.text
        except OutboxUnusable as exc:
            self.notify(f"Not connected, and the message could not be queued: {exc}. It stays in "
                        "the box; press Enter again once the top line says online.", severity="warning")
            event.composer.text = event.text

    # --- session events ---------------------------------------------------------------------------

    def after_session_batch(self) -> None:
        """The read marker and the unread counts once per batch, not per message, so a burst of
        a thousand messages costs one marker and one list update."""
        due, self._batch_due = self._batch_due, set()
        if "read" in due:
            self._mark_read()
        if "unread" in due:
            self._show_unread()

    def _show_unread(self) -> None:
        """Unread counts beside contacts and rooms. The open conversation counts as read: what
        arrived since its last batch was shown is marked read with the batch that shows it, so
        its count would only blink up and back down (and redraw the list twice)."""
        unread = {jid: c.unread for jid, c in self.session.conversations.items()}
        if self.open_jid in unread and self.session.state == "online":
            unread[self.open_jid] = 0
        self.query_one(RosterList).set_unread(unread)

    def _due(self, what: str) -> bool:
        """Inside a batch, remember ``what`` for its end (True); outside one, do it now (False)."""
        if not self.in_session_batch:
            return False
        self._batch_due.add(what)
        return True

    def on_session_update(self, update: SessionUpdate) -> None:
        event = update.event
        if isinstance(event, events.ConnectionChanged):
            self.query_one(PresenceBar).set_connection(event.state, event.detail)
            if event.state == "online":
                self._mark_read()
        elif isinstance(event, events.OwnPresenceChanged):
            self.query_one(PresenceBar).set_presence(event.show, event.status)
        elif isinstance(event, events.RosterChanged):
            self.query_one(RosterList).set_contacts(self.session.contacts.values())
            self._update_title()
        elif isinstance(event, events.PresenceChanged):
            contact = self.session.contacts.get(event.jid)
            if contact is not None:
                self.query_one(RosterList).update_contact(contact)
                self._inform(contact)
            if event.jid == self.open_jid:
                self._update_title()
        elif isinstance(event, events.MessageAdded):
            if event.jid == self.open_jid:
                self.query_one(MessageLog).message_added(event.index)
                if not self._due("read"):
                    self._mark_read()
        elif isinstance(event, events.MessageChanged):
            if event.jid == self.open_jid:
                self.query_one(MessageLog).message_changed(event.message)
        elif isinstance(event, events.UnreadChanged):
            if not self._due("unread"):
                self._show_unread()
        elif isinstance(event, CallChanged):
            self._show_call(event)
        elif isinstance(event, (events.HistoryPrepended, events.ChatStateChanged)):
            self.on_conversation_event(event)
        elif not self.on_tool_event(event):
            self.on_room_event(event)
