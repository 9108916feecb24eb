"""@mentions in rooms (CH4): nicknames completed while typing, XEP-0372 references on what is sent,
and whether a message names me.

A mention is ``@nick`` anywhere, or a nickname as a word of its own. Each one sent carries a
``<reference type='mention'/>`` with the occupant's address ``xmpp:room@service/nick`` and the
character offsets ``begin``..``end`` (end exclusive) of the name in the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from slixmpp import Message
from slixmpp.plugins.xep_0372.stanza import Reference

NS = "urn:xmpp:reference:0"
_TOKEN = re.compile(r"(?:^|(?<=\s))(@?)([^\s@]*)$")


def _pattern(nick: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w@])@?{re.escape(nick)}(?!\w)", re.IGNORECASE)


def completions(before_cursor: str, nicks: Iterable[str]) -> tuple[int, list[str]] | None:
    """Where the word being typed starts and what it may become: ``@Bo`` → ``@Bob ``, ``Bo`` as
    the first word → ``Bob: ``, elsewhere ``Bob ``. None when the word matches no nickname."""
    match = _TOKEN.search(before_cursor)
    if match is None:
        return None
    at, prefix = match.group(1), match.group(2)
    if not at and not prefix:
        return None
    start = match.start(1)
    names = sorted((n for n in nicks if n.lower().startswith(prefix.lower())), key=str.lower)
    if not names:
        return None
    first_word = not before_cursor[:start].strip()
    suffix = ": " if first_word and not at else " "
    return start, [f"{at}{name}{suffix}" for name in names]


def find(body: str, nicks: Iterable[str]) -> list[tuple[int, int, str]]:
    """The mentions of ``nicks`` in ``body`` as (begin, end, nick), in order, never overlapping."""
    found: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for nick in sorted({n for n in nicks if n}, key=len, reverse=True):  # "Bob B" before "Bob"
        for match in _pattern(nick).finditer(body):
            span = set(range(*match.span()))
            if not span & taken:
                taken |= span
                found.append((match.start(), match.end(), nick))
    return sorted(found)


def add_references(stanza: Message, room: str, nicks: Iterable[str]) -> list[str]:
    """Add a XEP-0372 mention to ``stanza`` (body set, quote included) for every occupant it
    names; returns the nicknames mentioned."""
    mentioned = []
    for begin, end, nick in find(stanza["body"], nicks):
        reference = Reference()
        reference["type"] = "mention"
        reference["uri"] = f"xmpp:{room}/{nick}"
        reference["begin"] = str(begin)
        reference["end"] = str(end)
        stanza.xml.append(reference.xml)  # slixmpp registers one reference per message; we need several
        mentioned.append(nick)
    return mentioned


def names_me(stanza: Message, body: str, room: str, nick: str, my_jid: str) -> bool:
    """Whether ``stanza`` (said in ``room``, where I am ``nick``) mentions me: a reference to my
    occupant or bare address, or my nickname as a word of the text."""
    mine = {f"xmpp:{room}/{nick}", f"xmpp:{my_jid}"}
    for element in stanza.xml.findall(f"{{{NS}}}reference"):
        if element.get("type") == "mention" and element.get("uri") in mine:
            return True
    return bool(nick) and _pattern(nick).search(body) is not None
