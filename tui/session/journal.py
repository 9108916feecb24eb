"""The journal as the client sees it: queries, notes, export and live pushes over
``urn:switchboard:journal:0`` (see docs/protocol.md). Plain data out, no widgets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from slixmpp import JID, ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS = "urn:switchboard:journal:0"
RSM = "http://jabber.org/protocol/rsm"


@dataclass(frozen=True)
class JournalNoteView:
    """A note on an entry."""

    id: int
    author: str
    text: str
    created: dt.datetime


@dataclass(frozen=True)
class JournalRow:
    """One journal entry."""

    id: int
    owner: str
    kind: str
    direction: str
    peer: str
    result: str
    start: dt.datetime
    end: dt.datetime
    duration: int
    messages_in: int
    messages_out: int
    preview: str = ""
    line: str = ""
    notes: tuple[JournalNoteView, ...] = field(default_factory=tuple)


class JournalError(Exception):
    """The journal refused or could not answer; the text says why."""


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_entry(element: ET.Element) -> JournalRow:
    """An ``<entry/>`` as a :class:`JournalRow`."""
    notes = tuple(JournalNoteView(int(n.get("id", "0")), n.get("author", ""), n.text or "",
                                  _time(n.get("created", "1970-01-01T00:00:00Z")))
                  for n in element.findall(f"{{{NS}}}note"))
    return JournalRow(
        int(element.get("id", "0")), element.get("owner", ""), element.get("kind", ""),
        element.get("direction", ""), element.get("peer", ""), element.get("result", ""),
        _time(element.get("start", "")), _time(element.get("end", "")),
        int(element.get("duration", "0")), int(element.get("in", "0")), int(element.get("out", "0")),
        element.findtext(f"{{{NS}}}preview") or "", element.get("line", ""), notes)


class JournalService:
    """Talks to ``journal.<domain>`` for one logged-in account."""

    def __init__(self, stream: ClientXMPP, on_push: Callable[[list[JournalRow]], None]) -> None:
        self.stream = stream
        self.address = JID(f"journal.{stream.boundjid.domain}")
        self.on_push = on_push
        stream.register_handler(Callback(
            "journal push", MatchXPath(f"{{jabber:client}}message/{{{NS}}}entries"), self._on_push))

    def _on_push(self, message: Any) -> None:
        if message["from"].bare != self.address.bare:
            return
        wrapper = message.xml.find(f"{{{NS}}}entries")
        self.on_push([parse_entry(e) for e in wrapper.findall(f"{{{NS}}}entry")])

    async def _send(self, itype: Literal["get", "set"], element: ET.Element) -> ET.Element:
        """Send an IQ with ``element``; return the payload of the answer with the same name."""
        iq = self.stream.make_iq(ito=self.address, itype=itype)
        iq.append(element)
        try:
            result = await iq.send(timeout=15)
        except IqError as exc:
            raise JournalError(exc.iq["error"]["text"] or exc.iq["error"]["condition"]) from None
        except IqTimeout:
            raise JournalError("the journal did not answer; is journal.* running?") from None
        payload = result.xml.find(element.tag)
        if payload is None:
            raise JournalError(f"the journal's answer has no <{element.tag.split('}')[1]}/>")
        return payload

    async def query(self, period: str = "week", kinds: tuple[str, ...] = (), missed: bool = False,
                    text: str = "", limit: int = 200, whose: str = "") -> tuple[list[JournalRow], int]:
        """A view of a journal — mine, or ``whose`` (``user@domain`` or ``group:Name``, with a
        grant) — and the total number of entries in it."""
        attrs = {"period": period}
        if whose.startswith("group:"):
            attrs["group"] = whose[6:]
        elif whose:
            attrs["owner"] = whose
        if kinds:
            attrs["kind"] = " ".join(kinds)
        if missed:  # calls I missed: theirs that nobody here answered, not mine unanswered
            attrs["result"] = "missed"
            attrs["direction"] = "in"
        if text:
            attrs["text"] = text
        element = ET.Element(f"{{{NS}}}query", attrs)
        rsm = ET.SubElement(element, f"{{{RSM}}}set")
        ET.SubElement(rsm, f"{{{RSM}}}max").text = str(limit)
        answer = await self._send("get", element)
        rows = [parse_entry(e) for e in answer.findall(f"{{{NS}}}entry")]
        total = int(answer.findtext(f"{{{RSM}}}set/{{{RSM}}}count") or len(rows))
        return rows, total

    async def add_note(self, entry_id: int, text: str) -> int:
        """Add a note to an entry; returns the note's id."""
        element = ET.Element(f"{{{NS}}}note", {"entry": str(entry_id)})
        element.text = text
        return int((await self._send("set", element)).get("id", "0"))

    async def export(self, fmt: str, period: str = "week") -> str:
        """Export a view (``csv`` or ``html``); returns the download link."""
        answer = await self._send("get", ET.Element(f"{{{NS}}}export", {"format": fmt, "period": period}))
        return answer.get("url", "")

    async def subscribe(self) -> None:
        """Receive new and changed entries as they happen."""
        iq = self.stream.make_iq(ito=self.address, itype="set")
        iq.append(ET.Element(f"{{{NS}}}subscribe"))
        try:
            await iq.send(timeout=15)
        except (IqError, IqTimeout) as exc:
            raise JournalError("the journal refused the subscription") from exc
