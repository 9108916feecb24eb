"""A contact's details card (CO3): initials, presence per device, groups, and the vCard."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.session import ChatSession, Contact
from tui.widgets.avatar import initials
from tui.widgets.roster import presence_dot

__all__ = ["ContactCard", "initials"]


class ContactCard(ModalScreen[None]):
    """Everything known about one contact; Esc closes."""

    DEFAULT_CSS = """
    ContactCard { align: center middle; }
    ContactCard #card { width: 64; height: auto; max-height: 22; border: tall $accent;
                        background: $surface; padding: 0 1; }
    """

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, session: ChatSession, contact: Contact) -> None:
        super().__init__()
        self.session = session
        self.contact = contact

    def compose(self) -> ComposeResult:
        with Vertical(id="card"):
            yield Static(id="card-head")
            yield Static("Loading the business card…", id="card-vcard")

    def on_mount(self) -> None:
        contact = self.contact
        head = Text.assemble((f" {initials(contact.display_name)} ", "reverse bold"), "  ",
                             (contact.display_name, "bold"), "  ", (contact.jid, "dim"), "\n")
        for resource, presence in sorted(contact.resources.items()):
            head.append_text(Text.assemble(presence_dot(presence.show), f" {presence.show.label}",
                                           (f" on {resource}" if resource else "", "dim"),
                                           (f" — {presence.status}" if presence.status else ""), "\n"))
        if not contact.resources:
            head.append_text(Text.assemble(presence_dot(contact.show), " offline\n"))
        if contact.groups:
            head.append(f"Groups: {', '.join(contact.groups)}\n", style="dim")
        self.query_one("#card-head", Static).update(head)
        self.load()

    @work(exclusive=True)
    async def load(self) -> None:
        if self.session.state != "online":  # the connection went while the card opened
            self.query_one("#card-vcard", Static).update(Text(
                "Not connected: the business card (vCard) comes from the server; d shows it once "
                "the top line says online.", style="italic"))
            return
        card = await self.session.card(self.contact.jid)
        text = "\n".join(f"{field:<14} {value}" for field, value in card.items())
        self.query_one("#card-vcard", Static).update(text or "No business card (vCard) published.")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
