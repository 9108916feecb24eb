"""One page of a message archive (XEP-0313): mine, filtered to one conversation, or a room's.

Built here because slixmpp's ``retrieve`` sends ``before=True`` as the text "True" and its
``iterate`` leaves its result collector registered when the archive is empty; the results are
collected by query id, as slixmpp does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from slixmpp import JID, Message
from slixmpp.xmlstream.handler import Collector
from slixmpp.xmlstream.matcher import MatchXMLMask

TIMEOUT = 15


@dataclass(frozen=True)
class ArchivePage:
    """Archived messages oldest first, and what the archive said about the rest."""

    results: list[Message]
    """The ``<result/>`` messages (each wraps the archived stanza in ``mam_result/forwarded``)."""
    complete: bool
    """Nothing further in the direction asked (older for ``before``, newer for ``after``)."""
    first: str = ""
    """Archive id of the oldest result (empty without results)."""
    last: str = ""
    """Archive id of the newest result (empty without results)."""


async def page(stream: Any, archive: str | None, *, with_jid: str | None = None,
               before: str | bool | None = None, after: str | None = None,
               size: int = 100, start: dt.datetime | None = None) -> ArchivePage:
    """Up to ``size`` messages of ``archive`` (None: my own), optionally only those exchanged with
    ``with_jid`` or archived since ``start``: older than the archive id ``before`` (True: the
    newest), newer than ``after``, or the oldest when neither is given. Raises slixmpp's
    ``IqError`` / ``IqTimeout``."""
    iq = stream.make_iq_set(ito=archive)
    query_id = iq["id"]
    iq["mam"]["queryid"] = query_id
    if with_jid is not None:
        iq["mam"]["with"] = JID(with_jid)
    if start is not None:
        iq["mam"]["start"] = start
    iq["mam"]["rsm"]["max"] = str(size)
    if before is not None:
        iq["mam"]["rsm"]["before"] = before
    if after is not None:
        iq["mam"]["rsm"]["after"] = after
    mask = stream.Message()
    origin = mask.xml.find("{urn:xmpp:sid:0}origin-id")
    if origin is not None:
        mask.xml.remove(origin)
    del mask["id"]
    del mask["lang"]
    if archive is not None:
        mask["from"] = archive
    mask["mam_result"]["queryid"] = query_id
    collector = Collector(f"archive-{query_id}", MatchXMLMask(str(mask)))
    stream.register_handler(collector)
    try:
        fin = await iq.send(timeout=TIMEOUT)
    finally:
        results = collector.stop()
    messages = [r for r in results if isinstance(r, Message)]
    complete = fin["mam_fin"]["complete"]  # slixmpp gives the attribute's text: "false" is not False
    return ArchivePage(messages, complete is True or str(complete).lower() in ("true", "1"),
                       messages[0]["mam_result"]["id"] if messages else "",
                       messages[-1]["mam_result"]["id"] if messages else "")
