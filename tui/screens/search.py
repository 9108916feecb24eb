"""The message search screen (CH8): type words, see the matching messages of every conversation with
where and when they were said and the words highlighted; Enter jumps to the message in its
conversation. The results come from the session's local index
(:class:`~tui.session.search.SearchService`), which the server archive keeps filling meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.messages import SessionUpdate, SessionView
from tui.session import ChatSession
from tui.session.message_index import Hit
from tui.session.search import IndexChanged
from tui.widgets.key_footer import KeyFooter

LIMIT = 200
"""Newest matches shown."""


def hit_prompt(hit: Hit, names: Mapping[str, str]) -> Text:
    """Two lines: conversation · sender · time, then the text around the match, matched words
    highlighted."""
    message = hit.message
    conversation = names.get(message.conversation) or message.conversation.split("@")[0]
    sender = "me" if message.direction.value == "out" else (
        message.nick or names.get(message.sender) or message.sender.split("@")[0])
    text = Text.assemble((conversation, "bold"), ("  ", ""), (sender, "cyan"), ("  ", ""),
                         (f"{message.time.astimezone():%d %b %Y %H:%M}", "dim"))
    text.append("\n\u00a0\u00a0")  # no-break spaces survive the list's wrapping
    for piece, matched in hit.snippet_parts():
        text.append(piece.replace("\n", " "), style="bold reverse" if matched else "")
    return text


class SearchScreen(SessionView, Screen[Hit | None]):
    """Search every conversation; returns the chosen hit (None: nothing chosen)."""

    DEFAULT_CSS = """
    SearchScreen > Vertical { padding: 0 1; }
    SearchScreen #search-title { height: 1; background: $boost; padding: 0 1; }
    SearchScreen #search-query { margin: 1 0 0 0; }
    SearchScreen #search-status { height: 1; color: $text-muted; padding: 0 1; }
    SearchScreen #search-hits { height: 1fr; border: none; }
    """

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("down", "to_hits", "Hits", show=False),
        Binding("ctrl+f", "to_query", "Search", show=False),
    ]

    def __init__(self, session: ChatSession, query: str = "") -> None:
        super().__init__()
        self.session = session
        self.initial = query
        self.hits: list[Hit] = []
        self._again: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble(("Search messages", "bold"),
                                       ("  every conversation this client has seen or read from the "
                                        "server", "dim")), id="search-title")
            yield Input(self.initial, placeholder='Words to find; "a phrase" in quotes',
                        id="search-query")
            yield Static("", id="search-status")
            yield OptionList(id="search-hits")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.run_search(self.initial)

    def _names(self) -> dict[str, str]:
        names = {c.jid: c.display_name for c in self.session.contacts.values()}
        names.update((room.jid, f"# {room.display_name}") for room in self.session.rooms.by_jid.values())
        return names

    # --- searching ------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        if self.hits:
            self.action_to_hits()

    @work(exclusive=True, group="search")
    async def run_search(self, text: str) -> None:
        """Look ``text`` up in the index and list the hits, newest first."""
        hits = await self.session.search.search(text, LIMIT) if text.strip() else []
        self.hits = hits
        names = self._names()
        hits_list = self.query_one(OptionList)
        hits_list.set_options([Option(hit_prompt(hit, names), id=str(i)) for i, hit in enumerate(hits)])
        if hits:
            hits_list.highlighted = 0
        await self._show_status(text)

    async def _show_status(self, text: str) -> None:
        search = self.session.search
        if search.problem:
            self.query_one("#search-status", Static).update(Text(search.problem, style="red"))
            return
        count = await search.count()
        found = (f"{len(self.hits)}{'+' if len(self.hits) >= LIMIT else ''} found · " if text.strip()
                 else "")
        reading = " · reading the server archive…" if search.reading else ""
        self.query_one("#search-status", Static).update(f"{found}{count:,} messages indexed{reading}")

    def on_session_update(self, update: SessionUpdate) -> None:
        """New messages in the index: search again (at most twice a second)."""
        if isinstance(update.event, IndexChanged) and self._again is None:
            self._again = self.set_timer(0.5, self._search_again)

    def _search_again(self) -> None:
        self._again = None
        self.run_search(self.query_one(Input).value)

    # --- choosing ---------------------------------------------------------------------------------

    def action_to_hits(self) -> None:
        """Down from the query: into the hits."""
        if self.hits:
            self.query_one(OptionList).focus()

    def action_to_query(self) -> None:
        """Back to the query (Ctrl+F)."""
        self.query_one(Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.hits[int(event.option.id)])

    def action_close(self) -> None:
        """Back without choosing."""
        self.dismiss(None)
