"""One line above the composer while files go up or down: name, a bar, percent and bytes (CH7)."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget

from tui.session import ChatSession
from tui.session.attachment import human_size
from tui.session.events import SessionEvent
from tui.session.files import Transfer, TransferChanged

BAR = 16
NAME = 28
"""Longest file name shown; longer ones end in an ellipsis."""


def transfer_line(transfer: Transfer, names: dict[str, str]) -> Text:
    """``⬆ report.pdf to Bob ██████░░░░  45% 1.4 MB/3.2 MB``, on one line."""
    arrow, verb = ("⬆", "to") if transfer.upload else ("⬇", "from")
    name = transfer.name if len(transfer.name) <= NAME else transfer.name[:NAME - 1] + "…"
    line = Text.assemble((f"{arrow} ", "bold"), (name, "bold"),
                         (f" {verb} {names.get(transfer.jid, transfer.jid.split('@')[0])} ", "dim"),
                         no_wrap=True, overflow="ellipsis")
    progress = transfer.progress
    if progress is None:
        line.append(human_size(transfer.done))
        return line
    filled = round(BAR * progress)
    line.append("█" * filled, style="green")
    line.append("░" * (BAR - filled), style="dim")
    line.append(f" {progress:4.0%} {human_size(transfer.done)}/{human_size(transfer.total)}")
    return line


class TransferBar(Widget):
    """Running uploads and downloads of the session, one line each; hidden when there are none."""

    DEFAULT_CSS = """
    TransferBar { height: auto; max-height: 3; padding: 0 1; background: $boost; display: none; }
    TransferBar.-busy { display: block; }
    """

    def __init__(self, session: ChatSession, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session
        self._unsubscribe: Callable[[], None] | None = None

    def on_mount(self) -> None:
        self._unsubscribe = self.session.subscribe(self._on_event)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _on_event(self, event: SessionEvent) -> None:
        if isinstance(event, TransferChanged):
            if event.transfer.state != "running" or not event.transfer.done:  # began or ended:
                self.screen.refresh_bindings()  # the key that cancels shows only while one runs
            self.set_class(bool(self.running), "-busy")
            self.refresh(layout=True)

    @property
    def running(self) -> list[Transfer]:
        """Transfers still under way, oldest first."""
        return self.session.files.running()

    def render(self) -> Text:
        names = {c.jid: c.display_name for c in self.session.contacts.values()}
        names.update({r.jid: r.display_name for r in self.session.rooms.by_jid.values()})
        return Text("\n").join(transfer_line(t, names) for t in self.running[-3:])
