"""A room's message archive (XEP-0313 on the room's JID), read a page at a time from the newest end."""

from __future__ import annotations

from typing import Any

from slixmpp import Message
from slixmpp.xmlstream.handler import Collector
from slixmpp.xmlstream.matcher import MatchXMLMask

TIMEOUT = 15


async def page_before(stream: Any, room: str, before: str | bool, size: int) -> tuple[list[Message], bool]:
    """Up to ``size`` archived messages of ``room`` older than the archive id ``before`` (True: the
    newest), oldest first, and whether the archive has nothing older.

    Built here because slixmpp's ``retrieve`` sends ``before=True`` as the text "True" and its
    ``iterate`` leaves its result collector registered when the archive is empty; the results are
    collected by query id, as slixmpp does."""
    iq = stream.make_iq_set(ito=room)
    query_id = iq["id"]
    iq["mam"]["queryid"] = query_id
    iq["mam"]["rsm"]["max"] = str(size)
    iq["mam"]["rsm"]["before"] = before
    mask = stream.Message()
    origin = mask.xml.find("{urn:xmpp:sid:0}origin-id")
    if origin is not None:
        mask.xml.remove(origin)
    del mask["id"]
    del mask["lang"]
    mask["from"] = room
    mask["mam_result"]["queryid"] = query_id
    collector = Collector(f"room-archive-{query_id}", MatchXMLMask(str(mask)))
    stream.register_handler(collector)
    try:
        fin = await iq.send(timeout=TIMEOUT)
    finally:
        results = collector.stop()
    return [r for r in results if isinstance(r, Message)], bool(fin["mam_fin"]["complete"])
