"""The journal screen: every call and chat in one table, as in the ProCall journal.

Columns: time, type, direction, contact (presence colour, initials), duration or result, preview,
notes. Keys pick the period (t/y/w/m/a), the type (k), missed only (x), free text (/), grouping by
day or contact (g), whose journal (o: someone's or a group's, with a grant), columns to show and
their order (c), add a note (n), export (e: CSV, h: HTML), refresh (F5). The table is a
DataTable (rows are data, not widgets); new entries are pushed by the journal and appear without
refreshing.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, SelectionList, Static

from tui.messages import SessionUpdate, SessionView
from tui.session import ChatSession, events
from tui.session.journal import JournalError, JournalRow
from tui.widgets.key_footer import KeyFooter
from tui.widgets.roster import presence_dot

from .commands import ActionCommands, Command

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


def duration_cell(row: JournalRow) -> Text:
    """The Duration column: how long, how many messages, or what came of a call."""
    if row.result == "missed" and row.direction == "out":  # mine, unanswered: nothing to call back
        return Text("no answer", style="yellow")
    if row.result in ("missed", "declined", "failed"):
        return Text(row.result, style="bold red")
    if row.kind in ("chat", "groupchat"):
        return Text(f"{row.messages_in + row.messages_out} msg", style="dim")
    if row.result == "planned":
        return Text("planned", style="yellow")
    minutes, seconds = divmod(row.duration, 60)
    return Text(f"{minutes}:{seconds:02d}")


PADDING = 2
"""Columns a table cell's padding takes."""
CONTACT_WIDTH = 16
"""The widest contact cell of a table narrowed to the terminal; longer ones end in an ellipsis."""
PREVIEW_WIDTH = 12
"""The narrowest preview cell: below that the table scrolls sideways rather than say nothing."""
NARROW_KIND_LABELS = {"groupchat": "room", "screen share": "screen"}
"""Shorter names of kinds for a narrowed table."""
HEADING, SHORT_HEADING = "heading", "short heading"
"""Where a group heading line keeps its text, in full and for a narrowed table."""


def cell_width(cell: Text | str) -> int:
    """Columns ``cell`` takes in the table."""
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


def fitted(cell: Text | str, width: int | None) -> Text | str:
    """``cell`` ending in an ellipsis where it is wider than ``width`` (None: any width)."""
    if width is None or cell_width(cell) <= width:
        return cell
    text = cell.copy() if isinstance(cell, Text) else Text(cell)
    text.truncate(width, overflow="ellipsis")
    return text


def narrowed(keys: list[str], labels: dict[str, str], lines: list[dict[str, Text | str]],
             room: int) -> tuple[list[str], dict[str, int]]:
    """The columns to show and the widths of those that must be narrower for the table to fit in
    ``room`` columns (none when the full table fits). Narrowed, the direction arrow moves in front
    of the type (``→ video``, one column less), contacts are cut at :data:`CONTACT_WIDTH` and the
    preview gets what is left; ``lines`` change to match."""

    def natural(key: str) -> int:
        return max([cell_width(labels[key])] + [cell_width(cells.get(key, "")) for cells in lines])

    headings = [cell_width(cells[HEADING]) for cells in lines if HEADING in cells]
    full = [max([natural(key)] + (headings if key == keys[0] else [])) for key in keys]
    if sum(width + PADDING for width in full) <= room:
        return keys, {}
    if "kind" in keys and "dir" in keys:
        for cells in lines:
            if "kind" in cells:
                kind = cells["kind"]
                assert isinstance(kind, Text)
                label = NARROW_KIND_LABELS.get(kind.plain, kind.plain)
                cells["kind"] = Text.assemble(cells.pop("dir"), " ", Text(label, style=kind.style))
        keys = [key for key in keys if key != "dir"]
    widths = {}
    if "contact" in keys:
        widths["contact"] = min(natural("contact"), CONTACT_WIDTH)
    if "preview" in keys:
        rest = room - sum(widths.get(key, natural(key)) + PADDING for key in keys if key != "preview")
        widths["preview"] = max(PREVIEW_WIDTH, min(natural("preview"), rest - PADDING))
    widths.setdefault(keys[0], natural(keys[0]))  # group headings are cut to the first column
    return keys, widths


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


