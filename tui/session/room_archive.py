"""A room's message archive (XEP-0313 on the room's JID), read a page at a time from the newest end."""

from __future__ import annotations

from typing import Any

from slixmpp import Message

from . import mam


async def page_before(stream: Any, room: str, before: str | bool, size: int) -> tuple[list[Message], bool]:
    """Up to ``size`` archived messages of ``room`` older than the archive id ``before`` (True: the
    newest), oldest first, and whether the archive has nothing older (see :func:`mam.page`)."""
    result = await mam.page(stream, room, before=before, size=size)
    return result.results, result.complete
