"""Files shared in a conversation (CH7), as plain data the widgets can render.

A shared file is a message whose body is the file's URL and which carries the same URL as XEP-0066
out-of-band data — what Conversations, Dino and Gajim send after an XEP-0363 upload. A message whose
body is nothing but a URL ending in a file name is taken as a file too (clients that send the URL
without OOB, and archived messages whose OOB we never saw). Nothing here touches the network;
:mod:`tui.session.files` uploads, downloads and fills in what a HEAD request tells.
"""

from __future__ import annotations

import enum
import mimetypes
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from .model import ChatMessage

_BARE_URL = re.compile(r"https?://[^\s/]+/\S+")

Pixel = tuple[int, int, int]


class FileState(enum.StrEnum):
    """Where a shared file is, seen from this device."""

    REMOTE = "remote"
    """On the upload server only."""
    DOWNLOADING = "downloading"
    SAVED = "saved"
    """Downloaded here, or sent from here: :attr:`Attachment.local_path` is the file."""
    FAILED = "failed"
    """The last download failed; :attr:`Attachment.error` says why and what to do."""


@dataclass
class Preview:
    """A small picture of an image: rows of RGB pixels, two rows per terminal line."""

    width: int
    height: int
    pixels: list[list[Pixel]] = field(repr=False)


@dataclass
class Attachment:
    """A file shared in a conversation, as far as this device knows it."""

    url: str
    name: str
    size: int | None = None
    """Bytes; None until the sender or the server (HEAD) told us."""
    content_type: str = ""
    description: str = ""
    """The OOB description, when the sender gave one."""
    state: FileState = FileState.REMOTE
    local_path: Path | None = None
    """The file on this device: what I sent, or where a download saved it."""
    done: int = 0
    """Bytes downloaded so far while :attr:`state` is downloading."""
    error: str = ""
    preview: Preview | None = None
    preview_note: str = ""
    """Why there is no preview of an image (too big, not decodable, no colours), if there is none."""
    probed: bool = False
    """Whether the server was asked for size and type already."""

    @property
    def is_image(self) -> bool:
        """Whether the file is a picture worth previewing."""
        kind = self.content_type or mimetypes.guess_type(self.name)[0] or ""
        return kind.startswith("image/")

    @property
    def is_video(self) -> bool:
        """Whether the file is a video (shown with a play link: its URL)."""
        kind = self.content_type or mimetypes.guess_type(self.name)[0] or ""
        return kind.startswith("video/")

    @property
    def progress(self) -> float | None:
        """0 … 1 while downloading with a known size, else None."""
        if self.state is not FileState.DOWNLOADING or not self.size:
            return None
        return min(1.0, self.done / self.size)


def name_from_url(url: str) -> str:
    """The file name an upload URL ends in: ``…/a1b2/Quarterly%20report.pdf`` → ``Quarterly report.pdf``."""
    path = urlsplit(url).path
    return unquote(posixpath.basename(path.rstrip("/"))) or "file"


def file_url(body: str) -> str | None:
    """The URL when ``body`` is a bare URL that names a file (last segment with an extension)."""
    text = body.strip()
    if not text.startswith(("http://", "https://")) or not _BARE_URL.fullmatch(text):
        return None
    name = name_from_url(text)
    return text if "." in name.strip(".") else None


def attachment_for(message: ChatMessage) -> Attachment | None:
    """The message's file, recognising a bare file URL the first time it is asked (and remembering it)."""
    if message.attachment is None and message.body.startswith(("http://", "https://")):
        url = file_url(message.body)
        if url is not None:
            message.attachment = Attachment(url, name_from_url(url))
    return message.attachment


def human_size(size: int | None) -> str:
    """``1536`` → ``1.5 kB``; None → ``size unknown``."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
