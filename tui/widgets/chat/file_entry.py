"""How a shared file reads in the message view (CH7): name, size and type, where it is (on the
server, downloading with progress, saved here, failed), a play link for videos, and a small picture
of images in half blocks — each cell shows two pixels — or a note saying why there is none.

:func:`body_text` is what the message view draws in place of a message's body; :func:`body_plain`
is the same without styles, for measuring.
"""

from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text

from tui.session.attachment import Attachment, FileState, Preview, attachment_for, human_size
from tui.session.model import ChatMessage, Direction

UPPER_HALF = "▀"
FILES_KEY = "Ctrl+L"
"""The key of the files list, named in every file entry."""


class TerminalPictures:
    """Whether this terminal can show colour pictures; set once the app knows its terminal."""

    note = ""
    """Empty where half-block pictures work, else why not (then file entries say so)."""

    @classmethod
    def check(cls, no_color: bool, color_system: str | None) -> None:
        """Take the app's colour support (``NO_COLOR`` and the console's colour system)."""
        if no_color:
            cls.note = "no picture: colours are off here (NO_COLOR)"
        elif color_system in ("standard", "windows"):  # None: Textual writes true colour
            cls.note = "no picture: this terminal has too few colours"
        else:
            cls.note = ""


def preview_lines(preview: Preview) -> list[Text]:
    """``preview`` as lines of upper half blocks: the top pixel in the foreground colour, the
    bottom one in the background colour."""
    lines = []
    for y in range(0, preview.height - 1, 2):
        top, bottom = preview.pixels[y], preview.pixels[y + 1]
        line = Text(no_wrap=True, overflow="crop")
        for upper, lower in zip(top, bottom, strict=False):
            line.append(UPPER_HALF, Style(color=Color.from_rgb(*upper), bgcolor=Color.from_rgb(*lower)))
        lines.append(line)
    return lines


def status_line(attachment: Attachment, outgoing: bool, hint: str = f"{FILES_KEY}: files, then d downloads"
                ) -> Text:
    """Where the file is and, while it is only on the server, ``hint``: how to get it."""
    if attachment.state is FileState.DOWNLOADING:
        progress = attachment.progress
        done = f"{progress:.0%} of {human_size(attachment.size)}" if progress is not None else \
            human_size(attachment.done)
        return Text(f"↓ downloading {done}", style="bold yellow")
    if attachment.state is FileState.FAILED:
        return Text(f"✗ {attachment.error}", style="bold red")
    if attachment.state is FileState.SAVED and attachment.local_path is not None:
        where = "sent from" if outgoing else "✓ saved to"
        return Text(f"{where} {attachment.local_path}", style="green" if not outgoing else "dim")
    return Text("on the server" + (f" · {hint}" if hint else ""), style="dim")


def entry_lines(attachment: Attachment, outgoing: bool = False) -> list[Text]:
    """The lines of a file entry: title, description, status, play link, picture."""
    kind = attachment.content_type or ""
    title = Text.assemble(("📎 ", ""), (attachment.name, "bold"), ("  " + human_size(attachment.size),
                                                                 "cyan"))
    if kind:
        title.append(f"  {kind}", style="dim")
    lines = [title]
    if attachment.description:
        lines.append(Text(attachment.description, style="italic"))
    lines.append(status_line(attachment, outgoing))
    if attachment.is_video:
        lines.append(Text.assemble(("▶ play: ", "bold"), (attachment.url, "underline")))
    if attachment.is_image:
        if attachment.preview is not None and not TerminalPictures.note:
            lines.extend(preview_lines(attachment.preview))
        elif TerminalPictures.note:
            lines.append(Text(TerminalPictures.note, style="dim italic"))
        elif attachment.preview_note:
            lines.append(Text(attachment.preview_note, style="dim italic"))
    return lines


def body_text(message: ChatMessage) -> Text:
    """What the message view shows as the body: the text, or the file entry of a shared file."""
    attachment = attachment_for(message)
    if attachment is None:
        return Text(message.body)
    return Text("\n").join(entry_lines(attachment, message.direction is Direction.OUTGOING))


def body_plain(message: ChatMessage) -> str:
    """:func:`body_text` without styles (cheap for messages that share no file)."""
    if attachment_for(message) is None:
        return message.body
    return body_text(message).plain
