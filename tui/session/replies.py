"""Replies (XEP-0461): which message an answer refers to, and the quote for clients without it.

The quote travels as a XEP-0428 fallback at the start of the body (``> Bob:`` and ``> text`` lines),
which slixmpp's ``xep_0461`` plugin writes and strips; clients that know replies hide it.
"""

from __future__ import annotations

from slixmpp import Message

from .model import ChatMessage

NS = "urn:xmpp:reply:0"
QUOTE_CHARS = 300
"""At most this much of the answered message goes into the fallback quote."""


def is_reply(stanza: Message) -> bool:
    """Whether ``stanza`` answers another message (without adding an element to it)."""
    return stanza.xml.find(f"{{{NS}}}reply") is not None


def read(stanza: Message) -> tuple[str, str, str]:
    """An incoming reply as (answered id, body without the quote, quoted text without ``>``)."""
    reply = stanza["reply"]
    quoted = reply.get_fallback_body()
    lines = [line[1:].lstrip() if line.startswith(">") else line for line in quoted.splitlines()]
    if len(lines) > 1 and lines[0].endswith(":"):  # "> Bob:" names the author
        lines = lines[1:]
    return reply["id"], reply.strip_fallback_content(), "\n".join(lines).strip()


def attach(stanza: Message, quoted: ChatMessage, author: str, ref: str, author_name: str) -> None:
    """Make ``stanza`` (with its body set) answer ``quoted``: ``author`` is the address of its
    sender (``room/nick`` in a room), ``ref`` the id the answered message is known by."""
    reply = stanza["reply"]
    reply["to"] = author
    reply["id"] = ref
    text = quoted.body if len(quoted.body) <= QUOTE_CHARS else quoted.body[:QUOTE_CHARS] + "…"
    if text:
        reply.add_quoted_fallback(text, author_name)
