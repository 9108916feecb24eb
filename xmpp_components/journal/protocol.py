"""``urn:switchboard:journal:0``: the journal's IQ protocol (documented in docs/protocol.md).

Requests are parsed into :class:`JournalQuery` with clear ``bad-request`` texts; entries are
rendered as ``<entry/>`` elements. Pure functions over ElementTree, no network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from slixmpp.exceptions import XMPPError
from slixmpp.xmlstream import ET

from schema import JournalEntry, JournalNote

from .store import KINDS

NS = "urn:switchboard:journal:0"
RSM = "http://jabber.org/protocol/rsm"
PERIODS = ("today", "yesterday", "week", "month", "all")
MAX_PAGE = 500


def bad(text: str) -> XMPPError:
    """A ``bad-request`` error whose text says what to fix."""
    return XMPPError("bad-request", text=text, etype="modify")


def period_bounds(period: str, now: dt.datetime | None = None
                  ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Start and end (UTC) of a named period; ``week`` starts on Monday."""
    now = now or dt.datetime.now(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "today":
        return midnight, None
    if period == "yesterday":
        return midnight - dt.timedelta(days=1), midnight
    if period == "week":
        return midnight - dt.timedelta(days=midnight.weekday()), None
    if period == "month":
        return midnight.replace(day=1), None
    if period == "all":
        return None, None
    raise bad(f"period must be one of {', '.join(PERIODS)}, not {period!r}")


def parse_time(value: str, what: str) -> dt.datetime:
    """An XEP-0082 date-time (or date) in UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"{what} must be an ISO 8601 time like 2026-11-26T08:00:00Z, not {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@dataclass
class JournalQuery:
    """What a client asked to see."""

    owner: str | None = None
    group: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    kinds: list[str] = field(default_factory=list)
    direction: str | None = None
    result: str | None = None
    peer: str | None = None
    text: str | None = None
    newest_first: bool = True
    limit: int = 50
    before: int | None = None
    after: int | None = None

    @property
    def filters(self) -> dict[str, object]:
        """Keyword arguments for :meth:`JournalStore.query`."""
        return {"start": self.start, "end": self.end, "kinds": self.kinds, "direction": self.direction,
                "result": self.result, "peer": self.peer, "search": self.text}


def parse_query(element: ET.Element) -> JournalQuery:
    """Read a ``<query/>`` (or ``<export/>``) element's filters and XEP-0059 paging."""
    query = JournalQuery(owner=element.get("owner") or None, group=element.get("group") or None)
    if query.owner and query.group:
        raise bad("give either owner or group, not both")
    if element.get("period"):
        query.start, query.end = period_bounds(element.get("period", ""))
    if element.get("start"):
        query.start = parse_time(element.get("start", ""), "start")
    if element.get("end"):
        query.end = parse_time(element.get("end", ""), "end")
    if query.start and query.end and query.start >= query.end:
        raise bad("start must be before end")
    kinds = (element.get("kind") or "").split()
    for kind in kinds:
        if kind not in KINDS:
            raise bad(f"kind must be among {', '.join(KINDS)}, not {kind!r}")
    query.kinds = kinds
    direction = element.get("direction")
    if direction and direction not in ("in", "out"):
        raise bad(f"direction must be in or out, not {direction!r}")
    query.direction = direction or None
    query.result = element.get("result") or None
    query.peer = element.get("peer") or None
    query.text = element.get("text") or None
    order = element.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise bad(f"order must be newest or oldest, not {order!r}")
    query.newest_first = order == "newest"
    rsm = element.find(f"{{{RSM}}}set")
    if rsm is not None:
        for name in ("max", "before", "after"):
            child = rsm.find(f"{{{RSM}}}{name}")
            if child is None or not (child.text or "").strip():
                continue
            try:
                value = int(child.text or "")
            except ValueError:
                raise bad(f"RSM <{name}/> must be a number, not {child.text!r}") from None
            if name == "max":
                if not 1 <= value <= MAX_PAGE:
                    raise bad(f"RSM <max/> must be between 1 and {MAX_PAGE}")
                query.limit = value
            elif name == "before":
                query.before = value
            else:
                query.after = value
    return query


def _time(value: dt.datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_element(entry: JournalEntry, notes: Sequence[JournalNote] = ()) -> ET.Element:
    """``<entry/>`` for one journal entry with its notes."""
    element = ET.Element(f"{{{NS}}}entry", {
        "id": str(entry.id), "owner": entry.owner, "kind": entry.kind, "direction": entry.direction,
        "peer": entry.peer, "result": entry.result, "start": _time(entry.started_at),
        "end": _time(entry.ended_at), "duration": str(entry.duration_s),
        "in": str(entry.messages_in), "out": str(entry.messages_out)})
    if entry.line:
        element.set("line", entry.line)
    if entry.preview:
        ET.SubElement(element, f"{{{NS}}}preview").text = entry.preview
    for note in notes:
        ET.SubElement(element, f"{{{NS}}}note", {
            "id": str(note.id), "author": note.author, "created": _time(note.created_at),
            "updated": _time(note.updated_at)}).text = note.text
    return element


def rsm_element(entries: Sequence[JournalEntry], total: int) -> ET.Element:
    """XEP-0059 ``<set/>`` describing a page."""
    element = ET.Element(f"{{{RSM}}}set")
    if entries:
        ET.SubElement(element, f"{{{RSM}}}first").text = str(entries[0].id)
        ET.SubElement(element, f"{{{RSM}}}last").text = str(entries[-1].id)
    ET.SubElement(element, f"{{{RSM}}}count").text = str(total)
    return element
