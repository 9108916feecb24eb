"""The journal screen: every call and chat in one table, as in the ProCall journal.

Columns: time, type, direction, contact (presence colour, initials), duration or result, preview,
notes. Keys pick the period (t/y/w/m/a), the type (k), missed only (x), free text (/), grouping by
day or contact (g), whose journal (o: someone's or a group's, with a grant), columns to show and
their order (c), add a note (n), export (e: CSV, h: HTML), refresh (F5). The table is a
DataTable (rows are data, not widgets); new entries are pushed by the journal and appear without
refreshing.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, SelectionList, Static

from tui.messages import SessionUpdate, SessionView
from tui.session import ChatSession, events
from tui.session.journal import JournalError, JournalRow
from tui.widgets.roster import presence_dot

KIND_STYLES = {"chat": "cyan", "groupchat": "blue", "audio": "green", "video": "green",
               "screen": "green", "call": "yellow", "planned": "magenta"}
"""Colours instead of emoji icons: emoji widths differ between terminals."""
KIND_CYCLE = ("", "chat", "groupchat", "audio", "video", "screen", "call", "planned")
KIND_LABELS = {"screen": "screen share"}
"""How a kind reads where its name alone would not say it."""
PERIODS = {"t": "today", "y": "yesterday", "w": "week", "m": "month", "a": "all"}
COLUMNS = (("time", "Time"), ("kind", "Type"), ("dir", "Dir"), ("contact", "Contact"),
           ("what", "Duration"), ("preview", "Preview"), ("notes", "✎"))


def kind_label(kind: str) -> str:
    """A journal kind as the screen shows it."""
    return KIND_LABELS.get(kind, kind)


def _duration(row: JournalRow) -> Text:
    if row.result in ("missed", "declined", "failed"):
        return Text(row.result, style="bold red")
    if row.kind in ("chat", "groupchat"):
        return Text(f"{row.messages_in + row.messages_out} msg", style="dim")
    if row.result == "planned":
        return Text("planned", style="yellow")
    minutes, seconds = divmod(row.duration, 60)
    return Text(f"{minutes}:{seconds:02d}")


class ColumnsDialog(ModalScreen[list[tuple[str, str, bool]] | None]):
    """Show, hide and reorder the journal's columns: Space toggles, Shift+Up/Down moves,
    A applies, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("a", "apply", "Apply"),
                Binding("shift+up", "move(-1)", "Up"), Binding("shift+down", "move(1)", "Down")]

    def __init__(self, columns: list[tuple[str, str, bool]]) -> None:
        super().__init__()
        self.columns = list(columns)

    def compose(self) -> ComposeResult:
        with Vertical(id="columns-dialog"):
            yield Static("Columns — Space shows/hides, Shift+Up/Down moves, A applies, Esc cancels")
            yield SelectionList[str](*((label, key, shown) for key, label, shown in self.columns),
                                     id="columns-list")

    def _current(self) -> list[tuple[str, str, bool]]:
        chosen = set(self.query_one(SelectionList).selected)
        return [(key, label, key in chosen) for key, label, _ in self.columns]

    def action_move(self, step: int) -> None:
        selection: SelectionList[str] = self.query_one(SelectionList)
        index = selection.highlighted
        if index is None or not 0 <= index + step < len(self.columns):
            return
        self.columns = self._current()
        self.columns[index], self.columns[index + step] = self.columns[index + step], self.columns[index]
        selection.clear_options()
        selection.add_options([(label, key, shown) for key, label, shown in self.columns])
        selection.highlighted = index + step

    def action_apply(self) -> None:
        self.dismiss(self._current())

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoteDialog(ModalScreen[str | None]):
    """Asks for the text of a note."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, about: str) -> None:
        super().__init__()
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical(id="note-dialog"):
            yield Static(f"Note on {self.about}")
            yield Input(placeholder="Type the note and press Enter", id="note-text")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class JournalScreen(SessionView, Screen[None]):
    """My journal."""

    DEFAULT_CSS = """
    JournalScreen #journal-filters { height: 1; padding: 0 1; background: $panel; }
    JournalScreen #journal-table { height: 1fr; }
    JournalScreen #journal-detail { height: 4; padding: 0 1; background: $boost; }
    JournalScreen #journal-search { display: none; }
    JournalScreen #journal-search.shown { display: block; }
    NoteDialog, ColumnsDialog { align: center middle; }
    ColumnsDialog #columns-dialog { width: 64; height: 14; border: tall $accent; background: $surface; }
    NoteDialog #note-dialog { width: 60; height: 5; border: tall $accent; background: $surface; }
    """

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f5", "refresh_journal", "Refresh"),
        Binding("t", "period('t')", "Today"), Binding("y", "period('y')", "Yesterday", show=False),
        Binding("w", "period('w')", "Week"), Binding("m", "period('m')", "Month"),
        Binding("a", "period('a')", "All", show=False),
        Binding("k", "next_kind", "Type"), Binding("x", "missed", "Missed"),
        Binding("g", "next_grouping", "Group"),
        Binding("o", "whose", "Whose", show=False),
        Binding("c", "columns", "Columns", show=False),
        Binding("slash", "search", "Search"), Binding("n", "note", "Note"),
        Binding("e", "export('csv')", "CSV"), Binding("h", "export('html')", "HTML", show=False),
    ]

    def __init__(self, session: ChatSession, rows: list[JournalRow] | None = None) -> None:
        """``rows`` shows those entries instead of asking the journal (tests, demos)."""
        super().__init__()
        self.session = session
        self.preset = rows
        self.period = "week"
        self.kind = ""
        self.missed = False
        self.text = ""
        self.rows: dict[int, JournalRow] = {}
        self.total = 0
        self.grouping = ""  # "", "day" or "contact"
        self.whose = ""  # "" (mine), "user@domain" or "group:Name"
        self.columns: list[tuple[str, str, bool]] = [(key, label, True) for key, label in COLUMNS]
        self.last_export = ""

    def compose(self) -> ComposeResult:
        yield Static(id="journal-filters")
        yield Input(placeholder="Search previews and notes, Enter to apply", id="journal-search")
        yield DataTable(id="journal-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="journal-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()
        if self.preset is None:
            self.action_refresh_journal()
        else:
            self.rows = {row.id: row for row in self.preset}
            self.total = len(self.rows)
            self._fill()

    # --- data -----------------------------------------------------------------------------------

    @work(exclusive=True, group="journal")
    async def action_refresh_journal(self) -> None:
        self._show_filters("loading…")
        try:
            rows, self.total = await self.session.journal.query(
                self.period, (self.kind,) if self.kind else (), self.missed, self.text,
                whose=self.whose)
        except JournalError as exc:
            self.notify(str(exc), title="Journal", severity="error")
            self._show_filters("")
            return
        self.rows = {row.id: row for row in rows}
        self._fill()

    def _contact(self, peer: str) -> Text:
        """The contact as the roster shows it: presence colour, initials, name."""
        contact = self.session.contacts.get(peer)
        if contact is None:
            return Text(peer)
        name = contact.display_name
        initials = "".join(part[0] for part in name.replace(".", " ").split()[:2]).upper() or "?"
        return Text.assemble(presence_dot(contact.show), " ", (f"{initials:<2}", "reverse"), " ", name)

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        shown = [(key, label) for key, label, visible in self.columns if visible]
        for key, label in shown:
            table.add_column(label, key=key)
        keys = [key for key, _ in shown]
        ordered = sorted(self.rows.values(), key=lambda r: (r.start, r.id), reverse=True)
        if self.grouping == "contact":
            ordered.sort(key=lambda r: r.peer)  # stable: newest first within a contact
        group = None
        for row in ordered:
            local = row.start.astimezone()
            heading = (local.strftime("%A %d.%m.%Y") if self.grouping == "day"
                       else row.peer if self.grouping == "contact" else None)
            if heading is not None and heading != group:
                group = heading
                table.add_row(Text(heading, style="bold underline"), *([""] * (len(keys) - 1)),
                              key=f"group:{heading}")
            arrow = Text("→", style="cyan") if row.direction == "out" else Text("←", style="magenta")
            cells = {"time": local.strftime("%d.%m. %H:%M"),
                     "kind": Text(kind_label(row.kind), style=KIND_STYLES.get(row.kind, "")),
                     "dir": arrow,
                     "contact": self._contact(row.peer), "what": _duration(row),
                     "preview": row.preview[:80], "notes": "✎" if row.notes else ""}
            table.add_row(*(cells[key] for key in keys), key=str(row.id))
        self._show_filters(f"{len(ordered)} of {self.total}")
        self._show_detail()

    def _show_filters(self, status: str) -> None:
        parts = [f"journal: {self.whose or 'mine'}", f"period: {self.period}",
                 f"type: {kind_label(self.kind) or 'all'}"]
        if self.grouping:
            parts.append(f"by {self.grouping}")
        if self.missed:
            parts.append("missed only")
        if self.text:
            parts.append(f"text: {self.text}")
        if status:
            parts.append(f" {status}")
        self.query_one("#journal-filters", Static).update("  ".join(parts))

    def _current(self) -> JournalRow | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(int(key)) if key and key.isdigit() else None  # not a group heading

    def _show_detail(self) -> None:
        row = self._current()
        detail = self.query_one("#journal-detail", Static)
        if row is None:
            has_rows = self.query_one(DataTable).row_count > 0
            detail.update("Move to an entry to see its notes." if has_rows else "No entries in this view.")
            return
        lines = [f"{kind_label(row.kind)} with {row.peer}, {row.start.astimezone():%Y-%m-%d %H:%M}"
                 f" – {row.end.astimezone():%H:%M}, {row.result}"]
        lines += [f"✎ {n.author.split('@')[0]}: {n.text}" for n in row.notes[-2:]]
        detail.update("\n".join(lines))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_session_update(self, update: SessionUpdate) -> None:
        if isinstance(update.event, events.JournalChanged):
            for row in update.event.entries:
                if row.id not in self.rows:
                    self.total += 1
                self.rows[row.id] = row
            self._fill()

    # --- actions --------------------------------------------------------------------------------

    def action_period(self, key: str) -> None:
        self.period = PERIODS[key]
        self.action_refresh_journal()

    def action_next_kind(self) -> None:
        self.kind = KIND_CYCLE[(KIND_CYCLE.index(self.kind) + 1) % len(KIND_CYCLE)]
        self.action_refresh_journal()

    def action_columns(self) -> None:
        def apply(columns: list[tuple[str, str, bool]] | None) -> None:
            if columns is not None and any(shown for _, _, shown in columns):
                self.columns = columns
                self._fill()

        self.app.push_screen(ColumnsDialog(self.columns), apply)

    def action_next_grouping(self) -> None:
        self.grouping = {"": "day", "day": "contact", "contact": ""}[self.grouping]
        self._fill()

    def action_missed(self) -> None:
        self.missed = not self.missed
        self.action_refresh_journal()

    def action_search(self) -> None:
        search = self.query_one("#journal-search", Input)
        search.add_class("shown")
        search.focus()

    def action_whose(self) -> None:
        """Ask whose journal to show (someone else's or a group's needs a grant)."""
        search = self.query_one("#journal-search", Input)
        search.placeholder = "Whose journal: user@domain, group:Name, or empty for mine — Enter"
        search.value = self.whose
        search.add_class("shown", "whose")
        search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "journal-search":
            return
        if event.input.has_class("whose"):
            self.whose = event.value.strip()
            event.input.remove_class("whose")
        else:
            self.text = event.value.strip()
        event.input.remove_class("shown")
        event.input.value = ""
        event.input.placeholder = "Search previews and notes, Enter to apply"
        self.query_one(DataTable).focus()
        self.action_refresh_journal()

    def action_note(self) -> None:
        row = self._current()
        if row is None:
            return

        def save(text: str | None) -> None:
            self._save_note(row, text)

        self.app.push_screen(NoteDialog(f"{kind_label(row.kind)} with {row.peer}"), save)

    @work(group="journal-note")
    async def _save_note(self, row: JournalRow, text: str | None) -> None:
        if not text:
            return
        try:
            await self.session.journal.add_note(row.id, text)
        except JournalError as exc:
            self.notify(str(exc), title="Note not saved", severity="error")
            return
        self.notify("Note saved.")

    @work(group="journal-export")
    async def action_export(self, fmt: str) -> None:
        try:
            url = await self.session.journal.export(fmt, self.period)
        except JournalError as exc:
            self.notify(str(exc), title="Export failed", severity="error")
            return
        self.last_export = url
        self.notify(url, title=f"{fmt.upper()} export ready", timeout=30)
