"""Avatars as text: a picture in half blocks where there is one, else the initials of the name."""

from __future__ import annotations

from rich.text import Text

from tui.session.attachment import Preview
from tui.widgets.chat.file_entry import TerminalPictures, preview_lines


def initials(name: str) -> str:
    """Up to two capital letters for an avatar (``Bob Builder`` → ``BB``)."""
    parts = name.replace(".", " ").replace("_", " ").replace("-", " ").split()
    return "".join(p[0] for p in parts[:2]).upper() or "?"


def avatar_lines(name: str, preview: Preview | None, height: int = 3) -> list[Text]:
    """The picture ``preview`` (where the terminal shows pictures), else a block of ``height``
    lines with the initials of ``name`` in its middle."""
    if preview is not None and not TerminalPictures.note:
        return preview_lines(preview)
    letters = f" {initials(name):^4} "
    blank = " " * len(letters)
    middle = height // 2
    return [Text(letters if line == middle else blank, style="reverse bold")
            for line in range(height)]
