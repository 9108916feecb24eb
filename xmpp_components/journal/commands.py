"""The journal for any XMPP client: XEP-0050 commands with XEP-0004 forms.

Gajim, poezio or Conversations users get their recent entries, search and filter, add notes and
export a view, without our terminal client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slixmpp import JID
from slixmpp.exceptions import XMPPError

from xmpp_components.base import Command, Field, Result

from .protocol import PERIODS, JournalQuery, bad, period_bounds
from .store import KINDS

if TYPE_CHECKING:
    from .component import JournalComponent

TABLE = (("start", "Time (UTC)"), ("kind", "Type"), ("direction", "Dir"), ("peer", "Contact"),
         ("result", "Result"), ("duration", "Duration"), ("preview", "Last message"),
         ("id", "Entry"))


def _rows(entries: list[Any], notes: dict[int, list[Any]]) -> list[dict[str, str]]:
    rows = []
    for entry in entries:
        marker = " ✎" if notes.get(entry.id) else ""
        duration = (f"{entry.duration_s // 60}:{entry.duration_s % 60:02d}"
                    if entry.kind in ("audio", "video", "screen", "call") and entry.result == "answered"
                    else entry.result if entry.result in ("missed", "declined", "failed") else "")
        rows.append({"start": entry.started_at.strftime("%Y-%m-%d %H:%M"), "kind": entry.kind,
                     "direction": "→" if entry.direction == "out" else "←", "peer": entry.peer,
                     "result": entry.result, "duration": duration,
                     "preview": (entry.preview[:60] + marker), "id": str(entry.id)})
    return rows


def _query(values: dict[str, Any]) -> JournalQuery:
    query = JournalQuery(owner=values.get("owner") or None, group=values.get("group") or None,
                         text=values.get("text") or None, peer=values.get("peer") or None)
    query.start, query.end = period_bounds(values.get("period") or "week")
    kind = values.get("kind") or ""
    query.kinds = [] if kind in ("", "any") else [kind]
    if values.get("missed") in (True, "1", "true"):
        query.result = "missed"
    return query


def publish_commands(component: JournalComponent) -> None:
    """Offer the journal's commands."""
    view_fields = (
        Field("period", "Period", type="list-single", options=PERIODS, default="week"),
        Field("kind", "Type", type="list-single", options=("any", *KINDS), default="any"),
        Field("missed", "Missed only", type="boolean", default="false"),
        Field("peer", "Contact (address or part of it)"),
        Field("text", "Text in previews and notes"),
        Field("owner", "Whose journal (empty: mine)", desc="needs a grant for someone else's"),
        Field("group", "Group journal (shared-roster group)", desc="needs a grant"),
    )

    async def recent(requester: JID, _values: dict[str, Any]) -> Result:
        query = JournalQuery(limit=20)
        rows, total, notes = await component.entries(requester.bare, query)
        return Result(note=f"Your latest {len(rows)} of {total} entries.", columns=TABLE,
                      rows=_rows(rows, notes))

    async def search(requester: JID, values: dict[str, Any]) -> Result:
        query = _query(values)
        query.limit = 100
        rows, total, notes = await component.entries(requester.bare, query)
        return Result(note=f"{total} entries match; showing {len(rows)}.", columns=TABLE,
                      rows=_rows(rows, notes))

    async def note(requester: JID, values: dict[str, Any]) -> Result:
        try:
            entry_id = int(values["entry"])
        except (TypeError, ValueError):
            raise bad("Entry must be the number shown in the Entry column") from None
        entry = await component.store.entry(entry_id)
        if entry is None:
            raise bad(f"there is no journal entry {entry_id}")
        await component.owners_for(requester.bare, entry.owner, None, write=True)
        note_id = await component.store.add_note(entry_id, requester.bare, values["text"])
        await component.publish_changes()
        return Result(note=f"Note {note_id} added to entry {entry_id}.")

    async def export(requester: JID, values: dict[str, Any]) -> Result:
        url = await component.export(requester.bare, _query(values), values.get("format") or "csv")
        return Result(note="Your export is ready.", values={"url": url})

    async def grant(requester: JID, values: dict[str, Any]) -> Result:
        if requester.bare not in component.settings.admin_list():
            raise XMPPError("forbidden", etype="auth",
                            text="only administrators may change journal permissions")
        for name in ("grantee", "subject"):
            if not (values[name].startswith("group:") or "@" in values[name]):
                raise bad(f"{name} must be user@domain or group:<name>")
        if values.get("action") == "revoke":
            found = await component.store.revoke(values["grantee"], values["subject"])
            return Result(note="Revoked." if found else "There was no such grant.")
        write = values.get("write") in (True, "1", "true")
        await component.store.grant(values["grantee"], values["subject"], True, write)
        return Result(note=f"{values['grantee']} may now read{' and annotate' if write else ''} "
                           f"the journal of {values['subject']}.")

    commands = component.commands
    commands.publish(Command("grant", "Journal: permissions (administrators)", (
        Field("action", "Action", type="list-single", options=("grant", "revoke"), default="grant"),
        Field("grantee", "Who (user@domain or group:Name)", required=True),
        Field("subject", "Whose journal (user@domain or group:Name)", required=True),
        Field("write", "May add notes", type="boolean", default="false")), grant))
    commands.publish(Command("recent", "Journal: recent entries", (), recent))
    commands.publish(Command("search", "Journal: search and filter", view_fields, search,
                             instructions="Choose what to see; empty fields do not filter."))
    commands.publish(Command("note", "Journal: add a note", (
        Field("entry", "Entry (number from a list)", required=True),
        Field("text", "Note", type="text-multi", required=True)), note))
    commands.publish(Command("export", "Journal: export (CSV or HTML)", (
        Field("format", "Format", type="list-single", options=("csv", "html"), default="csv"),
        *view_fields), export))
