"""My room bookmarks (XEP-0402 PEP native bookmarks): read, publish, retract, and the notifications
my other devices' changes bring. A bookmark carries the room's pin (XEP-0469) and notification
setting (XEP-0492) in its extensions. Plain protocol helpers on a slixmpp stream; errors are raised as
slixmpp's ``IqError`` / ``IqTimeout`` for the caller to explain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slixmpp import Message
from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0060.stanza import EventItem
from slixmpp.plugins.xep_0402.stanza import Conference
from slixmpp.plugins.xep_0469.stanza import NS as PINNING
from slixmpp.plugins.xep_0492.stanza import NS as NOTIFY
from slixmpp.plugins.xep_0492.stanza import Notify
from slixmpp.xmlstream import register_stanza_plugin

BOOKMARKS = "urn:xmpp:bookmarks:1"

PUBLISH_OPTIONS = {"pubsub#persist_items": "true", "pubsub#max_items": "max",
                   "pubsub#send_last_published_item": "never", "pubsub#access_model": "whitelist"}
"""XEP-0402 §3: bookmarks are kept, many, and private."""

TIMEOUT = 15


@dataclass(frozen=True)
class Bookmark:
    """One bookmarked room."""

    room: str
    name: str = ""
    nick: str = ""
    autojoin: bool = True
    pinned: bool = False
    """Listed first, on every device (XEP-0469)."""
    notify: str = ""
    """When to notify (XEP-0492): ``always``, ``on-mention`` or ``never``; empty: the client decides."""


def listen(stream: Any) -> None:
    """Ask for notifications of my bookmark changes (``+notify``) and parse them; before connecting."""
    register_stanza_plugin(EventItem, Conference)
    stream.register_plugin("xep_0469")
    stream.register_plugin("xep_0492")
    stream.plugin["xep_0163"].add_interest(BOOKMARKS)


def read_marks(element: Any) -> tuple[bool, str]:
    """The pin (XEP-0469) and the notification setting (XEP-0492) in the ``<extensions/>`` of a
    bookmark (or of anything carrying them the same way), read without adding elements."""
    extensions = element.xml.find(f"{{{BOOKMARKS}}}extensions")
    if extensions is None:
        return False, ""
    notify = extensions.find(f"{{{NOTIFY}}}notify")
    return (extensions.find(f"{{{PINNING}}}pinned") is not None,
            (Notify(xml=notify).get_config() or "") if notify is not None else "")


def write_marks(element: Any, pinned: bool, notify: str) -> None:
    """Put the pin and the notification setting into ``element``'s ``<extensions/>``."""
    if pinned:
        element["extensions"].enable("pinned")
    if notify:
        element["extensions"]["notify"].configure(notify)


def publish_options(stream: Any) -> Any:
    """Publish options for private, persistent, many-item PEP nodes (XEP-0223)."""
    options = stream.plugin["xep_0004"].make_form(ftype="submit")
    options.add_field(var="FORM_TYPE", ftype="hidden",
                      value="http://jabber.org/protocol/pubsub#publish-options")
    for var, value in PUBLISH_OPTIONS.items():
        options.add_field(var=var, value=value)
    return options


def _bookmark(room: str, conference: Any) -> Bookmark:
    return Bookmark(room, conference["name"] or "", conference["nick"] or "", conference["autojoin"],
                    *read_marks(conference))


async def fetch(stream: Any, owner: str) -> list[Bookmark]:
    """All of ``owner``'s bookmarks (none when the node does not exist yet)."""
    try:
        result = await stream.plugin["xep_0060"].get_items(owner, BOOKMARKS, timeout=TIMEOUT)
    except IqError as exc:
        if exc.iq["error"]["condition"] == "item-not-found":
            return []
        raise
    return [_bookmark(item["id"], item["conference"]) for item in result["pubsub"]["items"]]


async def publish(stream: Any, owner: str, bookmark: Bookmark) -> None:
    """Store (or replace) the bookmark of ``bookmark.room``."""
    conference = Conference()
    conference["name"] = bookmark.name
    conference["autojoin"] = bookmark.autojoin
    conference["nick"] = bookmark.nick
    write_marks(conference, bookmark.pinned, bookmark.notify)
    await stream.plugin["xep_0060"].publish(owner, BOOKMARKS, id=bookmark.room, payload=conference,
                                            options=publish_options(stream), timeout=TIMEOUT)


async def retract(stream: Any, owner: str, room: str) -> None:
    """Drop the bookmark of ``room``, telling my other devices."""
    await stream.plugin["xep_0060"].retract(owner, BOOKMARKS, room, notify=True, timeout=TIMEOUT)


def notified(message: Message, owner: str) -> tuple[list[Bookmark], list[str]]:
    """The bookmarks published and the rooms retracted in a PEP notification about ``owner``'s
    bookmarks (empty for any other notification)."""
    items = message["pubsub_event"]["items"]
    if message["from"].bare != owner or items["node"] != BOOKMARKS:
        return [], []
    # not ``for item in items``: slixmpp is iterating this very element while it raises the event,
    # and a nested iteration resets its position (an endless loop)
    elements = list(items.iterables)
    return ([_bookmark(e["id"], e["conference"]) for e in elements if e.name == "item"],
            [e["id"] for e in elements if e.name == "retract"])
