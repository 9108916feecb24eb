"""journal.<domain>: one journal of every communication of each user (JO1–JO5).

It follows ejabberd's message archive from a stored cursor (woken by ``mod_service_log`` copies,
so entries appear within milliseconds, and caught up after any downtime), learns from those
copies who is in which room, answers the ``urn:switchboard:journal:0`` protocol and XEP-0050
commands, pushes new and changed entries to subscribed clients, and exports views as CSV or
HTML through HTTP upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import datetime as dt
import html
import io
import logging
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

from slixmpp import JID, Iq
from slixmpp.exceptions import IqError, IqTimeout, XMPPError
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback, CoroutineCallback
from slixmpp.xmlstream.matcher.base import MatcherBase

from schema import JournalEntry, create_engine
from xmpp_components.base import SwitchboardComponent
from xmpp_components.stack.ejabberd import EjabberdServer
from xmpp_components.stack.settings import StackSettings

from .archive import ArchiveReader
from .protocol import NS, JournalQuery, bad, entry_element, parse_query, rsm_element
from .rooms import MUC_USER, RoomPresence, room_presences
from .store import JournalStore

log = logging.getLogger(__name__)

JOURNAL_NS = NS
FORWARD = "urn:xmpp:forward:0"
SAFETY_POLL = 1.0
"""Seconds between archive checks when no service-log copy woke the component."""
CHANGE_POLL = 0.05
"""Seconds between looks at the journal's revision while clients are subscribed: entries that
other processes write (the call switch, notes from elsewhere) are pushed within this."""


class _PayloadNamespace(MatcherBase):  # type: ignore[misc]
    """Matches IQs whose payload is in one namespace (one handler for the whole protocol)."""

    def match(self, xml: Any) -> bool:
        if not isinstance(xml, ET.Element):
            xml = xml.xml
        return xml.tag.endswith("}iq") and len(xml) > 0 and xml[0].tag.startswith("{" + self._criteria)


class GroupDirectory:
    """Shared-roster groups and their members, from ejabberd's admin API on loopback (cached)."""

    def __init__(self, settings: StackSettings, ttl: float = 30.0) -> None:
        self.settings = settings
        self.server = EjabberdServer(settings)
        self.ttl = ttl
        self._members: dict[str, set[str]] = {}
        self._fetched = 0.0

    def _refresh(self) -> None:
        domain = self.settings.domain
        members: dict[str, set[str]] = {}
        for group in self.server.api("srg_list", host=domain):
            found = self.server.api("srg_get_members", group=group, host=domain)
            members[group] = {m if "@" in m else f"{m}@{domain}" for m in found}
        self._members, self._fetched = members, time.monotonic()

    async def members(self, group: str) -> set[str]:
        """Bare JIDs of the group's members (``@all@`` is everyone: not expanded)."""
        if time.monotonic() - self._fetched > self.ttl:
            await asyncio.to_thread(self._refresh)
        if group not in self._members:
            raise XMPPError("item-not-found", text=f"there is no group {group!r}", etype="cancel")
        return self._members[group]

    async def groups_of(self, jid: str) -> set[str]:
        """Names of the groups ``jid`` is in."""
        if time.monotonic() - self._fetched > self.ttl:
            await asyncio.to_thread(self._refresh)
        return {name for name, members in self._members.items() if jid in members}


