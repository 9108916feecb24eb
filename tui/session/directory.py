"""The server's user directory (XEP-0055 Jabber Search, ejabberd's ``vjud``): find people by name,
user name, nickname or e-mail to add them as contacts.

ejabberd's directory lists users who published a vCard; its fields are combined with AND and a
value ending in ``*`` matches as a prefix, so a search asks once per field, each with the typed
text as a prefix, and merges the answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slixmpp import JID
from slixmpp.exceptions import IqError, IqTimeout

if TYPE_CHECKING:
    from .client import ChatSession

TIMEOUT = 15
FIELDS = ("user", "fn", "last", "nick", "email")
"""Directory fields the typed text is looked up in."""


class DirectoryError(Exception):
    """The directory cannot be searched; the text says why and what to do next."""


@dataclass(frozen=True)
class DirectoryEntry:
    """A person the directory knows."""

    jid: str
    name: str = ""
    nick: str = ""
    email: str = ""
    organisation: str = ""

    @property
    def display_name(self) -> str:
        """Full name, nickname, or the local part of the address."""
        return self.name or self.nick or self.jid.split("@")[0]


async def find_service(stream: Any, domain: str) -> str:
    """The directory of ``domain``: a disco item with a directory/user identity."""
    disco = stream.plugin["xep_0030"]
    try:
        items = await disco.get_items(jid=domain, timeout=TIMEOUT)
        for item_jid, _node, _name in items["disco_items"]["items"]:
            info = await disco.get_info(jid=item_jid, timeout=TIMEOUT)
            identities = info["disco_info"]["identities"]
            if any(cat == "directory" and kind == "user" for cat, kind, *_ in identities):
                return str(item_jid)
    except (IqError, IqTimeout) as exc:
        raise DirectoryError(f"Cannot reach the directory of {domain} ({type(exc).__name__}); check "
                             "the connection and press Enter again.") from None
    raise DirectoryError(f"{domain} has no user directory (XEP-0055); ask the administrator to turn "
                         "on search in mod_vcard. Contacts can still be added by address.")


async def search(stream: Any, service: str, text: str) -> list[DirectoryEntry]:
    """People in the directory ``service`` whose user name, name, surname, nickname or e-mail
    starts with ``text`` (case does not matter), by name."""
    text = text.strip().lower()
    if not text:
        return []
    if "xep_0055" not in stream.plugin:
        stream.register_plugin("xep_0055", pconfig={"provide_search": False})
    answers = await asyncio.gather(*(_ask(stream, service, field, text) for field in FIELDS),
                                   return_exceptions=True)
    found: dict[str, DirectoryEntry] = {}
    failures = [a for a in answers if isinstance(a, BaseException)]
    for answer in answers:
        if not isinstance(answer, BaseException):
            for entry in answer:
                found.setdefault(entry.jid, entry)
    if failures and len(failures) == len(answers):
        failure = failures[0]
        condition = failure.iq["error"]["condition"] if isinstance(failure, IqError) else "no answer"
        raise DirectoryError(f"The directory did not answer the search ({condition}); try again.")
    return sorted(found.values(), key=lambda e: (e.display_name.casefold(), e.jid))


async def _ask(stream: Any, service: str, field: str, text: str) -> list[DirectoryEntry]:
    iq = stream.plugin["xep_0055"].make_search_iq(ito=service)
    iq["search"]["form"].add_field(var=field, value=f"{text}*")
    result = await iq.send(timeout=TIMEOUT)
    entries = []
    for item in result["search"]["form"].get_items():
        jid = str(item.get("jid") or "")
        if jid:
            entries.append(DirectoryEntry(JID(jid).bare, str(item.get("fn") or ""),
                                          str(item.get("nick") or ""), str(item.get("email") or ""),
                                          str(item.get("orgname") or "")))
    return entries


_services: dict[str, str] = {}


async def find_people(session: ChatSession, text: str) -> list[DirectoryEntry]:
    """People in my server's directory matching ``text`` (see :func:`search`)."""
    if session.state != "online":
        raise DirectoryError("Not connected: the directory is on the server. Try again once the top "
                             "line says online.")
    domain = session.jid.domain
    if domain not in _services:
        _services[domain] = await find_service(session.stream, domain)
    return await search(session.stream, _services[domain], text)
