"""How a room reads in the conversations list."""

from __future__ import annotations

from rich.text import Text

from tui.session.model import Invitation, Room


def room_prompt(room: Room, unread: int, width: int) -> Text:
    """Two lines: ``# Sales Team (2)`` and, indented, who is there and the subject."""
    text = Text.assemble(("#", "bold cyan" if room.joined else "grey50"), " ",
                         (room.display_name, "bold"))
    if unread:
        text.append(f" ({unread})", style="bold reverse")
    if room.joined:
        present = len(room.occupants)
        detail = Text(f"{present} present" + (f" — {room.subject}" if room.subject else ""), style="dim")
    else:
        detail = Text("not joined — Enter joins", style="dim italic")
    detail.truncate(max(8, width - 5), overflow="ellipsis")
    text.append("\n\u00a0\u00a0")  # no-break spaces survive the list's wrapping
    text.append_text(detail)
    return text


def invitation_prompt(invitation: Invitation, inviter: str, width: int) -> Text:
    """An unanswered invitation: ``✉ planning-1a2b3c`` and who invites, indented."""
    text = Text.assemble(("✉", "bold yellow"), " ", (invitation.room.split("@")[0], "bold"))
    detail = Text(f"{inviter} invites you — Enter answers", style="dim italic")
    detail.truncate(max(8, width - 5), overflow="ellipsis")
    text.append("\n\u00a0\u00a0")
    text.append_text(detail)
    return text