class JournalComponent(SwitchboardComponent):
    """journal.<domain>: records every communication of local users and serves their journals."""

    name = "journal"
    description = "Switchboard journal"
    features = (JOURNAL_NS,)

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings)
        # failures are logged, and a statement's parameters hold previews of messages
        self.engine = create_engine(settings.effective_database_url, hide_parameters=True)
        self.archive_engine = create_engine(settings.archive_url, hide_parameters=True)
        self.store = JournalStore(self.engine, settings.domain)
        self.archive = ArchiveReader(self.archive_engine, settings.domain)
        self.groups = GroupDirectory(settings)
        self.subscribers: dict[str, set[str]] = {}  # subscriber full JID -> owners it follows
        self.cursor: int | None = None
        self.revision: int | None = None
        """The journal revision subscribers have been sent everything up to."""
        self._room_presences: list[RoomPresence] = []  # seen, not yet applied
        self._wake = asyncio.Event()
        self._catching_up = asyncio.Lock()
        self._publishing = asyncio.Lock()
        self._follow: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self.register_plugin("xep_0363")
        self.register_plugin("xep_0334")
        self.register_handler(Callback("service log copy", _ServiceLogCopy(FORWARD), self._on_copy))
        self.register_handler(Callback("room presence", _RoomOccupant(MUC_USER), self._on_room_presence))
        self.register_handler(CoroutineCallback("journal protocol", _PayloadNamespace(NS),
                                                self._on_iq))  # type: ignore[arg-type]
        self.add_event_handler("session_start", self._start_following)
        self.add_event_handler("message_error", self._on_push_error)
        from .commands import publish_commands

        publish_commands(self)

    # --- following the archive --------------------------------------------------------------------

    def _on_copy(self, message: Any) -> None:
        """A copy of a stanza a local user sent or received: maybe news about a room; and the
        archive may have grown."""
        forwarded = message.xml.find(f"{{{FORWARD}}}forwarded")
        for stanza in forwarded if forwarded is not None else ():
            self._room_presences += room_presences(stanza, self.settings.domain)
        self._wake.set()

    def _on_room_presence(self, presence: Any) -> None:
        """An occupant's presence that ejabberd sends the component itself (it shows who left
        when a session just dropped and no other local user was in the room to see it)."""
        self._room_presences += room_presences(presence.xml, self.settings.domain)
        self._wake.set()

    def _start_following(self, _event: Any) -> None:
        if self._follow is None or self._follow.done():
            self._follow = asyncio.ensure_future(self._follow_archive())
        if self._watch is None or self._watch.done():
            self._watch = asyncio.ensure_future(self._watch_revisions())

    async def _follow_archive(self) -> None:
        while True:
            try:
                await self.catch_up()
            except Exception:  # the archive or our database is away: retry on the next tick
                log.exception("journal ingest failed; retrying")
            self._wake.clear()
            # asyncio.timeout, not wait_for: 3.11's wait_for drops a cancel that arrives as the
            # wake-up does, and the loop went on ingesting after stop() — next to the component
            # that replaced it, applying rows a second time
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SAFETY_POLL):
                    await self._wake.wait()

    async def catch_up(self) -> int:
        """Apply every archive row after the cursor; returns how many entries changed."""
        async with self._catching_up:  # one reader at a time, or rows would be applied twice
            if self.cursor is None:
                self.cursor = await self.store.cursor()
            changed = 0
            while True:
                # who entered or left rooms before these rows were read comes first
                presences, self._room_presences = self._room_presences, []
                try:
                    stanzas, last = await self.archive.after(self.cursor, 1000)
                    if last == self.cursor and not presences:
                        break
                    result = await self.store.ingest(stanzas, last, presences)
                except BaseException:
                    self._room_presences[:0] = presences  # applied with the next try
                    raise
                self.cursor = last
                changed += len(result.entries)
                await self.publish_changes()
            return changed

    async def stop(self) -> None:
        tasks = [task for task in (self._follow, self._watch) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # none writes after stop() returns
        await super().stop()
        await self.engine.dispose()
        await self.archive_engine.dispose()

    # --- pushes ------------------------------------------------------------------------------------

    async def _watch_revisions(self) -> None:
        while True:
            await asyncio.sleep(CHANGE_POLL)
            if not self.subscribers:
                continue
            try:
                await self.publish_changes()
            except Exception:  # the database is away: try again on the next tick
                log.exception("journal change poll failed; retrying")

    async def publish_changes(self) -> None:
        """Push every entry written since the last push (by this component or any other
        process: the journal's revision counter says what changed) to the subscribers who may
        read it."""
        async with self._publishing:
            if self.revision is None:
                self.revision = await self.store.revision()
                return
            owners = set().union(*self.subscribers.values())
            self.revision, entries = await self.store.changed_since(self.revision, owners)
            await self._push(entries)

    async def _push(self, entries: Sequence[Any]) -> None:
        if not self.subscribers or not entries:
            return
        notes = await self.store.notes([e.id for e in entries])
        for subscriber, owners in list(self.subscribers.items()):
            mine = [e for e in entries if e.owner in owners]
            if not mine:
                continue
            message = self.make_message(mto=subscriber, mtype="headline")
            wrapper = ET.Element(f"{{{NS}}}entries")
            for entry in mine:
                wrapper.append(entry_element(entry, notes.get(entry.id, [])))
            message.append(wrapper)
            message.enable("no-store")
            message.send()

    def _on_push_error(self, message: Any) -> None:
        self.subscribers.pop(str(message["from"]), None)  # the subscriber is gone

    # --- permissions -------------------------------------------------------------------------------

    async def owners_for(self, requester: str, owner: str | None, group: str | None,
                         write: bool = False) -> list[str]:
        """Whose entries ``requester`` asked for, after checking the grants (``forbidden`` if not)."""
        groups = await self.groups.groups_of(requester) if (owner or group) else set()
        if group:
            if not await self.store.allowed(requester, groups, f"group:{group}", write):
                raise XMPPError("forbidden", etype="auth",
                                text=f"you may not {'annotate' if write else 'read'} the journal "
                                     f"of group {group!r}; ask an administrator for a grant")
            return sorted(await self.groups.members(group))
        subject = owner or requester
        if not await self.store.allowed(requester, groups, subject, write):
            raise XMPPError("forbidden", etype="auth",
                            text=f"you may not {'annotate' if write else 'read'} the journal of "
                                 f"{subject}; ask an administrator for a grant")
        return [subject]

    # --- the protocol ------------------------------------------------------------------------------

    async def _on_iq(self, iq: Iq) -> None:
        payload = iq.xml[0]
        action = payload.tag.split("}")[1]
        requester = iq["from"].bare
        if iq["type"] not in ("get", "set"):
            return
        try:
            handler = {("get", "query"): self._query, ("set", "note"): self._note,
                       ("set", "subscribe"): self._subscribe, ("set", "unsubscribe"): self._unsubscribe,
                       ("get", "export"): self._export}.get(
                (iq["type"], action))
            if handler is None:
                raise XMPPError("feature-not-implemented", etype="cancel",
                                text=f"{iq['type']} <{action}/> is not part of {NS}; see docs/protocol.md")
            answer = await handler(iq, payload, requester)
        except XMPPError as error:
            reply = iq.reply(clear=True)
            reply["error"]["condition"] = error.condition
            reply["error"]["type"] = error.etype
            reply["error"]["text"] = error.text
            reply.send()
            return
        except LookupError as error:
            reply = iq.reply(clear=True)
            reply["error"]["condition"] = "item-not-found"
            reply["error"]["type"] = "cancel"
            reply["error"]["text"] = str(error).strip("'\"")
            reply.send()
            return
        reply = iq.reply(clear=True)
        if answer is not None:
            reply.append(answer)
        reply.send()

    async def entries(self, requester: str, query: JournalQuery
                      ) -> tuple[list[JournalEntry], int, dict[int, list[Any]]]:
        """A page of entries ``requester`` may see, the total, and their notes."""
        owners = await self.owners_for(requester, query.owner, query.group)
        rows, total = await self.store.query(owners, newest_first=query.newest_first,
                                             limit=query.limit, before=query.before,
                                             after=query.after, **query.filters)  # type: ignore[arg-type]
        return rows, total, await self.store.notes([r.id for r in rows])

    async def _query(self, _iq: Iq, payload: ET.Element, requester: str) -> ET.Element:
        rows, total, notes = await self.entries(requester, parse_query(payload))
        result = ET.Element(f"{{{NS}}}query")
        for row in rows:
            result.append(entry_element(row, notes.get(row.id, [])))
        result.append(rsm_element(rows, total))
        return result

    async def _note(self, _iq: Iq, payload: ET.Element, requester: str) -> ET.Element:
        note = (payload.text or "").strip()
        if not note:
            raise bad("a note needs text")
        if payload.get("id"):
            try:
                note_id = int(payload.get("id", ""))
            except ValueError:
                raise bad("id must be a note number") from None
            try:
                entry_id = await self.store.edit_note(note_id, requester, note)
            except PermissionError as exc:
                raise XMPPError("forbidden", text=str(exc), etype="auth") from None
        else:
            try:
                entry_id = int(payload.get("entry", ""))
            except ValueError:
                raise bad("entry must be the number of a journal entry") from None
            entry = await self.store.entry(entry_id)
            if entry is None:
                raise LookupError(f"there is no journal entry {entry_id}")
            await self.owners_for(requester, entry.owner, None, write=True)
            note_id = await self.store.add_note(entry_id, requester, note)
        await self.publish_changes()
        return ET.Element(f"{{{NS}}}note", {"id": str(note_id), "entry": str(entry_id)})

    async def _subscribe(self, iq: Iq, payload: ET.Element, requester: str) -> None:
        owners = await self.owners_for(requester, payload.get("owner") or None,
                                       payload.get("group") or None)
        if not self.subscribers:  # nobody followed the revision while no one listened
            async with self._publishing:
                self.revision = await self.store.revision()
        self.subscribers.setdefault(str(iq["from"]), set()).update(owners)
        return None

    async def _unsubscribe(self, iq: Iq, _payload: ET.Element, _requester: str) -> None:
        self.subscribers.pop(str(iq["from"]), None)
        return None

    # --- export ------------------------------------------------------------------------------------

    async def export(self, requester: str, query: JournalQuery, fmt: str) -> str:
        """Render a view as CSV or printable HTML, upload it, return the download URL."""
        if fmt not in ("csv", "html"):
            raise bad(f"format must be csv or html, not {fmt!r}")
        query.limit = 100_000
        rows, _total, notes = await self.entries(requester, query)
        body = render_csv(rows, notes) if fmt == "csv" else render_html(rows, notes, requester)
        data = body.encode()
        upload = JID(f"upload.{self.settings.domain}/journal")  # a bare JID would hit ejabberd #4336
        try:
            slot = await self.plugin["xep_0363"].request_slot(
                upload, f"journal.{fmt}", len(data),
                "text/csv" if fmt == "csv" else "text/html", ifrom=self.boundjid, timeout=10)
        except (IqError, IqTimeout) as exc:
            raise XMPPError("service-unavailable", etype="wait",
                            text="the server's file upload refused the export") from exc
        put = slot["http_upload_slot"]["put"]["url"]
        request = urllib.request.Request(put, data=data, method="PUT", headers={
            "Content-Type": "text/csv" if fmt == "csv" else "text/html"})
        await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=30).read())
        return str(slot["http_upload_slot"]["get"]["url"])

    async def _export(self, _iq: Iq, payload: ET.Element, requester: str) -> ET.Element:
        url = await self.export(requester, parse_query(payload), payload.get("format", "csv"))
        return ET.Element(f"{{{NS}}}export", {"url": url})