class JournalCommands(ActionCommands):
    """Every key of the journal, by name, in the command palette."""

    def commands(self) -> list[Command]:
        screen = self.screen
        return screen.journal_commands() if isinstance(screen, JournalScreen) else []


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

    COMMANDS = {JournalCommands}
    BINDINGS = [  # the footer (80 columns) shows the filters, search and note; all are in the palette
        Binding("escape", "app.pop_screen", "Back", show=False),  # Esc is known
        Binding("f5", "refresh_journal", "Refresh", show=False),  # entries come by themselves
        Binding("t", "period('t')", "Today"), Binding("y", "period('y')", "Yesterday", show=False),
        Binding("w", "period('w')", "Week"), Binding("m", "period('m')", "Month"),
        Binding("a", "period('a')", "All", show=False),
        Binding("k", "next_kind", "Type"), Binding("x", "missed", "Missed"),
        Binding("slash", "search", "Search"), Binding("n", "note", "Note"),
        Binding("g", "next_grouping", "Group", show=False),
        Binding("o", "whose", "Whose", show=False),
        Binding("c", "columns", "Columns", show=False),
        Binding("e", "export('csv')", "CSV", show=False),
        Binding("h", "export('html')", "HTML", show=False),
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
        self._laid_out_for = 0

    def compose(self) -> ComposeResult:
        yield Static(id="journal-filters")
        yield Input(placeholder="Search previews and notes, Enter to apply", id="journal-search")
        yield DataTable(id="journal-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="journal-detail")
        yield KeyFooter()

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

    def _room(self) -> int:
        """Columns the table has for its cells and their padding, beside its scroll bar."""
        table = self.query_one(DataTable)
        return (self.size.width or self.app.size.width) - table.styles.scrollbar_size_vertical

    def _cells(self, row: JournalRow) -> dict[str, Text | str]:
        """One entry's cells, as the full table shows them."""
        arrow = Text("→", style="cyan") if row.direction == "out" else Text("←", style="magenta")
        return {"time": row.start.astimezone().strftime("%d.%m. %H:%M"),
                "kind": Text(kind_label(row.kind), style=KIND_STYLES.get(row.kind, "")),
                "dir": arrow, "contact": self._contact(row.peer), "what": duration_cell(row),
                "preview": row.preview[:80], "notes": "✎" if row.notes else ""}

    def _heading(self, row: JournalRow) -> tuple[str, str] | None:
        """The group ``row`` is under, in full and short (a day, a contact); None: no grouping."""
        if self.grouping == "day":
            local = row.start.astimezone()
            return local.strftime("%A %d.%m.%Y"), local.strftime("%a %d.%m.")
        if self.grouping == "contact":
            contact = self.session.contacts.get(row.peer)
            return row.peer, contact.display_name if contact else row.peer.split("@")[0]
        return None

    def _fill(self, *, keep_cursor: bool = False) -> None:
        table = self.query_one(DataTable)
        current = self._current() if keep_cursor else None
        table.clear(columns=True)
        labels = {key: label for key, label, _ in self.columns}
        keys = [key for key, _, visible in self.columns if visible]
        ordered = sorted(self.rows.values(), key=lambda r: (r.start, r.id), reverse=True)
        if self.grouping == "contact":
            ordered.sort(key=lambda r: r.peer)  # stable: newest first within a contact
        lines: list[tuple[str, dict[str, Text | str]]] = []
        group = None
        for row in ordered:
            heading = self._heading(row)
            if heading is not None and heading[0] != group:
                group = heading[0]
                lines.append((f"group:{group}", {HEADING: heading[0], SHORT_HEADING: heading[1]}))
            lines.append((str(row.id), self._cells(row)))
        keys, widths = narrowed(keys, labels, [cells for _, cells in lines], self._room())
        for key in keys:
            table.add_column(labels[key], key=key, width=widths.get(key))
        for row_key, cells in lines:
            if HEADING in cells:
                title = cells[SHORT_HEADING if widths else HEADING]
                cells = {keys[0]: Text(str(title), style="bold underline")}
            table.add_row(*(fitted(cells.get(key, ""), widths.get(key)) for key in keys), key=row_key)
        self._laid_out_for = self._room()
        if current is not None:
            table.move_cursor(row=table.get_row_index(str(current.id)))
        self._show_filters(f"{len(ordered)} of {self.total}")
        self._show_detail()

    def on_resize(self) -> None:
        """A wider or narrower terminal: the table laid out again for it (same entry highlighted)."""
        if self.rows and self._room() != self._laid_out_for:
            self._fill(keep_cursor=True)

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

    def journal_commands(self) -> list[Command]:
        """The journal's actions for the command palette: (title, help, callback)."""
        periods = [(f"Journal: {name}", f"Entries of {name} ({key})",
                    lambda key=key: self.action_period(key))
                   for key, name in (("t", "today"), ("y", "yesterday"), ("w", "this week"),
                                     ("m", "this month"), ("a", "all time"))]
        return [*periods,
                ("Journal: next type", "Chats, rooms, calls, … in turn (k)", self.action_next_kind),
                ("Journal: missed only", "Only missed calls, or everything again (x)", self.action_missed),
                ("Journal: search", "Search previews and notes (/)", self.action_search),
                ("Journal: add a note", "A note on the highlighted entry (n)", self.action_note),
                ("Journal: group", "By day, by contact, or not (g)", self.action_next_grouping),
                ("Journal: whose", "Someone's or a group's journal, with a grant (o)", self.action_whose),
                ("Journal: columns", "Show, hide and reorder the columns (c)", self.action_columns),
                ("Journal: export CSV", "A download link to this period as CSV (e)",
                 lambda: self.action_export("csv")),
                ("Journal: export HTML", "A download link to this period as printable HTML (h)",
                 lambda: self.action_export("html")),
                ("Journal: refresh", "Ask the journal again (F5)", self.action_refresh_journal),
                ("Journal: back", "Back to the contacts (Esc)", self.app.pop_screen)]

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