class _RoomOccupant(MatcherBase):  # type: ignore[misc]
    """Presences that carry a room's occupant information (XEP-0045 ``muc#user``)."""

    def match(self, xml: Any) -> bool:
        element = xml if isinstance(xml, ET.Element) else xml.xml
        return element.tag.endswith("}presence") and element.find(f"{{{self._criteria}}}x") is not None


class _ServiceLogCopy(MatcherBase):  # type: ignore[misc]
    """Messages from the server that carry a forwarded copy (``mod_service_log``)."""

    def match(self, xml: Any) -> bool:
        element = xml if isinstance(xml, ET.Element) else xml.xml
        return element.tag.endswith("}message") and element.find(f"{{{self._criteria}}}forwarded") is not None


COLUMNS = ("start", "kind", "direction", "peer", "result", "duration_s", "messages_in",
           "messages_out", "preview", "notes")


def _cells(entry: JournalEntry, notes: Sequence[Any]) -> list[str]:
    start = entry.started_at if entry.started_at.tzinfo else entry.started_at.replace(tzinfo=dt.UTC)
    return [start.strftime("%Y-%m-%d %H:%M:%S"), entry.kind, entry.direction, entry.peer, entry.result,
            str(entry.duration_s), str(entry.messages_in), str(entry.messages_out), entry.preview,
            " | ".join(f"{n.author}: {n.text}" for n in notes)]


def render_csv(rows: Sequence[JournalEntry], notes: dict[int, list[Any]]) -> str:
    """A CSV file spreadsheets open (UTF-8 with BOM, one header row, times in UTC)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(_cells(row, notes.get(row.id, [])))
    return out.getvalue()


def render_html(rows: Sequence[JournalEntry], notes: dict[int, list[Any]], requester: str) -> str:
    """A printable HTML page of the view."""
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(
        row, notes.get(row.id, []))) + "</tr>" for row in rows)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Journal</title><style>"
            "body{font-family:sans-serif}table{border-collapse:collapse;width:100%}"
            "td,th{border:1px solid #999;padding:2px 6px;font-size:10pt;text-align:left}"
            "@media print{th{background:#ddd}}</style></head><body>"
            f"<h1>Journal of {html.escape(requester)}</h1><p>{len(rows)} entries, times in UTC</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>")
